"""Signing in as a person does it: notice, password, authenticator code; lockout;
an admin creating a colleague who then enrols; an agency officer in the portal."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from referrals.accounts.models import LOCKED_MESSAGE
from referrals.demo.seed import demo_password, demo_totp_key
from tests.browser.live_server import totp_code

pytestmark = pytest.mark.browser

AGENT = "agent@referrals.example"
ADMIN = "admin@referrals.example"
COMPLIANCE = "compliance@referrals.example"
OFFICER = "det.rivera@metrocity-pd.example"


def path_is(path: str) -> re.Pattern:
    """The page's address has this path (any query string)."""
    return re.compile(r"^https?://[^/]+" + re.escape(path) + r"(\?.*)?$")


def password_step(page: Page, email: str, password: str, *, acknowledge: bool = True) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    if acknowledge:
        page.check("#acknowledge_notice")
    page.click("#sign-in")


def code_step(page: Page, code: str) -> None:
    expect(page).to_have_url(path_is("/tf-validate"))
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.fill("#code", code)
    page.click("#submit-code")


def sign_in_demo(page: Page, email: str) -> None:
    password_step(page, email, demo_password(email))
    code_step(page, totp_code(demo_totp_key(email)))


def test_agent_signs_in_with_notice_password_and_code_then_signs_out(page):
    page.goto("/login")
    notice = page.locator("#system-use-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Everything done here is recorded and monitored")

    # Without ticking the notice, nobody gets past the first page.
    password_step(page, AGENT, demo_password(AGENT), acknowledge=False)
    expect(page).to_have_url(path_is("/login"))
    expect(page.get_by_text("Acknowledge the system-use notice to sign in.")).to_be_visible()
    expect(page.locator("#code")).to_have_count(0)

    password_step(page, AGENT, demo_password(AGENT))
    code_step(page, totp_code(demo_totp_key(AGENT)))

    expect(page).to_have_url(path_is("/dashboard"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Work now")
    expect(page.get_by_role("heading", name="Good to see you, Jordan Agent")).to_be_visible()
    expect(page.locator(".whoami")).to_contain_text("Jordan Agent")

    page.click("#sign-out")
    expect(page).to_have_url(path_is("/login"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#sign-out")).to_have_count(0)

    page.goto("/dashboard")
    expect(page).to_have_url(path_is("/login"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Jordan Agent")).to_have_count(0)


def test_account_locked_after_five_wrong_passwords_refuses_the_right_one(page):
    for attempt in range(5):
        password_step(page, COMPLIANCE, f"not-the-password-{attempt}")
        expect(page).to_have_url(path_is("/login"))
        expect(page.locator(".flash-error, .field .error").first).to_be_visible()

    password_step(page, COMPLIANCE, demo_password(COMPLIANCE))
    expect(page).to_have_url(path_is("/login"))
    expect(page.get_by_text(LOCKED_MESSAGE)).to_be_visible()
    expect(page.locator("#code")).to_have_count(0)

    page.goto("/dashboard")
    expect(page).to_have_url(path_is("/login"))
    expect(page.get_by_text("Casey Compliance")).to_have_count(0)


def test_admin_creates_staff_account_and_newcomer_enrols_then_changes_password(new_page):
    from passlib.totp import TOTP

    admin = new_page()
    sign_in_demo(admin, ADMIN)
    expect(admin).to_have_url(path_is("/dashboard"))
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Accounts").click()
    expect(admin.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    admin.click("#new-account")

    admin.fill("#email", "robin.newcomer@referrals.example")
    admin.fill("#full_name", "Robin Newcomer")
    admin.get_by_label("Agent", exact=True).check()
    admin.get_by_role("button", name="Create account").click()

    expect(admin.get_by_role("heading", level=1)).to_have_text("Account created")
    expect(admin.locator("main")).to_contain_text("robin.newcomer@referrals.example")
    one_time_password = admin.locator("#one-time-password").inner_text().strip()
    assert len(one_time_password) >= 16

    newcomer = new_page()
    password_step(newcomer, "robin.newcomer@referrals.example", one_time_password)

    # No authenticator yet: enrolment comes before anything else.
    expect(newcomer).to_have_url(path_is("/tf-setup"))
    expect(newcomer.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    start = newcomer.locator("#start-setup")
    if start.count():
        start.click()
    qr = newcomer.locator("img#qrcode")
    expect(qr).to_be_visible()
    assert newcomer.evaluate("img => img.complete && img.naturalWidth > 0", qr.element_handle())
    # Shown in groups separated by spaces, as authenticator apps accept it typed in.
    key = re.sub(r"\s+", "", newcomer.locator("#totp-key").inner_text())
    assert re.fullmatch(r"[A-Z2-7]{16,}", key), key
    newcomer.fill("#code", TOTP(key=key, format="base32").generate().token)
    newcomer.click("#submit-code")

    # Then the one-time password must go.
    expect(newcomer).to_have_url(path_is("/account/password"))
    expect(newcomer.get_by_text("You signed in with a one-time password")).to_be_visible()
    newcomer.goto("/dashboard")
    expect(newcomer).to_have_url(path_is("/account/password"))

    newcomer.fill("#password", one_time_password)
    newcomer.fill("#new_password", "a quiet lighthouse on the northern cliffs")
    newcomer.fill("#new_password_confirm", "a quiet lighthouse on the northern cliffs")
    newcomer.get_by_role("button", name="Change password").click()

    expect(newcomer).to_have_url(path_is("/dashboard"))
    expect(newcomer.get_by_role("heading", name="Good to see you, Robin Newcomer")).to_be_visible()


def test_agency_officer_lands_in_portal_and_cannot_see_staff_pages(page):
    sign_in_demo(page, OFFICER)

    expect(page).to_have_url(path_is("/portal/"))
    expect(page.locator("main")).to_contain_text("Metro City Police Department")
    expect(page.locator(".whoami")).to_contain_text("Det. Alex Rivera")

    response = page.goto("/dashboard")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_text("Good to see you")).to_have_count(0)
