"""Issue 4, walked in Chromium: an officer registers in the agency portal with an address on
a verified agency domain, confirms it from the link in a message a real local SMTP server
received, enrols an authenticator, and is approved by the LER team; submits a search
warrant with its PDF; an agent prepares the decisions, a supervisor approves them, and the
officer sees the new status in the portal.

Along the way: before approval the officer cannot submit, and is told so in plain words;
the agent who prepared the decisions has no way to approve them; the e-mail telling the
officer about the approval says only that there is an update.

This module runs its own server (``live_server`` below overrides the shared one): its mail
goes to the aiosmtpd server of tests/requests/fixtures.py, and its jobs run at once, so a
message has arrived by the time the page that caused it has loaded. Its database is its own
too, so the demo staff signing in here spend no TOTP code the other browser tests need.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from referrals.accounts.models import UNCONFIRMED_MESSAGE
from tests.browser.helpers import path_is, unique
from tests.browser.live_server import LiveServer, totp_code
from tests.browser.test_sign_in_flow import password_step, sign_in_demo
from tests.requests.fixtures import Mailbox, smtp_server  # noqa: F401 (smtp_server: a fixture)
from tests.requests.helpers import pdf_bytes

pytestmark = pytest.mark.browser

AGENCY = "Metro City Police Department"   # demo agency, domain metrocity-pd.example verified
AGENT = "agent@referrals.example"
SUPERVISOR = "supervisor@referrals.example"
NOT_APPROVED = ("Your account is waiting for approval by the LER team. You can submit "
                "requests once it is approved.")
CONFIRM_LINK = re.compile(r"(https?://\S+/portal/confirm/[A-Za-z0-9._-]+)")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, smtp_server):  # noqa: F811 (overrides the shared server)
    """A server of this module's own whose mail reaches the local SMTP server."""
    smtp_server.handler.clear()
    server = LiveServer(tmp_path_factory.mktemp("portal-walk-instance"), extra_env={
        "REFERRALS_SMTP_HOST": "127.0.0.1",
        "REFERRALS_SMTP_PORT": str(smtp_server.port),
        "REFERRALS_SMTP_STARTTLS": "0",
        # Mail is queued after the commit; run the job in the request rather than in a
        # worker this test would also have to start (the test environment's default too).
        "REFERRALS_JOBS_IMMEDIATE": "1",
    })
    with server:
        yield server
    smtp_server.handler.clear()


@pytest.fixture
def mailbox(smtp_server) -> Mailbox:  # noqa: F811
    return smtp_server.handler


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=f"/tmp/portal-{name}.png", full_page=True)


def only_message(mailbox: Mailbox, address: str, subject: str, live_server):
    found = [m for m in mailbox.to(address) if m["Subject"] == subject]
    assert len(found) == 1, (
        f"expected one {subject!r} to {address}, got "
        f"{[m['Subject'] for m in mailbox.to(address)]}\n"
        f"server log:\n{live_server.log.read_text()}")
    return found[0]


def fill_search_warrant(page: Page, *, target: str, pdf: bytes) -> None:
    """The new-request form, filled as an officer would for a search warrant."""
    page.get_by_label("Type of legal process").select_option(label="Search warrant")
    page.get_by_label("Addressed to").select_option("us")
    page.get_by_label("Issuing court or authority").fill("Made-up County Superior Court")
    page.get_by_label("Legal basis cited").fill(
        "Search warrant no. SW-26-0117 (synthetic), 18 U.S.C. 2703(a)")
    page.get_by_label("Offences and circumstances").fill(
        "Synthetic burglary series; the account is made up for a browser test.")
    page.get_by_label("Legal process (PDF)").set_input_files(
        {"name": "search-warrant.pdf", "mimeType": "application/pdf", "buffer": pdf})
    page.get_by_label("Phone", exact=True).fill("+1 202 555 0142")
    page.locator("#target_kind_0").select_option("username")
    page.locator("#target_value_0").fill(target)
    page.get_by_label("Subscriber information").check()
    page.get_by_label("Log-in / log-out data (with IP addresses)").check()
    today = date.today()
    page.get_by_label("From", exact=True).fill((today - timedelta(days=60)).isoformat())
    page.get_by_label("To", exact=True).fill((today - timedelta(days=1)).isoformat())


