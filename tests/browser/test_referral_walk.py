"""A referral to a registered police force, in Chromium: the agent drafts it from the case and
submits it, a supervisor approves it and sends it through the portal; the package is ready
in the portal; the officer signs in, takes the one-time key once, downloads the package and
its checksum files (the test opens it with ``age -d`` and verifies it with
``flask packages verify``), and acknowledges the referral with their reference; the staff
pages show it acknowledged with that reference, and the download."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.browser.collecting_request import AGENT, OFFICER, SUPERVISOR
from tests.browser.conftest import ARTIFACTS
from tests.browser.live_server import ROOT
from tests.browser.test_sign_in_flow import sign_in_demo

pytestmark = pytest.mark.browser


def _context(browser, live_server, **options):
    context = browser.new_context(base_url=live_server.url, accept_downloads=True,
                                  viewport={"width": 1280, "height": 900}, **options)
    context.set_default_timeout(15_000)
    return context


def test_a_referral_travels_through_the_portal_to_acknowledged(browser, live_server, console,
                                                               tmp_path):
    reference = subprocess.run(
        [sys.executable, "-m", "tests.browser.referable_case"], cwd=ROOT, env=live_server.env,
        capture_output=True, text=True, timeout=180, check=True,
    ).stdout.strip().splitlines()[-1]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    contexts = [_context(browser, live_server) for _ in range(3)]
    try:
        agent, supervisor, officer = (context.new_page() for context in contexts)
        for page in (agent, supervisor, officer):
            console.watch(page)

        # The agent drafts the referral from the case and submits it.
        sign_in_demo(agent, AGENT)
        agent.goto(f"/cases/{reference}")
        agent.locator("#draft-referral-link").click()
        agent.select_option("#draft-agency_id", label="Metro City Police Department (US)")
        agent.select_option("#draft-legal_basis", value="us_2702b8")
        agent.fill("#draft-reason", "The made-up suspect is in Metro City; the threat is there.")
        agent.fill("#draft-summary", "A made-up account threatened a made-up person on the "
                                     "platform; the chat log is attached.")
        agent.get_by_label("walk-chat-log.txt", exact=False).check()
        agent.locator("#draft-referral-submit").click()
        expect(agent.locator("#referral-status")).to_have_text("Draft")
        referral_url = agent.url
        referral = agent.locator("h1").inner_text().split()[0]
        agent.locator("#submit-referral").click()
        expect(agent.locator("#referral-status")).to_have_text("Pending approval")
        expect(agent.locator("#approve-refusal")).to_be_visible()  # never the drafter's

        # A supervisor approves it and sends it through the portal.
        sign_in_demo(supervisor, SUPERVISOR)
        supervisor.goto(referral_url)
        supervisor.locator("#approve-referral").click()
        expect(supervisor.locator("#referral-status")).to_have_text("Approved")
        form = supervisor.locator("#send-form")
        form.locator("#send-method").select_option("portal")
        form.locator("#send-note").fill("Please see the attached made-up chat log.")
        form.locator("#send-referral").click()
        # The package was built after the commit; the referral left with it.
        expect(supervisor.locator("#referral-status")).to_have_text("Sent")
        delivery = supervisor.locator("#portal-delivery")
        expect(delivery.locator("#portal-package-status")).to_have_text("Ready")
        expect(delivery.locator("#portal-not-downloaded")).to_be_visible()
        supervisor.screenshot(path=str(ARTIFACTS / "referral-sent-staff.png"), full_page=True)

        # The officer finds it in the portal, takes the key once and downloads the package.
        sign_in_demo(officer, OFFICER)
        officer.goto("/portal/referrals/")
        officer.screenshot(path=str(ARTIFACTS / "referral-portal-list.png"), full_page=True)
        officer.get_by_role("link", name=referral).click()
        expect(officer.locator("#portal-referral-message")).to_contain_text(
            "Please see the attached made-up chat log.")
        expect(officer.locator("body")).not_to_contain_text(AGENT)  # no staff names
        officer.screenshot(path=str(ARTIFACTS / "referral-portal-page.png"), full_page=True)
        officer.locator("#show-key").click()
        secret = re.search(r"AGE-SECRET-KEY-1[0-9A-Z]+",
                           officer.locator("#one-time-key").inner_text()).group(0)
        officer.get_by_role("link", name="I have saved the key").click()
        expect(officer.locator("#show-key")).to_have_count(0)
        saved = {}
        for selector in ("#download-package", "#package-checksum", "#package-signature"):
            with officer.expect_download() as download:
                officer.locator(selector).click()
            target = tmp_path / download.value.suggested_filename
            download.value.save_as(target)
            saved[selector] = target
        package = saved["#download-package"]
        assert package.name == f"{reference}-P1.tar.age"
        key = tmp_path / "key.txt"
        key.write_text(secret + "\n")
        opened = subprocess.run(["age", "-d", "-i", str(key), "-o", str(tmp_path / "p.tar"),
                                 str(package)], capture_output=True)
        assert opened.returncode == 0, opened.stderr
        listing = subprocess.run(["tar", "tf", str(tmp_path / "p.tar")], capture_output=True,
                                 text=True, check=True).stdout
        assert f"{reference}-P1/report/{referral}-referral-report.pdf" in listing
        assert f"{reference}-P1/data/" in listing and "walk-chat-log.txt" in listing
        verified = live_server.flask("packages", "verify", str(package), "--identity", str(key))
        assert "bag signature" in verified

        # The officer acknowledges with their reference.
        officer.fill("#ack-agency_reference", "MCPD-2026-4711")
        officer.locator("#acknowledge").click()
        expect(officer.locator("#portal-referral-status")).to_have_text("Acknowledged")
        expect(officer.locator("#portal-agency-reference")).to_contain_text("MCPD-2026-4711")
        officer.set_viewport_size({"width": 390, "height": 844})
        officer.screenshot(path=str(ARTIFACTS / "referral-portal-page-390.png"), full_page=True)

        # Staff see it acknowledged with that reference, and the officer's download.
        supervisor.goto(referral_url)
        expect(supervisor.locator("#referral-status")).to_have_text("Acknowledged")
        expect(supervisor.locator("#agency-reference")).to_contain_text("MCPD-2026-4711")
        expect(supervisor.locator("#portal-downloads")).to_contain_text(OFFICER)
        supervisor.screenshot(path=str(ARTIFACTS / "referral-acknowledged-staff.png"),
                              full_page=True)
        supervisor.goto(f"/cases/{reference}")
        expect(supervisor.locator("body")).to_contain_text(referral)
        expect(supervisor.locator("body")).to_contain_text("Acknowledged")
    finally:
        for context in contexts:
            context.close()
    assert not console.problems, "\n".join(console.problems)
