"""Collecting from the platform in a browser: the agent presses the button, the page says the
work waits for a worker, and once a worker runs it the page shows the progress and the end
without being reloaded; the collected items are then listed.

The server here queues jobs for a real worker (not run at once, as elsewhere in the tests), so
the page has something to follow."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.helpers import (create_admin_with_cli, create_staff_account, enrol_newcomer,
                                   unique)
from tests.browser.live_server import ROOT, LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def queued_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("collection-walk"),
                        extra_env={"REFERRALS_JOBS_IMMEDIATE": "0"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def worker(queued_server, tmp_path):
    """``worker()`` starts a job worker on the server's queue; stopped after the test."""
    started: list[subprocess.Popen] = []
    log = (tmp_path / "worker.log").open("w")

    def start() -> subprocess.Popen:
        consumer = str(__import__("pathlib").Path(sys.executable).parent / "huey_consumer")
        process = subprocess.Popen([consumer, "referrals.worker.huey", "--workers", "1",
                                    "--delay", "0.1"], cwd=ROOT, env=queued_server.env,
                                   stdout=log, stderr=subprocess.STDOUT)
        started.append(process)
        return process

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=15)
    log.close()


def test_the_request_page_follows_a_collection_without_reloading(browser, queued_server, worker,
                                                                 console):
    reference = subprocess.run(
        [sys.executable, "-m", "tests.browser.collecting_request"], cwd=ROOT,
        env=queued_server.env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout.strip().splitlines()[-1]

    tag = unique()
    context = browser.new_context(base_url=queued_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    try:
        admin = context.new_page()
        console.watch(admin)
        admin_email = f"collect-admin-{tag}@referrals.example"
        enrol_newcomer(admin, admin_email,
                       create_admin_with_cli(queued_server, admin_email, "Cole Admin"),
                       f"cole admin {tag} sorts the harbour charts")
        agent_email = f"collect-agent-{tag}@referrals.example"
        initial = create_staff_account(admin, email=agent_email, full_name="Cora Agent",
                                       role="Agent", cleared_for_csam=False)
        admin.close()
        agent_context = browser.new_context(base_url=queued_server.url,
                                            viewport={"width": 1280, "height": 900})
        agent_context.set_default_timeout(10_000)
        page = agent_context.new_page()
        console.watch(page)
        enrol_newcomer(page, agent_email, initial, f"cora agent {tag} counts the lighthouses")

        page.goto(f"/requests/{reference}")
        expect(page.get_by_text("Nothing collected yet.")).to_be_visible()
        page.locator("#collect").click()
        expect(page).to_have_url(re.compile(rf".*/requests/{reference}#collected$"))
        box = page.locator("#collection-progress")
        expect(box).to_contain_text("Waiting for a worker")
        expect(box).to_contain_text("0 of 6 question(s) answered")
        expect(page.locator("#collect")).to_have_count(0)  # one collection at a time
        page.evaluate("window.notReloaded = true")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator("#collected").screenshot(path=str(ARTIFACTS / "collection-waiting.png"))

        worker()
        expect(box).to_contain_text("Finished", timeout=60_000)
        expect(box).to_contain_text("6 of 6 question(s) answered")
        expect(box).to_contain_text("Collected")
        assert page.evaluate("window.notReloaded === true")  # followed, not reloaded
        page.locator("#collected").screenshot(path=str(ARTIFACTS / "collection-finished.png"))

        box.get_by_role("link", name="Show what was collected").click()
        rows = page.locator("table.collected tbody tr")
        expect(rows.first).to_be_visible()
        assert rows.count() >= 6  # one records file per target and category, and the media
        expect(page.locator("#collected")).to_contain_text(agent_email)  # collected by
        agent_context.close()
    finally:
        context.close()
    assert not console.problems, "\n".join(console.problems)