def test_officer_registers_is_approved_submits_and_sees_the_approval(new_page, live_server,
                                                                      mailbox):
    tag = unique()
    email = f"det.walker.{tag}@metrocity-pd.example"
    full_name = "Det. Dana Walker"
    password = f"walker {tag} patrols the quiet river"
    target = f"made_up_suspect_{tag}"
    warrant_pdf = pdf_bytes(2)

    # --- registration ------------------------------------------------------------------
    officer = new_page()
    officer.goto("/portal/register")
    expect(officer.get_by_role("heading", name="Register as an officer")).to_be_visible()
    officer.get_by_label("Official e-mail address").fill(email)
    officer.get_by_label("Full name").fill(full_name)
    officer.get_by_label("Badge or warrant number").fill("MC-4471")
    officer.get_by_label("Password", exact=True).fill(password)
    screenshot(officer, "01-register")
    officer.get_by_role("button", name="Register").click()
    expect(officer.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    expect(officer.locator("main")).to_contain_text(email)

    # Unconfirmed, the right password is refused with a plain message.
    password_step(officer, email, password)
    expect(officer).to_have_url(path_is("/login"))
    expect(officer.get_by_text(UNCONFIRMED_MESSAGE)).to_be_visible()

    # --- the confirmation link, from the message the SMTP server received ----------------
    confirmation = only_message(mailbox, email, "Confirm your e-mail address", live_server)
    match = CONFIRM_LINK.search(Mailbox.body(confirmation))
    assert match, Mailbox.body(confirmation)
    link = match.group(1)
    assert link.startswith(live_server.url + "/portal/confirm/")
    officer.goto(link)
    expect(officer).to_have_url(path_is("/login"))
    expect(officer.get_by_text("Your e-mail address is confirmed.")).to_be_visible()

    # --- first sign-in: an authenticator is enrolled from the key on the page -------------
    password_step(officer, email, password)
    expect(officer).to_have_url(path_is("/tf-setup"))
    expect(officer.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    start = officer.locator("#start-setup")
    if start.count():
        start.click()
    expect(officer.locator("img#qrcode")).to_be_visible()
    key = re.sub(r"\s+", "", officer.locator("#totp-key").inner_text())
    assert re.fullmatch(r"[A-Z2-7]{16,}", key), key
    screenshot(officer, "02-enrol")
    officer.get_by_label("6-digit code").fill(totp_code(key))
    officer.get_by_role("button", name="Finish set-up").click()

    expect(officer).to_have_url(path_is("/portal/"))
    expect(officer.locator(".whoami")).to_contain_text(full_name)
    expect(officer.locator("main")).to_contain_text(AGENCY)
    expect(officer.locator("#awaiting-approval")).to_contain_text("Waiting for approval")

    # --- before approval: a complete request is refused, in plain words ------------------
    officer.get_by_role("link", name="New request", exact=True).first.click()
    expect(officer).to_have_url(path_is("/portal/requests/new"))
    expect(officer.get_by_role("status").filter(has_text="Waiting for approval")).to_be_visible()
    fill_search_warrant(officer, target=target, pdf=warrant_pdf)
    screenshot(officer, "03a-new-request-unapproved")
    officer.get_by_role("button", name="Submit request").click()
    expect(officer.get_by_role("alert").filter(has_text=NOT_APPROVED)).to_be_visible()
    screenshot(officer, "03b-new-request-refused")
    officer.goto("/portal/")
    expect(officer.get_by_text("No requests yet.")).to_be_visible()

    # --- LER staff approve the officer, in a browser of their own -------------------------
    supervisor = new_page()
    sign_in_demo(supervisor, SUPERVISOR)
    expect(supervisor).to_have_url(path_is("/dashboard"))
    supervisor.get_by_role("navigation", name="Main").get_by_role("link", name="Agencies").click()
    expect(supervisor.get_by_role("heading", name="Agencies", level=1)).to_be_visible()
    pending = supervisor.locator("#pending-officers").get_by_role("row").filter(has_text=email)
    expect(pending).to_contain_text(full_name)
    expect(pending).to_contain_text(AGENCY)
    expect(pending).to_contain_text("MC-4471")
    screenshot(supervisor, "04-staff-pending-officer")
    pending.get_by_role("button", name="Approve").click()
    expect(supervisor.get_by_role("status").filter(has_text=f"{email} approved.")).to_be_visible()
    expect(supervisor.get_by_role("row").filter(has_text=email)).to_have_count(0)

    approval = only_message(mailbox, email, "Your portal account is approved", live_server)
    assert f"{live_server.url}/portal/" in Mailbox.body(approval)

    # --- the officer submits the search warrant --------------------------------------------
    officer.goto("/portal/")
    expect(officer.locator("#awaiting-approval")).to_have_count(0)
    officer.get_by_role("link", name="New request", exact=True).first.click()
    expect(officer.get_by_text("Waiting for approval")).to_have_count(0)
    # What the officer is signed in as is filled in for them.
    expect(officer.get_by_label("Officer name")).to_have_value(full_name)
    expect(officer.get_by_label("Official e-mail")).to_have_value(email)
    fill_search_warrant(officer, target=target, pdf=warrant_pdf)
    screenshot(officer, "05-new-request")
    officer.get_by_role("button", name="Submit request").click()

    received = officer.get_by_role("status").filter(
        has_text=re.compile(r"Request REQ-\d{4}-\d{6} received\."))
    expect(received).to_be_visible()
    reference = re.search(r"REQ-\d{4}-\d{6}", received.inner_text()).group(0)
    expect(officer).to_have_url(path_is(f"/portal/requests/{reference}"))
    expect(officer.get_by_role("heading", name=reference, level=1)).to_be_visible()
    expect(officer.locator("#request-status")).to_have_text("Received")
    expect(officer.locator("main")).to_contain_text("Search warrant")
    expect(officer.locator("main")).to_contain_text(target)
    screenshot(officer, "06-officer-request-received")

    # --- an agent takes it and prepares the decisions ------------------------------------
    agent = new_page()
    sign_in_demo(agent, AGENT)
    agent.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
    agent.get_by_role("link", name=reference).click()
    expect(agent).to_have_url(path_is(f"/requests/{reference}"))
    expect(agent.locator("#request-status")).to_have_text("Received")
    expect(agent.locator("main")).to_contain_text("search-warrant.pdf")
    expect(agent.locator("main")).to_contain_text("2 pages")
    agent.get_by_role("button", name="Take this request").click()
    expect(agent.get_by_role("status").filter(has_text="The request is yours.")).to_be_visible()

    for status in ("Verifying", "Legal review"):
        agent.get_by_label("Move to").select_option(label=status)
        agent.get_by_role("button", name="Change status").click()
        expect(agent.get_by_role("status").filter(has_text="Status changed.")).to_be_visible()
        expect(agent.locator("#request-status")).to_have_text(status)

    agent.get_by_label(f"Decision for {target}").select_option(label="Produce")
    agent.get_by_role("button", name="Save decisions").click()
    expect(agent.get_by_role("status").filter(
        has_text="Decisions saved. Another supervisor must approve them.")).to_be_visible()
    expect(agent.get_by_label(f"Decision for {target}")).to_have_value("produce")
    expect(agent.locator("#decisions")).to_contain_text("Prepared")

    # Whoever prepared cannot approve: no control for it, and a forged post is refused.
    expect(agent.get_by_role("button", name="Approve")).to_have_count(0)
    expect(agent.locator("#decisions")).to_contain_text(
        "Whoever prepares the decisions cannot approve them")
    screenshot(agent, "07-staff-request-prepared")
    token = agent.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = agent.request.post(f"/requests/{reference}/approve", form={"csrf_token": token},
                                max_redirects=0)
    assert forged.status == 403, forged.status
    assert "Your account does not have access to this page." in forged.text()
    agent.reload()
    expect(agent.locator("#request-status")).to_have_text("Legal review")

    # Nothing so far was worth a message to the officer.
    assert not [m for m in mailbox.to(email) if m["Subject"] == "An update on your request"]

    # --- a supervisor, who did not prepare it, approves ----------------------------------
    supervisor.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
    supervisor.get_by_role("link", name=reference).click()
    expect(supervisor.locator("#request-status")).to_have_text("Legal review")
    supervisor.get_by_role("button", name="Approve").click()
    expect(supervisor.get_by_role("status").filter(has_text="Approved.")).to_be_visible()
    expect(supervisor.locator("#request-status")).to_have_text("Approved")
    expect(supervisor.get_by_role("button", name="Approve")).to_have_count(0)
    screenshot(supervisor, "08-staff-request-approved")

    # The officer is told there is an update, and nothing of the request itself.
    update = only_message(mailbox, email, "An update on your request", live_server)
    body = Mailbox.body(update)
    assert body == (f"There is an update on request {reference}. Sign in to the portal to "
                    f"read it:\n\n{live_server.url}/portal/requests/{reference}\n"), body
    for content in (target, "Approved", "collecting", "warrant", "Made-up County",
                    "burglary", "SW-26-0117", "Subscriber", full_name):
        assert content.lower() not in body.lower(), content

    # --- back in the portal, the officer sees the new status -----------------------------
    officer.goto("/portal/")
    row = officer.get_by_role("row").filter(has_text=reference)
    expect(row).to_contain_text("Approved")
    row.get_by_role("link", name=reference).click()
    expect(officer).to_have_url(path_is(f"/portal/requests/{reference}"))
    expect(officer.locator("#request-status")).to_have_text("Approved")
    expect(officer.locator(".timeline")).to_contain_text(
        "Status: Approved. We are collecting the data.")
    expect(officer.locator(".timeline")).to_contain_text("LER team")
    # Staff names stay out of the portal.
    expect(officer.locator("main")).not_to_contain_text("Morgan Supervisor")
    expect(officer.locator("main")).not_to_contain_text("Jordan Agent")
    screenshot(officer, "09-officer-request-approved")
