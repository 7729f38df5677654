"""The 3 a.m. path in Chromium (issue 11): an officer sends an emergency from the portal (the
good-faith statement ticked), the on-call mail goes out, the agent's home shows it at once
(live, the tab title changes), and the fast path takes it to release in the counted presses
by two people, each page following the other's presses by itself; the officer downloads.
Then the same officer answers a "needs information" message with the missing page, and the
agent sees it. (One walk: demo accounts sign in once per 30-second TOTP step.)

Screenshots at 1280 and 390 px of the portal form and request page and of the fast path go to
test-artifacts/browser/ (emergency-*.png)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.live_server import ROOT, LiveServer
from tests.browser.needs_info_request import ASKED
from tests.browser.test_sign_in_flow import path_is, sign_in_demo
from tests.requests.fixtures import Mailbox, smtp_server  # noqa: F401 (smtp_server: a fixture)
from tests.requests.helpers import pdf_bytes

pytestmark = pytest.mark.browser

OFFICER = "det.rivera@metrocity-pd.example"
AGENT, SUPERVISOR = "agent@referrals.example", "supervisor@referrals.example"
ONCALL = "oncall-walk@referrals.example"
LINE = "+1 202 555 0199"
NARROW = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, smtp_server):  # noqa: F811 (overrides the shared server)
    smtp_server.handler.clear()
    server = LiveServer(tmp_path_factory.mktemp("emergency-walk"), extra_env={
        "REFERRALS_SMTP_HOST": "127.0.0.1",
        "REFERRALS_SMTP_PORT": str(smtp_server.port),
        "REFERRALS_SMTP_STARTTLS": "0",
        "REFERRALS_ONCALL_EMAILS": ONCALL,
        "REFERRALS_EMERGENCY_LINE": LINE,
        # Mail, the collection and the package build run in the request, after its commit.
        "REFERRALS_JOBS_IMMEDIATE": "1",
    })
    with server:
        yield server
    smtp_server.handler.clear()


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"emergency-{name}.png"), full_page=True)


def shoot_narrow(page: Page, name: str) -> None:
    page.set_viewport_size(NARROW)
    shoot(page, f"{name}-390")
    page.set_viewport_size(WIDE)
    shoot(page, f"{name}-1280")


class Presses:
    """Counts what each person does from the emergency's arrival to its release: each link
    followed and each button pressed (typing the call-back's outcome is not a press)."""

    def __init__(self):
        self.count: dict[str, int] = {}

    def click(self, who: str, locator) -> None:
        self.count[who] = self.count.get(who, 0) + 1
        locator.click()


def test_an_emergency_from_the_portal_to_release_in_seven_presses(new_page, live_server,
                                                                  smtp_server):  # noqa: F811
    mailbox: Mailbox = smtp_server.handler
    presses = Presses()

    agent = new_page(viewport=WIDE)
    sign_in_demo(agent, AGENT)
    expect(agent).to_have_url(path_is("/dashboard"))
    calm_title = agent.title()

    # --- the officer ------------------------------------------------------------------
    officer = new_page(viewport=WIDE, accept_downloads=True)
    sign_in_demo(officer, OFFICER)
    expect(officer.locator("#emergency-line")).to_contain_text(LINE)
    officer.goto("/portal/requests/emergency")
    form = officer.locator("form").last
    form.get_by_label("The emergency").fill(
        "Made-up caller says they will hurt a made-up person at a made-up address tonight.")
    form.get_by_label("Who is at risk").fill("A made-up adult, first name Sam")
    form.get_by_label("Why this data helps").fill(
        "Recent log-in IP addresses of the made-up account locate the caller.")
    form.locator("#target_kind_0").select_option("username")
    form.locator("#target_value_0").fill("made_up_walk_caller")
    form.get_by_label("Subscriber information").check()
    form.get_by_label("Log-in / log-out data (with IP addresses)").check()
    today = date.today()
    form.get_by_label("From", exact=True).fill((today - timedelta(days=7)).isoformat())
    form.get_by_label("To", exact=True).fill(today.isoformat())
    form.get_by_label("Phone", exact=True).fill("+1 202 555 0142")
    # Without the good-faith statement it is refused, plainly; what was typed stays.
    officer.click("#submit-emergency")
    expect(officer.locator("#good-faith")).to_contain_text("Tick the good-faith statement")
    expect(officer.get_by_label("Who is at risk")).to_have_value("A made-up adult, first name Sam")
    assert mailbox.to(ONCALL) == []
    shoot_narrow(officer, "portal-form-refused")
    officer.locator("#good_faith_attested").check()
    officer.click("#submit-emergency")
    expect(officer).to_have_url(re.compile(r".*/portal/requests/REQ-\d{4}-\d{6}$"))
    reference = officer.url.rsplit("/", 1)[1]
    expect(officer.locator("#attestation")).to_contain_text("in good faith")
    expect(officer.locator("#emergency-narrative")).to_contain_text("Made-up caller")
    shoot_narrow(officer, "portal-request")

    # --- the on-call mail, and the agent's home at once ----------------------------------
    [alert] = [m for m in mailbox.to(ONCALL) if m["Subject"] == f"EMERGENCY request {reference}"]
    assert f"/requests/{reference}/emergency" in Mailbox.body(alert)
    row = agent.locator(f".work-emergencies li[data-key='request:{reference}']")
    expect(row).to_be_visible(timeout=15_000)  # refreshed by itself, no reload
    expect(agent).to_have_title(re.compile(r"New emergency"))
    assert agent.title() != calm_title

    # --- the fast path: agent ------------------------------------------------------------
    presses.click("agent", row.get_by_role("link", name=reference))
    expect(agent).to_have_url(path_is(f"/requests/{reference}/emergency"))
    shoot_narrow(agent, "fast-path-arrival")
    agent.get_by_label("Who answered and what they confirmed").fill(
        "Made-up duty sergeant on the registry number confirmed Det. Rivera and the emergency.")
    presses.click("agent", agent.locator("#record-callback"))
    expect(agent.locator("#step-callback")).to_contain_text("Done")
    presses.click("agent", agent.locator("#prepare-decisions"))
    expect(agent.locator("#step-decisions")).to_contain_text("Done")
    expect(agent.locator("#approve")).to_have_count(0)  # not for whoever prepared

    # --- the approver ------------------------------------------------------------------
    boss = new_page(viewport=WIDE)
    sign_in_demo(boss, SUPERVISOR)
    presses.click("supervisor", boss.locator(
        f".work-emergencies li[data-key='request:{reference}']").get_by_role("link",
                                                                             name=reference))
    expect(boss).to_have_url(path_is(f"/requests/{reference}/emergency"))
    presses.click("supervisor", boss.locator("#approve"))
    expect(boss.locator("#step-approval")).to_contain_text("Done")

    # The agent's page follows the approval by itself; the agent collects.
    expect(agent.locator("#collect")).to_be_visible(timeout=15_000)
    presses.click("agent", agent.locator("#collect"))
    expect(agent.locator("#step-collection")).to_contain_text("Done")
    expect(agent.locator("#release")).to_have_count(0)

    # The approver's page follows the collection by itself; the approver releases.
    expect(boss.locator("#release")).to_be_visible(timeout=15_000)
    presses.click("supervisor", boss.locator("#release"))
    # The package is built in the background; the page follows it and shows it ready.
    expect(boss.locator("#package-status")).to_have_text("Ready", timeout=90_000)
    expect(boss.locator("#step-release")).to_contain_text("The officer was told")
    shoot_narrow(boss, "fast-path-released")

    assert presses.count == {"agent": 4, "supervisor": 3}  # README: 7 presses, two people

    # --- the officer downloads -----------------------------------------------------------
    officer.reload()
    panel = officer.locator("#packages")
    expect(panel).to_be_visible()
    key_button = panel.locator("[id^=show-key-]")
    if key_button.count():  # no agency key on file: the one-time key, once
        key_button.click()
        expect(officer.locator("#one-time-key")).to_contain_text("AGE-SECRET-KEY-1")
        officer.get_by_role("link", name="I have saved the key").click()
    with officer.expect_download() as download:
        panel.locator("[id^=download-]").first.click()
    assert download.value.suggested_filename == f"{reference}-P1.tar.age"

    # --- the officer answers "needs information" with the missing page -------------------
    waiting = subprocess.run(
        [sys.executable, "-m", "tests.browser.needs_info_request"], cwd=ROOT,
        env=live_server.env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout.strip().splitlines()[-1]
    officer.goto(f"/portal/requests/{waiting}")
    asked = officer.locator("#needs-info")
    expect(asked).to_contain_text(ASKED)
    shoot_narrow(officer, "portal-needs-info")
    asked.get_by_label("Your answer").fill("Page 2 attached (made up).")
    asked.locator("#answer-documents").set_input_files(
        {"name": "warrant-page-2.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes(1)})
    asked.locator("#send-answer").click()
    expect(officer.get_by_text("Answer sent: the LER team checks your request again.")).to_be_visible()
    expect(officer.locator("#needs-info")).to_have_count(0)
    expect(officer.locator("#documents")).to_contain_text("warrant-page-2.pdf")
    shoot_narrow(officer, "portal-answered")

    agent.goto(f"/requests/{waiting}")
    expect(agent.locator("#request-status")).to_have_text("Verifying")
    expect(agent.get_by_text("Page 2 attached (made up).")).to_be_visible()
    expect(agent.get_by_role("link", name="warrant-page-2.pdf")).to_be_visible()
