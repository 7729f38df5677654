"""A CyberTipline report, in Chromium, against the sandbox inside the live server: the agent
drafts it from the case and sees which file no person here has viewed; the supervisor sees
the same before confirming, confirms (the XML that will be sent is shown) and sends it; the
lifecycle runs to finished over HTTP, the one-year preservation hold appears, and the
disclosure record is on the page."""

from __future__ import annotations

import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.browser.collecting_request import AGENT, SUPERVISOR
from tests.browser.conftest import ARTIFACTS
from tests.browser.live_server import ROOT, LiveServer
from tests.browser.test_sign_in_flow import sign_in_demo

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def sandbox_server(tmp_path_factory):
    """A live server whose reports go to its own sandbox (``/ncmec-sandbox/ispws``)."""
    server = LiveServer(tmp_path_factory.mktemp("ncmec-walk"))
    server.env.update(REFERRALS_NCMEC_BASE_URL=f"{server.url}/ncmec-sandbox/ispws",
                      REFERRALS_NCMEC_USERNAME="walk-reporter",
                      REFERRALS_NCMEC_PASSWORD="made-up-sandbox-password",
                      REFERRALS_NCMEC_SANDBOX="1")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_draft_see_unviewed_files_confirm_send_finished_and_held(browser, sandbox_server,
                                                                  console):
    reference = subprocess.run(
        [sys.executable, "-m", "tests.browser.reportable_case"], cwd=ROOT,
        env=sandbox_server.env, capture_output=True, text=True, timeout=180, check=True,
    ).stdout.strip().splitlines()[-1]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    contexts = []
    for _ in range(2):
        context = browser.new_context(base_url=sandbox_server.url,
                                      viewport={"width": 1280, "height": 900})
        context.set_default_timeout(20_000)
        contexts.append(context)
    try:
        agent, supervisor = (context.new_page() for context in contexts)
        console.watch(agent)
        console.watch(supervisor)

        sign_in_demo(agent, AGENT)
        agent.goto(f"/cases/{reference}")
        agent.locator("#ncmec-link").click()
        expect(agent.locator("#sandbox-notice")).to_be_visible()
        warning = agent.locator("#unviewed-warning")
        expect(warning).to_contain_text("No person here has viewed 1 of 2 file(s)")
        expect(warning).to_contain_text("walk-unseen.png")
        expect(warning).not_to_contain_text("walk-seen.png")
        agent.screenshot(path=str(ARTIFACTS / "ncmec-draft.png"), full_page=True)
        agent.locator("#draft-report").click()
        expect(agent.locator("#ncmec-status")).to_have_text("Draft")
        expect(agent.locator("#confirm-refusal")).to_contain_text("another person must confirm")
        report_url = agent.url

        # The reviewer sees which file no person viewed, confirms, and sends.
        sign_in_demo(supervisor, SUPERVISOR)
        supervisor.goto(report_url)
        expect(supervisor.locator("#unviewed-warning")).to_contain_text("walk-unseen.png")
        expect(supervisor.locator("[id^=ncmec-file-]").filter(
            has_text="walk-unseen.png")).to_contain_text("No one")
        expect(supervisor.locator("[id^=ncmec-file-]").filter(
            has_text="walk-seen.png")).to_contain_text("Yes")
        supervisor.locator("#confirm-report").click()
        expect(supervisor.locator("#ncmec-status")).to_have_text("Confirmed, not sent")
        expect(supervisor.locator("#ncmec-xml")).to_contain_text("<reportingPerson>")
        expect(supervisor.locator("#filing-target")).to_contain_text("since confirmed")
        supervisor.locator("#submit-report").click()

        # submit → upload → fileinfo → finish over HTTP to the sandbox, then recorded.
        expect(supervisor.locator("#ncmec-status")).to_have_text(
            "Finished (received by NCMEC)", timeout=60_000)
        expect(supervisor.locator("#ncmec-report-id")).to_contain_text("NCMEC report")
        hold = supervisor.locator("#ncmec-hold")
        expect(hold).to_contain_text("Preserved one year (18 U.S.C. 2258A(h))")
        expect(supervisor.locator("#ncmec-disclosure")).to_contain_text("18 U.S.C. 2258A")
        expect(supervisor.locator("#unviewed-note")).to_contain_text("1 of 2")
        supervisor.screenshot(path=str(ARTIFACTS / "ncmec-finished.png"), full_page=True)
        supervisor.set_viewport_size({"width": 390, "height": 844})
        supervisor.screenshot(path=str(ARTIFACTS / "ncmec-finished-390.png"), full_page=True)
        supervisor.set_viewport_size({"width": 1280, "height": 900})

        hold.get_by_role("link").click()
        expect(supervisor.locator("body")).to_contain_text("CyberTipline")
        expect(supervisor.locator("body")).to_contain_text("Active")
    finally:
        for context in contexts:
            context.close()
    assert not console.problems, "\n".join(console.problems)
