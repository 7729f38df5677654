"""Shared steps for browser tests: accounts made for a test run, escalations via the API.

Demo accounts sign in with TOTP codes that work once per 30-second step; two tests
signing in the same demo account within one step would refuse each other. Tests
that need several people, or a person the demo does not have (an agent not cleared
for abuse material), make their own accounts here: an administrator from the command
line, and staff created by that administrator in the admin pages, each enrolling
an authenticator as a newcomer does.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from tests.browser.test_sign_in_flow import password_step, path_is

__all__ = ["StaffAccount", "api_token", "create_admin_with_cli", "create_staff_account",
           "enrol_newcomer", "escalation_body", "path_is", "post_escalation", "unique"]


def unique(prefix: str = "") -> str:
    """A short tag that no other test (or earlier run on this server) uses."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@dataclass
class StaffAccount:
    email: str
    full_name: str
    password: str
    totp_key: str
    # Cookies of a signed-in session: ``new_page(storage_state=account.storage_state)``.
    storage_state: dict = field(default_factory=dict, repr=False)


# --- accounts -----------------------------------------------------------------------------


def create_admin_with_cli(live_server, email: str, full_name: str) -> str:
    """``flask accounts create-admin``; returns the one-time password it prints."""
    output = live_server.flask("accounts", "create-admin", email, "--name", full_name)
    match = re.search(r"One-time password: (\S+)", output)
    assert match, output
    return match.group(1)


def enrol_newcomer(page: Page, email: str, one_time_password: str, new_password: str) -> str:
    """First sign-in: one-time password, authenticator enrolment, own password.

    Ends signed in on the dashboard; returns the TOTP key the page showed.
    """
    from passlib.totp import TOTP

    password_step(page, email, one_time_password)
    expect(page).to_have_url(path_is("/tf-setup"))
    start = page.locator("#start-setup")
    if start.count():
        start.click()
    expect(page.locator("img#qrcode")).to_be_visible()
    key = re.sub(r"\s+", "", page.locator("#totp-key").inner_text())
    page.fill("#code", TOTP(key=key, format="base32").generate().token)
    page.click("#submit-code")

    expect(page).to_have_url(path_is("/account/password"))
    page.fill("#password", one_time_password)
    page.fill("#new_password", new_password)
    page.fill("#new_password_confirm", new_password)
    page.get_by_role("button", name="Change password").click()
    expect(page).to_have_url(path_is("/dashboard"))
    return key


def create_staff_account(admin: Page, *, email: str, full_name: str, role: str,
                         cleared_for_csam: bool) -> str:
    """An admin makes a staff account in the admin pages; returns its one-time password."""
    admin.goto("/admin/accounts/new")
    expect(admin.get_by_role("heading", name="New staff account")).to_be_visible()
    admin.fill("#email", email)
    admin.fill("#full_name", full_name)
    admin.get_by_label(role, exact=True).check()
    clearance = admin.get_by_label("Cleared to view media that may be child sexual abuse material")
    clearance.set_checked(cleared_for_csam)
    admin.get_by_role("button", name="Create account").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Account created")
    one_time_password = admin.locator("#one-time-password").inner_text().strip()
    assert len(one_time_password) >= 16
    return one_time_password


def api_token(live_server, email: str, *scopes: str) -> str:
    """``flask tokens create EMAIL --scope …``; returns the token (its last line)."""
    args = [arg for scope in scopes for arg in ("--scope", scope)]
    output = live_server.flask("tokens", "create", email, *args)
    token = output.strip().splitlines()[-1].strip()
    assert token.startswith("rfr_"), output
    return token


# --- escalations --------------------------------------------------------------------------


def escalation_body(**overrides) -> dict:
    """A synthetic escalation as an upstream detection system would send it."""
    tag = unique()
    body = {
        "source_system": "browser-test-classifier",
        "external_id": f"EXT-{tag}",
        "category": "violent_extremism",
        "reason": "classifier",
        "detected_at": (datetime.now(UTC) - timedelta(minutes=30)).isoformat(),
        "summary": "Synthetic escalation from a browser test; the account is made up.",
        "accounts": [{"label": f"made_up_{tag}",
                      "identifiers": [{"kind": "platform_user_id", "value": f"u-{tag}"}]}],
    }
    body.update(overrides)
    return body


def api_call(live_server, token: str, method: str, path: str,
             body: dict | None = None) -> tuple[int, dict]:
    """One JSON API call with a bearer token; returns (status, JSON body)."""
    request = urllib.request.Request(
        live_server.url + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                 "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def post_escalation(live_server, token: str, body: dict) -> tuple[int, dict]:
    """POST /api/v1/escalations as the integration would; returns (status, JSON body)."""
    return api_call(live_server, token, "POST", "/api/v1/escalations", body)
