"""The officer's walk, in Chromium: a supervisor releases a production (the page says the
agency has no key before it is confirmed), follows the package's build without reloading
until it is ready; the officer sees the one-time key once, downloads the package and its
checksum files in the portal, and the test opens it with ``age`` and verifies every check."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from referrals.core.signing import PlatformSigner
from referrals.packages.verify import verify_package
from tests.browser.collecting_request import OFFICER, SUPERVISOR
from tests.browser.conftest import ARTIFACTS
from tests.browser.live_server import ROOT
from tests.browser.test_collection_walk import queued_server, worker  # noqa: F401 (fixtures)
from tests.browser.test_sign_in_flow import sign_in_demo

pytestmark = pytest.mark.browser


def test_release_progress_ready_download_and_open_with_age(browser, queued_server,  # noqa: F811
                                                           worker, console, tmp_path):  # noqa: F811
    reference = subprocess.run(
        [sys.executable, "-m", "tests.browser.releasable_request"], cwd=ROOT,
        env=queued_server.env, capture_output=True, text=True, timeout=180, check=True,
    ).stdout.strip().splitlines()[-1]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    staff_context = browser.new_context(base_url=queued_server.url,
                                        viewport={"width": 1280, "height": 900})
    staff_context.set_default_timeout(10_000)
    officer_context = browser.new_context(base_url=queued_server.url, accept_downloads=True,
                                          viewport={"width": 1280, "height": 900})
    officer_context.set_default_timeout(10_000)
    try:
        staff = staff_context.new_page()
        console.watch(staff)
        sign_in_demo(staff, SUPERVISOR)
        staff.goto(f"/requests/{reference}")
        staff.get_by_text("Review done: release to the agency…").click()
        expect(staff.locator("#release-no-key")).to_contain_text("has no package key on file")
        staff.locator("#disclose").click()
        expect(staff).to_have_url(re.compile(rf".*/requests/{reference}#packages$"))
        box = staff.locator("[id^=package-progress-]")
        expect(box).to_contain_text("Waiting for a worker")
        staff.evaluate("window.notReloaded = true")
        staff.locator("#packages").screenshot(path=str(ARTIFACTS / "package-building.png"))

        # Half-way through its files, as a worker streaming them reports it: the page follows
        # (bytes as sizes, which file), at the desk and on a phone.
        subprocess.run([sys.executable, "-m", "tests.browser.package_progress", reference],
                       cwd=ROOT, env=queued_server.env, capture_output=True, timeout=120,
                       check=True)
        expect(box).to_contain_text("2.5 MiB of 5.0 MiB")
        expect(box).to_contain_text("Encrypting file 1 of 2, synthetic-chat-export.json;")
        staff.locator("#packages").screenshot(path=str(ARTIFACTS / "package-streaming.png"))
        staff.set_viewport_size({"width": 390, "height": 844})
        staff.locator("#packages").screenshot(path=str(ARTIFACTS / "package-streaming-390.png"))
        staff.set_viewport_size({"width": 1280, "height": 900})

        worker()
        expect(box).to_contain_text("Finished", timeout=90_000)
        expect(box).to_contain_text("Ready:")
        assert staff.evaluate("window.notReloaded === true")
        box.get_by_role("link", name="Show the package").click()
        expect(staff.locator("#packages")).to_contain_text("Not downloaded yet.")
        staff.locator("#packages").screenshot(path=str(ARTIFACTS / "package-ready-staff.png"))

        officer = officer_context.new_page()
        console.watch(officer)
        sign_in_demo(officer, OFFICER)
        officer.goto(f"/portal/requests/{reference}")
        panel = officer.locator("#packages")
        expect(panel).to_contain_text("encrypted to a one-time key")
        officer.screenshot(path=str(ARTIFACTS / "package-portal.png"), full_page=True)
        panel.locator("[id^=show-key-]").click()
        secret = re.search(r"AGE-SECRET-KEY-1[0-9A-Z]+",
                           officer.locator("#one-time-key").inner_text()).group(0)
        officer.screenshot(path=str(ARTIFACTS / "package-key.png"), full_page=True)
        officer.get_by_role("link", name="I have saved the key").click()
        expect(panel).to_contain_text("is not kept")
        expect(panel.locator("[id^=show-key-]")).to_have_count(0)

        saved = {}
        for selector in ("[id^=download-]", "[id^=checksum-]", "[id^=signature-]"):
            with officer.expect_download() as download:
                panel.locator(selector).first.click()
            target = tmp_path / download.value.suggested_filename
            download.value.save_as(target)
            saved[selector] = target
        package = saved["[id^=download-]"]
        assert package.name == f"{reference}-P1.tar.age"
        key = tmp_path / "key.txt"
        key.write_text(secret + "\n")
        assert subprocess.run(["sha256sum", "-c", package.name + ".sha256"], cwd=tmp_path,
                              capture_output=True).returncode == 0
        opened = subprocess.run(["age", "-d", "-i", str(key), "-o", str(tmp_path / "p.tar"),
                                 str(package)], capture_output=True)
        assert opened.returncode == 0, opened.stderr
        signer = PlatformSigner.from_file(queued_server.instance_path / "signing-key")
        checks = [c.name for c in verify_package(package, key.read_text(), signer)]
        assert checks[-1] == "bag signature"

        officer.goto("/portal/packages/help")
        expect(officer.locator("#signing-fingerprint")).to_have_text(signer.fingerprint)
        officer.screenshot(path=str(ARTIFACTS / "package-help.png"), full_page=True)

        staff.goto(f"/requests/{reference}")
        expect(staff.locator("#packages")).to_contain_text(OFFICER)
    finally:
        staff_context.close()
        officer_context.close()
    assert not console.problems, "\n".join(console.problems)
