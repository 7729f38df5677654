"""Issue 12 in a browser: the demo UK police force sends a preservation request through the
API; a supervisor finds it received by the UK entity and counted in London, its hold a
voluntary Budapest art. 29 preservation, and reads every deadline rule with its source on
/deadline-rules. Screenshots of both pages are kept under test-artifacts/browser/."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from referrals.core.deadlines import RULES
from tests.browser.conftest import ARTIFACTS
from tests.browser.helpers import (api_call, api_token, create_admin_with_cli,
                                   create_staff_account, enrol_newcomer, path_is, unique)
from tests.browser.test_hold_walk import blank_pdf

pytestmark = pytest.mark.browser

UK_OFFICER = "dc.okafor@northshire-police.example"


def test_a_uk_preservation_and_the_deadline_rules_page(new_page, live_server):
    tag = unique()
    token = api_token(live_server, UK_OFFICER, "requests:write")
    today = date.today()
    status, answer = api_call(live_server, token, "POST", "/api/v1/requests", {
        "request_type": "preservation", "addressed_to": "uk",
        "issuing_authority": "Made-up Northshire Constabulary",
        "officer_name": "DC Sam Okafor", "official_email": UK_OFFICER, "phone": "+44 20 7946 0000",
        "data_categories": ["subscriber"],
        "date_from": (today - timedelta(days=30)).isoformat(),
        "date_to": (today - timedelta(days=1)).isoformat(),
        "legal_basis": "Made-up preservation request, Convention on Cybercrime art. 29",
        "targets": [{"kind": "username", "value": f"@uk_walk_{tag}"}],
        "documents": [{"filename": "request.pdf", "content_base64": blank_pdf()}]})
    assert status == 201, answer
    assert answer["legal_entity"] == "uk"
    reference = answer["reference"]

    admin_email = f"rules-admin-{tag}@referrals.example"
    admin = new_page()
    enrol_newcomer(admin, admin_email, create_admin_with_cli(live_server, admin_email, "Rae Admin"),
                   f"rules admin {tag} counts the working days")
    supervisor_email = f"rules-supervisor-{tag}@referrals.example"
    initial = create_staff_account(admin, email=supervisor_email, full_name="Lee Supervisor",
                                   role="Supervisor", cleared_for_csam=False)
    page = new_page()
    enrol_newcomer(page, supervisor_email, initial, f"lee supervisor {tag} reads the statutes")

    page.goto(f"/requests/{reference}")
    facts = page.locator(".clock-fact")
    expect(facts.first).to_contain_text("Platform UK Ltd")
    expect(facts.first).to_contain_text("Europe/London")
    expect(page.locator(".facts").first).to_contain_text("Internal policy")  # the time to act
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "issue12-uk-request.png"), full_page=True)
    page.get_by_role("link", name="HOLD-", exact=False).first.click()
    expect(page.locator("body")).to_contain_text("Budapest Convention art. 29")

    page.goto("/deadline-rules")
    expect(page).to_have_url(path_is("/deadline-rules"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Deadline rules")
    expect(page.locator("#deadline-rules tbody tr")).to_have_count(len(RULES))
    expect(page.locator("#rule-eu_production_order")).to_contain_text("1182/71")
    expect(page.locator("#rule-retention")).to_contain_text("REFERRALS_RETENTION_DAYS")
    page.screenshot(path=str(ARTIFACTS / "issue12-deadline-rules.png"), full_page=True)
