"""Issue 15 in a browser: a compliance reviewer reads the audit log of the demo: the latest
signed checkpoint and that the chain matches it, filters by action, opens an event and reads
its difference with names, verifies the whole chain from the page and sees the result, and
takes the filtered range as CSV. Screenshots at 1280 px and 390 px are kept under
test-artifacts/browser/."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.helpers import create_admin_with_cli, create_staff_account, enrol_newcomer, unique

pytestmark = pytest.mark.browser


def test_a_compliance_reviewer_reads_filters_opens_verifies_and_exports(new_page, live_server):
    tag = unique()
    admin_email = f"audit-admin-{tag}@referrals.example"
    admin = new_page()
    enrol_newcomer(admin, admin_email, create_admin_with_cli(live_server, admin_email, "Ari Admin"),
                   f"audit admin {tag} keeps the keys")
    reviewer_email = f"audit-reviewer-{tag}@referrals.example"
    initial = create_staff_account(admin, email=reviewer_email, full_name="Robin Reviewer",
                                   role="Compliance", cleared_for_csam=False)
    page = new_page()
    enrol_newcomer(page, reviewer_email, initial, f"robin reviewer {tag} reads the log")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    page.locator("nav").get_by_role("link", name="Audit log").click()
    panel = page.locator("#integrity")
    expect(panel).to_contain_text("Latest signed checkpoint")
    expect(panel.locator("#checkpoint")).to_contain_text("Chain matches it")  # demo seed signed one
    expect(panel).to_contain_text("audit-checkpoints")  # where it is kept
    page.screenshot(path=str(ARTIFACTS / "issue15-audit-log.png"), full_page=True)

    # The admin made the reviewer's account: filter by that action, open it.
    page.fill("input[name=action]", "account.")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.audit tbody tr")
    expect(rows.first).to_contain_text("account.")
    created = page.locator("table.audit tbody tr", has_text="account.created").first
    created.locator(".col-seq a").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Event #")
    expect(page.locator("table.difference")).to_be_visible()
    expect(page.locator(".facts")).to_contain_text(admin_email)  # the actor, by name
    expect(page.locator(".facts")).to_contain_text(reviewer_email)  # the object, by name
    page.screenshot(path=str(ARTIFACTS / "issue15-audit-event.png"), full_page=True)

    # Verify the whole chain from the page (the test server runs jobs at once).
    page.goto("/audit/")
    page.get_by_role("button", name="Verify the whole chain now").click()
    expect(page.locator(".flash-success")).to_contain_text("being checked")
    expect(page.locator("#verify")).to_contain_text("Intact")
    page.locator("#integrity").screenshot(path=str(ARTIFACTS / "issue15-audit-verified.png"))

    # The filtered range as CSV.
    page.fill("input[name=action]", "audit.")
    page.get_by_role("button", name="Filter").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    text = open(download.value.path(), encoding="utf-8").read()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and all(row["action"].startswith("audit.") for row in rows)
    assert "audit.chain_verified" in {row["action"] for row in rows}

    narrow = new_page(viewport={"width": 390, "height": 844},
                      storage_state=page.context.storage_state())
    narrow.goto("/audit/")
    expect(narrow.locator("#integrity")).to_be_visible()
    narrow.screenshot(path=str(ARTIFACTS / "issue15-audit-log-390.png"), full_page=True)
    width = narrow.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"
