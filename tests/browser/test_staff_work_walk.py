"""Issue 11, walked in a browser: the same bytes on two cases stay hidden from an agent who
is not cleared, on both; a supervisor assigns a request from the filtered queue; a message
is an internal note unless it is previewed and sent to the agency. Screenshots of the pages
at 1280 and 390 px are written to /tmp/staffwork-*.png for a person to look at."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ConsoleLog
from tests.browser.helpers import (StaffAccount, api_token, create_admin_with_cli,
                                   create_staff_account, enrol_newcomer, path_is,
                                   post_escalation, escalation_body, unique)
from tests.browser.live_server import ROOT
from tests.browser.test_case_walk import panel, synthetic_png

pytestmark = pytest.mark.browser

SHOTS = "/tmp/staffwork"
PHONE = {"width": 390, "height": 844}


@dataclass
class Staff:
    cleared: StaffAccount
    uncleared: StaffAccount
    supervisor: StaffAccount
    escalation_token: str


@pytest.fixture(scope="module")
def staff(browser, live_server) -> Staff:
    console = ConsoleLog()
    contexts = []

    def open_page() -> Page:
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        console.watch(page)
        return page

    tag = unique()
    try:
        admin_email = f"staffwork-admin-{tag}@referrals.example"
        admin = open_page()
        enrol_newcomer(admin, admin_email, create_admin_with_cli(live_server, admin_email, "Sam Admin"),
                       f"sam admin {tag} counts the harbour boats")

        def person(full_name: str, role: str, cleared: bool) -> StaffAccount:
            email = f"{full_name.split()[0].lower()}-{tag}@referrals.example"
            password = f"{full_name.lower()} {tag} crosses the quiet bridge"
            initial = create_staff_account(admin, email=email, full_name=full_name, role=role,
                                           cleared_for_csam=cleared)
            page = open_page()
            key = enrol_newcomer(page, email, initial, password)
            return StaffAccount(email, full_name, password, key,
                                storage_state=page.context.storage_state())

        cleared = person("Cleo Cleared", "Agent", True)
        uncleared = person("Uma Uncleared", "Agent", False)
        supervisor = person("Sol Supervisor", "Supervisor", False)
        pipeline = f"pipeline-{tag}@referrals.example"
        create_staff_account(admin, email=pipeline, full_name="Staffwork Pipeline", role="Agent",
                             cleared_for_csam=False)
        token = api_token(live_server, pipeline, "escalations:write")
    finally:
        for context in contexts:
            context.close()
    assert not console.problems, "\n".join(console.problems)
    return Staff(cleared, uncleared, supervisor, token)


def _case(live_server, staff: Staff, title: str) -> str:
    status, answer = post_escalation(live_server, staff.escalation_token,
                                     escalation_body(category="other", priority="P2", title=title))
    assert status == 201, answer
    return answer["case_reference"]


def _upload(page: Page, reference: str, data: bytes, name: str, *, flag: bool) -> str:
    page.goto(f"/cases/{reference}")
    evidence = panel(page, "Evidence")
    evidence.get_by_label("File").set_input_files(files=[{"name": name, "mimeType": "image/png",
                                                          "buffer": data}])
    evidence.get_by_label("This may be child sexual abuse material").set_checked(flag)
    evidence.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    return page.url


def test_the_same_bytes_stay_hidden_on_both_cases(new_page, live_server, staff):
    first = _case(live_server, staff, f"Synthetic first case {unique()}")
    second = _case(live_server, staff, f"Synthetic second case {unique()}")
    data = synthetic_png()
    uploader = new_page(storage_state=staff.cleared.storage_state)
    flagged_url = _upload(uploader, first, data, "frame.png", flag=True)
    again_url = _upload(uploader, second, data, "same-frame.png", flag=False)
    expect(uploader.locator("#flag-state")).to_contain_text("flagged")  # the bytes are

    viewer = new_page(storage_state=staff.uncleared.storage_state)
    for url in (flagged_url, again_url):
        viewer.goto(url)
        expect(viewer.get_by_role("note")).to_contain_text(
            "Only staff cleared to view such material can open it")
        expect(viewer.locator("img")).to_have_count(0)
        assert viewer.request.get(url + "/content").status == 403
    viewer.screenshot(path=f"{SHOTS}-evidence-hidden-1280.png", full_page=True)


def test_a_supervisor_assigns_from_the_filtered_queue_and_messages_stay_internal(
        new_page, live_server, staff):
    reference = subprocess.run(
        [sys.executable, "-m", "tests.browser.staff_work_request"], cwd=ROOT,
        env=live_server.env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout.strip().splitlines()[-1]

    boss = new_page(storage_state=staff.supervisor.storage_state)
    boss.goto("/requests/")
    boss.locator("#filter-assignee").select_option("none")
    boss.locator("#filter-type").select_option("search_warrant")
    boss.get_by_role("button", name="Show").click()
    row = boss.locator(f"#row-{reference}")
    expect(row).to_contain_text("Search warrant")
    row.get_by_label(f"Assign {reference} to").select_option(label=staff.cleared.full_name)
    row.get_by_role("button", name="Assign").click()
    expect(boss.get_by_role("status").filter(has_text=f"{reference} assigned.")).to_be_visible()
    assert "assignee=none" in boss.url  # back to the same filtered queue
    expect(boss.locator(f"#row-{reference}")).to_have_count(0)  # no longer unassigned
    boss.goto(f"/requests/?assignee=&type=search_warrant")
    expect(boss.locator(f"#row-{reference}")).to_contain_text(staff.cleared.full_name)

    agent = new_page(storage_state=staff.cleared.storage_state)
    agent.goto(f"/requests/?mine=1")
    agent.locator(f"#row-{reference}").get_by_role("link", name=reference).click()
    expect(agent).to_have_url(path_is(f"/requests/{reference}"))
    agent.get_by_label("Message").fill("Synthetic note: the DA asked us to wait.")
    agent.get_by_role("button", name="Save internal note").click()
    expect(agent.locator(".timeline .event-internal").last).to_contain_text("the DA asked us")

    agent.get_by_label("Message").fill("Please send page 2 of the warrant.")
    agent.get_by_role("button", name="Preview message to the agency…").click()
    expect(agent.locator("#agency-preview")).to_contain_text("Please send page 2 of the warrant.")
    agent.screenshot(path=f"{SHOTS}-message-preview-1280.png", full_page=True)
    agent.get_by_role("button", name="Send to the agency").click()
    expect(agent.locator(".timeline .event-to-agency").last).to_contain_text("Please send page 2")
    expect(agent.locator(".timeline .event-to-agency").last).to_contain_text("sent to the agency")

    # Screenshots for a person to look at: 1280 px and a phone.
    for width, viewport in (("1280", None), ("390", PHONE)):
        page = new_page(storage_state=staff.cleared.storage_state,
                        **({"viewport": viewport} if viewport else {}))
        page.goto("/dashboard")
        # The live home's refresh names its time the one way, zone included.
        expect(page.locator("#work-updated")).to_have_text(
            re.compile(r"Updated \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d UTC\."))
        for name, url in (("home", "/dashboard"), ("cases", "/cases/?view=open"),
                          ("requests", "/requests/"), ("request", f"/requests/{reference}"),
                          ("search", "/search/?q=walk_staff_work")):
            page.goto(url)
            page.screenshot(path=f"{SHOTS}-{name}-{width}.png", full_page=True)
        page.goto("/cases/?view=open")
        page.locator("table.queue tbody tr a").first.click()
        page.screenshot(path=f"{SHOTS}-case-{width}.png", full_page=False)
        if viewport:
            # At 390 px each queue row shows its deadline and status without scrolling sideways.
            page.goto("/requests/")
            width_px = page.evaluate("document.documentElement.scrollWidth")
            assert width_px <= 390, width_px
            cell = page.locator(f"#row-{reference} .col-deadline")
            box = cell.bounding_box()
            assert box and box["x"] + box["width"] <= 390
            status = page.locator(f"#row-{reference} .col-status").bounding_box()
            assert status and status["x"] + status["width"] <= 390
