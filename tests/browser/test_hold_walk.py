"""Issue 5 in a browser: an agency's preservation request (through the API) places a hold; a
supervisor finds it under Holds with its countdown, downloads the confirmation letter and
releases it with a reason behind a confirmation; the agency reads the release on its request.

The supervisor is made for this module (by an administrator from the command line), so no
demo account's one-use TOTP code is spent here that the sign-in tests need."""

from __future__ import annotations

import base64
import io
import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from pypdf import PdfWriter

from tests.browser.helpers import (api_call, api_token, create_admin_with_cli,
                                   create_staff_account, enrol_newcomer, path_is, unique)

pytestmark = pytest.mark.browser

OFFICER = "det.rivera@metrocity-pd.example"  # the demo officer: only the API is used for them


def blank_pdf() -> str:
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    buffer = io.BytesIO()
    writer.write(buffer)
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_supervisor_releases_a_preservation_hold_and_the_agency_is_told(new_page, live_server):
    tag = unique()
    # The agency sends a 2703(f) preservation request through the API.
    officer_token = api_token(live_server, OFFICER, "requests:write")
    account = f"@walk_target_{tag}"
    today = date.today()
    status, answer = api_call(live_server, officer_token, "POST", "/api/v1/requests", {
        "request_type": "preservation", "addressed_to": "us",
        "issuing_authority": "Made-up Metro City Police Department",
        "officer_name": "Det. Alex Rivera", "official_email": OFFICER, "phone": "+1 202 555 0100",
        "data_categories": ["subscriber", "login_logout"],
        "date_from": (today - timedelta(days=30)).isoformat(),
        "date_to": (today - timedelta(days=1)).isoformat(),
        "legal_basis": "Made-up preservation letter under 18 U.S.C. 2703(f)",
        "targets": [{"kind": "username", "value": account}],
        "documents": [{"filename": "letter.pdf", "content_base64": blank_pdf()}]})
    assert status == 201, answer
    request_reference = answer["reference"]
    status, detail = api_call(live_server, officer_token, "GET", f"/api/v1/requests/{request_reference}")
    assert status == 200 and detail["hold"]["status"] == "active", detail
    hold_reference = detail["hold"]["reference"]
    assert re.fullmatch(r"HOLD-\d{4}-\d{6}", hold_reference)

    # A supervisor, made by an administrator, signs in for the first time.
    admin_email = f"hold-admin-{tag}@referrals.example"
    admin = new_page()
    enrol_newcomer(admin, admin_email, create_admin_with_cli(live_server, admin_email, "Hale Admin"),
                   f"hold admin {tag} counts the tide tables")
    supervisor_email = f"hold-supervisor-{tag}@referrals.example"
    initial = create_staff_account(admin, email=supervisor_email, full_name="Sol Supervisor",
                                   role="Supervisor", cleared_for_csam=False)
    page = new_page()
    enrol_newcomer(page, supervisor_email, initial, f"sol supervisor {tag} reads the weather")

    # Holds: the new hold is listed, open, with its countdown.
    page.get_by_role("link", name="Holds", exact=True).click()
    expect(page).to_have_url(path_is("/holds/"))
    row = page.locator("#holds tr", has_text=hold_reference)
    expect(row).to_contain_text("Expires in")
    expect(row).to_contain_text(request_reference)
    row.get_by_role("link", name=hold_reference).click()
    expect(page).to_have_url(path_is(f"/holds/{hold_reference}"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(hold_reference)
    expect(page.locator("#held-accounts")).to_contain_text(account.lstrip("@").lower())

    # The confirmation letter is a PDF.
    letter = page.request.get(page.get_by_role("link", name="Confirmation letter to the agency (PDF)")
                              .get_attribute("href"))
    assert letter.status == 200 and letter.headers["content-type"] == "application/pdf"
    assert letter.body().startswith(b"%PDF")

    # Releasing needs a reason; the release is behind its own "Release" disclosure.
    page.locator("summary", has_text=re.compile(r"^Release$")).click()
    page.fill("#release-reason", f"Made-up: the agency's investigation {tag} closed")
    page.click("#release")
    expect(page.get_by_text("The hold is released.")).to_be_visible()
    expect(page.locator(".status").first).to_contain_text("Released")
    page.goto("/holds/")
    expect(page.locator("#holds")).not_to_contain_text(hold_reference)

    # The agency reads it on its request.
    status, request = api_call(live_server, officer_token, "GET", f"/api/v1/requests/{request_reference}")
    assert status == 200
    assert request["hold"]["status"] == "released"
    assert any(f"The preservation {hold_reference} on this request was released" in m["body"]
               and tag in m["body"] for m in request["messages"])
