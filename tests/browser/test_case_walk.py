"""Issue 3, walked in a browser: an escalation arrives through the API, an agent takes it
from the unassigned queue, adds evidence, a note and a status change, and sees each step;
an identifier shared with another case is pointed out; media that may be abuse material
is hidden from an agent who is not cleared, and veiled for one who is.

The people are made for this module (an administrator from the command line, two agents
created by that administrator), so no demo account's one-use TOTP code is spent here
that the sign-in tests need in the same 30 seconds.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ConsoleLog
from tests.browser.helpers import (StaffAccount, api_token, create_admin_with_cli,
                                   create_staff_account, enrol_newcomer, escalation_body,
                                   path_is, post_escalation, unique)

pytestmark = pytest.mark.browser

SCREENSHOTS = "/tmp"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Team:
    admin: StaffAccount
    agent: StaffAccount           # cleared for abuse material, like the demo agent
    uncleared_agent: StaffAccount
    escalation_token: str


@pytest.fixture(scope="module")
def team(browser, live_server) -> Team:
    """An admin (made with the CLI) who creates two agents in the admin pages; each
    enrols an authenticator, and their signed-in sessions are kept for the tests."""
    console = ConsoleLog()
    contexts = []

    def open_page() -> Page:
        context = browser.new_context(base_url=live_server.url,
                                      viewport={"width": 1280, "height": 800})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        console.watch(page)
        return page

    tag = unique()
    try:
        admin_email = f"walk-admin-{tag}@referrals.example"
        admin_password = f"walk admin {tag} keeps the harbour lights"
        admin_page = open_page()
        admin_key = enrol_newcomer(admin_page, admin_email,
                                   create_admin_with_cli(live_server, admin_email, "Wren Walkadmin"),
                                   admin_password)
        admin = StaffAccount(admin_email, "Wren Walkadmin", admin_password, admin_key)

        def agent(full_name: str, cleared: bool) -> StaffAccount:
            email = f"{full_name.split()[0].lower()}-{tag}@referrals.example"
            password = f"{full_name.lower()} {tag} walks the northern cliffs"
            initial = create_staff_account(admin_page, email=email, full_name=full_name,
                                           role="Agent", cleared_for_csam=cleared)
            page = open_page()
            key = enrol_newcomer(page, email, initial, password)
            expect(page.locator(".whoami")).to_contain_text(full_name)
            return StaffAccount(email, full_name, password, key,
                                storage_state=page.context.storage_state())

        cleared = agent("Quinn Cleared", True)
        uncleared = agent("Ulla Uncleared", False)
        # The upstream system's token, held by an account the walk never signs in with: an
        # agent's, since a token may do only what its account's roles allow (an admin's
        # account may not hold escalations:write).
        pipeline_email = f"pipeline-{tag}@referrals.example"
        create_staff_account(admin_page, email=pipeline_email, full_name="Walk Pipeline",
                             role="Agent", cleared_for_csam=False)
        token = api_token(live_server, pipeline_email, "escalations:write")
    finally:
        for context in contexts:
            context.close()
    assert not console.problems, "browser console reported problems:\n" + "\n".join(console.problems)
    return Team(admin, cleared, uncleared, token)


# --- small steps ----------------------------------------------------------------------------


def file_escalation(live_server, team: Team, **overrides) -> str:
    """An escalation through the API that opens a new case; returns its reference."""
    status, answer = post_escalation(live_server, team.escalation_token, escalation_body(**overrides))
    assert status == 201, answer
    assert (answer["created"], answer["attached"], answer["duplicate"]) == (True, False, False), answer
    assert re.fullmatch(r"CASE-\d{4}-\d{6}", answer["case_reference"]), answer
    return answer["case_reference"]


def open_queue(page: Page, view: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases").click()
    page.get_by_role("navigation", name="Queues").get_by_role("link", name=view, exact=True).click()
    expect(page.get_by_role("navigation", name="Queues").get_by_role("link", name=view, exact=True)
           ).to_have_attribute("aria-current", "page")


def queue_row(page: Page, reference: str):
    return page.locator("table.queue tbody tr").filter(
        has=page.get_by_role("link", name=reference, exact=True))


def panel(page: Page, heading: str):
    """A case-page panel by its heading."""
    return page.locator("section.panel").filter(
        has=page.get_by_role("heading", name=heading, level=2, exact=True))


def synthetic_png(width: int = 240, height: int = 160) -> bytes:
    """A generated image of coloured noise on a gradient: nothing real."""
    from PIL import Image

    rng = random.Random(os.urandom(8))
    image = Image.new("RGB", (width, height))
    image.putdata([((x * 255) // width, (y * 255) // height, rng.randrange(256))
                   for y in range(height) for x in range(width)])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# --- the walk ---------------------------------------------------------------------------------


def test_escalation_is_taken_from_the_queue_and_worked_with_evidence_note_and_status(
        new_page, live_server, team):
    title = f"Job adverts suggesting forced labour {unique()}"
    reference = file_escalation(live_server, team, category="trafficking", priority="P2",
                                title=title, reason="user_report")
    agent = team.agent
    page = new_page(storage_state=agent.storage_state)
    page.goto("/dashboard")
    expect(page.locator(".whoami")).to_contain_text(agent.full_name)

    # 1. The new case waits in the unassigned queue, with its reference and priority.
    open_queue(page, "Unassigned")
    row = queue_row(page, reference)
    expect(row).to_have_count(1)
    expect(row.locator(".prio")).to_have_text("P2")
    expect(row).to_contain_text(title)
    cells = row.get_by_role("cell")
    expect(cells.nth(2)).to_have_text("Trafficking")
    expect(cells.nth(3)).to_have_text("New")
    expect(cells.nth(4)).to_have_text("—")
    row.scroll_into_view_if_needed()
    page.screenshot(path=f"{SCREENSHOTS}/walk-1-unassigned-queue.png", full_page=True)

    # 2. The agent opens it and takes it.
    row.get_by_role("link", name=reference).click()
    expect(page).to_have_url(path_is(f"/cases/{reference}"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    expect(panel(page, "Assignment")).to_contain_text("Nobody yet")
    expect(panel(page, "Timeline")).to_contain_text("Opened from escalation browser-test-classifier")
    page.get_by_role("button", name="Take this case").click()
    expect(page.get_by_role("status").filter(has_text="The case is yours.")).to_be_visible()
    expect(panel(page, "Assignment").locator("strong")).to_have_text(agent.full_name)
    expect(page.get_by_role("button", name="Take this case")).to_have_count(0)
    expect(page.locator("#case-status")).to_have_text("Triage")
    expect(page.locator(".timeline .event-assigned").first).to_contain_text(
        f"{agent.full_name} took the case.")

    # … so it is in "Mine" with the agent as assignee, and no longer unassigned.
    open_queue(page, "Mine")
    row = queue_row(page, reference)
    expect(row).to_have_count(1)
    expect(row.get_by_role("cell").nth(4)).to_have_text(agent.full_name)
    expect(row.get_by_role("cell").nth(3)).to_have_text("Triage")
    page.screenshot(path=f"{SCREENSHOTS}/walk-2-mine-queue.png", full_page=True)
    open_queue(page, "Unassigned")
    expect(page.locator("table.queue")).to_be_visible()
    expect(queue_row(page, reference)).to_have_count(0)

    # 3. Evidence from the case page: stored with its SHA-256 and a custody event.
    open_queue(page, "Mine")
    queue_row(page, reference).get_by_role("link", name=reference).click()
    # Not text, and no known file signature: stored as application/octet-stream.
    content = b"SYNTHETIC-EXPORT\x00" + os.urandom(3000)
    sha256 = hashlib.sha256(content).hexdigest()
    evidence = panel(page, "Evidence")
    expect(evidence).to_contain_text("No evidence yet.")
    evidence.get_by_label("File").set_input_files(files=[{
        "name": "chat-export.bin", "mimeType": "application/octet-stream", "buffer": content}])
    evidence.get_by_label("Description").fill("Synthetic export of the advert's messages")
    evidence.get_by_role("button", name="Upload").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("chat-export.bin")
    expect(page.get_by_role("status").filter(has_text=sha256)).to_be_visible()
    facts = page.locator("dl.facts")
    expect(facts.locator("div").filter(has_text="SHA-256").locator("dd")).to_have_text(sha256)
    expect(facts.locator("div").filter(has_text="Size").locator("dd")).to_have_text(
        f"{len(content):,} bytes")
    # The custody record names people by their account (e-mail), the timeline by name.
    expect(facts.locator("div").filter(has_text="Captured").locator("dd")).to_contain_text(
        f"by {agent.email}")
    custody = page.locator("#custody tbody tr")
    expect(custody).to_have_count(1)
    expect(custody.get_by_role("cell").nth(1)).to_have_text("collected")
    expect(custody.get_by_role("cell").nth(2)).to_have_text(agent.email)
    expect(custody.get_by_role("cell").nth(4)).to_have_text(f"{sha256[:16]}…")
    page.screenshot(path=f"{SCREENSHOTS}/walk-3-evidence-item.png", full_page=True)

    page.locator(".crumbs").get_by_role("link", name=reference).click()
    expect(page).to_have_url(path_is(f"/cases/{reference}"))
    evidence_row = panel(page, "Evidence").locator("tbody tr")
    expect(evidence_row).to_have_count(1)
    expect(evidence_row.get_by_role("link", name="chat-export.bin")).to_be_visible()
    expect(evidence_row.locator("code")).to_have_attribute("title", sha256)
    expect(page.locator(".timeline .event-evidence").first).to_contain_text(
        f"Evidence added: chat-export.bin (application/octet-stream, {len(content):,} bytes, "
        f"SHA-256 {sha256[:16]}…).")

    # 4. A note, in the timeline.
    note = f"Called the platform's trust team; adverts preserved ({unique('note-')})."
    timeline = panel(page, "Timeline")
    timeline.get_by_label("Note").fill(note)
    timeline.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("status").filter(has_text="Note added.")).to_be_visible()
    newest = page.locator(".timeline li.event").first
    expect(newest).to_have_class(re.compile(r"\bevent-note\b"))
    expect(newest.locator(".event-body")).to_have_text(note)
    expect(newest.locator(".event-meta")).to_contain_text(agent.full_name)

    # 5. A status change the rules allow (triage → investigating), in the timeline too.
    status_panel = panel(page, "Status")
    # Nothing is preselected: "Change status" on its own is stopped by the browser.
    expect(status_panel.get_by_label("Move to").locator("option")).to_have_text(
        ["Choose…", "Investigating", "Closed"])
    expect(status_panel.get_by_label("Move to")).to_have_attribute("required", "")
    status_panel.get_by_role("button", name="Change status").click()
    expect(page.locator("#case-status")).to_have_text("Triage")
    status_panel.get_by_label("Move to").select_option(label="Investigating")
    status_panel.get_by_label("Why (optional)").fill("Adverts match a known network.")
    status_panel.get_by_role("button", name="Change status").click()
    expect(page.get_by_role("status").filter(has_text="Status is now Investigating.")).to_be_visible()
    expect(page.locator("#case-status")).to_have_text("Investigating")
    newest = page.locator(".timeline li.event").first
    expect(newest).to_have_class(re.compile(r"\bevent-status\b"))
    expect(newest.locator(".event-body")).to_have_text(
        "Status: Triage → Investigating. Adverts match a known network.")
    expect(newest.locator(".event-meta")).to_contain_text(agent.full_name)
    # The note is still there, below the change.
    expect(page.locator(".timeline .event-note").first.locator(".event-body")).to_have_text(note)
    page.screenshot(path=f"{SCREENSHOTS}/walk-4-case-page.png", full_page=True)

    # And the queue shows the new status.
    open_queue(page, "Mine")
    expect(queue_row(page, reference).get_by_role("cell").nth(3)).to_have_text("Investigating")


def test_an_identifier_shared_with_another_case_is_pointed_out(new_page, live_server, team):
    tag = unique()
    # IP addresses do not join escalations into one case (carrier-grade NAT), so the
    # second escalation opens its own case; the page still says where the IP appears.
    first = file_escalation(live_server, team, accounts=[{
        "label": f"first_{tag}", "identifiers": [
            {"kind": "platform_user_id", "value": f"u-first-{tag}"},
            {"kind": "ip", "value": "2001:DB8:0:0:0:0:0:2A"},
            {"kind": "email", "value": f"Shared.Person.{tag}@Example.NET"}]}])
    second = file_escalation(live_server, team, accounts=[{
        "label": f"second_{tag}", "identifiers": [
            {"kind": "platform_user_id", "value": f"u-second-{tag}"},
            {"kind": "ip", "value": "2001:db8::2a"}]}])
    assert first != second

    page = new_page(storage_state=team.agent.storage_state)
    page.goto(f"/cases/{second}")
    subjects = panel(page, "Subjects and identifiers")
    ip_row = subjects.locator("tr").filter(has_text="2001:db8::2a")
    expect(ip_row.locator(".also")).to_have_text(f"Also in {first}")
    expect(subjects.locator("tr").filter(has_text=f"u-second-{tag}").locator(".also")).to_have_count(0)

    # An identifier typed in by the agent is normalised and matched the same way.
    subject = subjects.locator(".subject").filter(has_text=f"second_{tag}")
    subject.get_by_text("Add an identifier").click()
    # Each identifier row has its own correction form (Type, Value): use the add form's.
    adding = subject.locator("details.inline-form").filter(has_text="Add an identifier")
    adding.get_by_label("Type").select_option(label="E-mail")
    adding.get_by_label("Value").fill(f"  shared.person.{tag}@example.net ")
    adding.get_by_role("button", name="Add", exact=True).click()
    email = f"shared.person.{tag}@example.net"
    expect(page.get_by_role("status").filter(has_text=f"Identifier added as {email}.")).to_be_visible()
    email_row = panel(page, "Subjects and identifiers").locator("tr").filter(has_text=email)
    expect(email_row.locator(".also")).to_have_text(f"Also in {first}")
    email_row.scroll_into_view_if_needed()
    page.screenshot(path=f"{SCREENSHOTS}/walk-5-shared-identifier.png", full_page=True)

    # The link leads to the other case, which points back.
    email_row.get_by_role("link", name=first).click()
    expect(page).to_have_url(path_is(f"/cases/{first}"))
    back = panel(page, "Subjects and identifiers").locator("tr").filter(has_text=email)
    expect(back.locator(".also")).to_have_text(f"Also in {second}")
    expect(back).to_contain_text(f"entered as Shared.Person.{tag}@Example.NET")


def test_abuse_material_is_hidden_from_uncleared_and_veiled_for_cleared_staff(
        new_page, live_server, team):
    reference = file_escalation(live_server, team, category="child_sexual_exploitation",
                                reason="hash_match")
    image = synthetic_png()
    sha256 = hashlib.sha256(image).hexdigest()

    # A cleared agent uploads an image; in this category it is marked sensitive by itself.
    cleared = new_page(storage_state=team.agent.storage_state)
    cleared.goto(f"/cases/{reference}")
    evidence = panel(cleared, "Evidence")
    expect(evidence.get_by_label("This may be child sexual abuse material")).not_to_be_checked()
    evidence.get_by_label("File").set_input_files(files=[{
        "name": "flagged-upload.png", "mimeType": "image/png", "buffer": image}])
    evidence.get_by_role("button", name="Upload").click()
    expect(cleared.get_by_role("heading", level=1)).to_have_text("flagged-upload.png")
    expect(cleared.locator(".page-head .tag-sensitive")).to_have_text("may be abuse material")
    item_url = cleared.url
    content_url = item_url + "/content"

    # Shown blurred and in greyscale until the viewer chooses otherwise.
    media = cleared.locator(".viewer .media")
    img = media.get_by_role("img", name="Evidence image flagged-upload.png")
    expect(img).to_be_visible()
    expect(media).to_have_class(re.compile(r"\bveiled\b"))
    cleared.wait_for_function("img => img.complete && img.naturalWidth === 240",
                              arg=img.element_handle())
    reveal = cleared.locator("#reveal")
    expect(reveal).not_to_be_checked()
    assert img.evaluate("img => getComputedStyle(img).filter") == "blur(24px) grayscale(1)"
    expect(cleared.get_by_text("Reveal in colour")).to_be_visible()
    expect(cleared.get_by_text("Blur again")).to_be_hidden()
    cleared.screenshot(path=f"{SCREENSHOTS}/walk-6-veiled-for-cleared.png", full_page=True)

    cleared.get_by_text("Reveal in colour").click()
    expect(reveal).to_be_checked()
    assert img.evaluate("img => getComputedStyle(img).filter") == "none"
    expect(cleared.get_by_text("Blur again")).to_be_visible()
    expect(cleared.get_by_text("Reveal in colour")).to_be_hidden()
    cleared.screenshot(path=f"{SCREENSHOTS}/walk-7-revealed-for-cleared.png", full_page=True)
    cleared.get_by_text("Blur again").click()
    expect(reveal).not_to_be_checked()
    assert img.evaluate("img => getComputedStyle(img).filter") == "blur(24px) grayscale(1)"
    # Loading the image was recorded: the custody log rendered before it loaded says
    # "collected" only; after a reload it also says "viewed", by the cleared agent.
    expect(cleared.locator("#custody tbody tr td:nth-child(2)")).to_have_text(["collected"])
    cleared.reload()
    expect(cleared.locator("#custody tbody tr").filter(has_text="viewed").first).to_contain_text(
        team.agent.email)

    # An agent who is not cleared sees the item's facts, never its picture.
    uncleared = new_page(storage_state=team.uncleared_agent.storage_state)
    uncleared.goto(f"/cases/{reference}")
    row = panel(uncleared, "Evidence").locator("tbody tr").filter(has_text="flagged-upload.png")
    expect(row.locator(".tag-sensitive")).to_have_text("sensitive")
    row.get_by_role("link", name="flagged-upload.png").click()
    expect(uncleared).to_have_url(item_url)
    notice = uncleared.get_by_role("note")
    expect(notice).to_contain_text("Hidden")
    expect(notice).to_contain_text("Only staff cleared to view such material can open it.")
    expect(uncleared.locator("main img, main video, main audio")).to_have_count(0)
    expect(uncleared.locator(".viewer, #reveal, #download")).to_have_count(0)
    expect(uncleared.locator("dl.facts")).to_contain_text(sha256)
    uncleared.screenshot(path=f"{SCREENSHOTS}/walk-8-hidden-for-uncleared.png", full_page=True)

    # Asking for the bytes directly, with the same session, gets a refusal and no image.
    for url in (content_url, content_url + "?download=1"):
        response = uncleared.request.get(url)
        assert response.status in (403, 404), (url, response.status)
        body = response.body()
        assert PNG_SIGNATURE not in body and image[:64] not in body
        assert not response.headers.get("content-type", "").startswith("image/")
    navigation = uncleared.goto(content_url)
    assert navigation.status in (403, 404)
    expect(uncleared.get_by_role("heading", level=1)).to_have_text(
        re.compile("Not allowed|Not found"))
    expect(uncleared.locator("img")).to_have_count(0)

    # Nothing was handed over: the custody log records no view by the uncleared agent.
    cleared.reload()
    expect(cleared.locator("#custody tbody tr").filter(has_text=team.uncleared_agent.email)
           ).to_have_count(0)


def test_the_home_shows_a_new_emergency_without_a_reload(new_page, live_server, team):
    """Issue 11: the agent's home is open; a P0 escalation arrives through the API; the home
    shows it, counting down, and the tab title says so, with no reload of the page."""
    page = new_page(storage_state=team.agent.storage_state)
    page.goto("/dashboard")
    expect(page.get_by_role("heading", name="Work now", level=1)).to_be_visible()
    page.evaluate("window.__notReloaded = true")
    title_before = page.title()
    assert "New emergency" not in title_before

    title = f"Synthetic threat to life {unique()}"
    reference = file_escalation(live_server, team, category="imminent_harm", priority="P0",
                                title=title, reason="user_report")
    emergencies = page.locator("section.work-emergencies")
    row = emergencies.locator(f'li[data-key="case:{reference}"]')
    expect(row).to_be_visible(timeout=15_000)
    expect(row.get_by_role("link", name=reference)).to_have_attribute("href", f"/cases/{reference}")
    expect(row.locator(".work-due")).to_contain_text(re.compile(r"due in (59|60) min|due in 1 h"))
    expect(page).to_have_title(re.compile(r"New emergency"))
    assert page.evaluate("window.__notReloaded") is True  # the same document: no reload
    # Unassigned, so it is also under "Unassigned P0 and P1", and the queue opens there.
    expect(page.locator("#work-unassigned-title").locator("..")).to_contain_text(reference)
    page.screenshot(path=f"{SCREENSHOTS}/home-1280.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=f"{SCREENSHOTS}/home-390.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases").click()
    expect(page.get_by_role("navigation", name="Queues").get_by_role(
        "link", name="Unassigned", exact=True)).to_have_attribute("aria-current", "page")
    expect(queue_row(page, reference)).to_have_count(1)
    page.screenshot(path=f"{SCREENSHOTS}/queue-1280.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=f"{SCREENSHOTS}/queue-390.png", full_page=True)
