"""Sessions end after 30 idle minutes or 12 hours in all, on the server; cookies are strict."""

import json
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie

import pytest
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.core import clock
from referrals.extensions import db
from tests import factories
from tests.conftest import csrf_from


def _expiries(user_id):
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "session.expired", AuditEvent.object_id == str(user_id))
        .order_by(AuditEvent.seq)
    ).all()
    return [json.loads(e.after)["reason"] for e in events]


def _set_cookies(response):
    return response.headers.getlist("Set-Cookie")


@pytest.fixture
def frozen_clock():
    class Frozen:
        def __init__(self):
            self.started = self.moment = clock.now()
            clock.freeze(self.moment)

        def move(self, **delta):
            self.moment = self.moment + timedelta(**delta)
            clock.freeze(self.moment)

    try:
        yield Frozen()
    finally:
        clock.freeze(None)


def _assert_signed_out(response):
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# --- idle and absolute limits --------------------------------------------------------------


def test_thirty_one_idle_minutes_sign_the_user_out(client, as_role, frozen_clock):
    user = as_role("agent")
    assert client.get("/dashboard").status_code == 200
    frozen_clock.move(minutes=31)
    _assert_signed_out(client.get("/dashboard"))
    assert _expiries(user.id) == ["30 minutes without activity"]
    # Signed out for good, not just for one request.
    _assert_signed_out(client.get("/dashboard"))
    assert len(_expiries(user.id)) == 1


def test_expired_session_says_why_on_the_sign_in_page(client, as_role, frozen_clock):
    as_role("agent")
    frozen_clock.move(minutes=31)
    page = client.get("/dashboard", follow_redirects=True)
    assert page.request.path == "/login"
    assert "You were signed out (30 minutes without activity)" in page.text


def test_twenty_nine_idle_minutes_keep_the_session(client, as_role, frozen_clock):
    user = as_role("agent")
    frozen_clock.move(minutes=29)
    assert client.get("/dashboard").status_code == 200
    assert _expiries(user.id) == []


def test_activity_every_twenty_minutes_keeps_the_session_up_to_twelve_hours(
    client, as_role, frozen_clock
):
    user = as_role("agent")
    # 36 steps of 20 minutes: exactly 12 hours after sign-in, still inside.
    for _ in range(36):
        frozen_clock.move(minutes=20)
        assert client.get("/dashboard").status_code == 200
    assert frozen_clock.moment - frozen_clock.started == timedelta(hours=12)
    assert _expiries(user.id) == []

    frozen_clock.move(minutes=1)  # 12 h 1 min: over, however busy the user is
    _assert_signed_out(client.get("/dashboard"))
    assert _expiries(user.id) == ["12 hours since sign-in"]


def test_api_request_with_an_expired_session_gets_json_401(client, as_role, frozen_clock):
    as_role("agent")
    frozen_clock.move(minutes=31)
    response = client.get("/api/v1/nonexistent")
    assert response.status_code == 401
    assert response.is_json
    assert response.json["message"] == (
        "You were signed out (30 minutes without activity). Sign in again to continue."
    )


def test_copied_cookie_is_refused_after_the_idle_limit(app, client, as_role, frozen_clock):
    """The limit is kept on the server: a cookie replayed by another client is refused too."""
    as_role("agent")
    cookie = client.get_cookie("referrals_session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    assert thief.get("/dashboard").status_code == 200
    frozen_clock.move(minutes=31)
    _assert_signed_out(thief.get("/dashboard"))


def test_signing_in_again_starts_a_fresh_session(client, sign_in, make_user, frozen_clock):
    user = make_user("agent")
    sign_in(user)
    frozen_clock.move(minutes=31)
    _assert_signed_out(client.get("/dashboard"))
    sign_in.password_step(user.email)
    assert sign_in.code_step(factories.totp_code(user, offset_steps=1)).status_code == 302
    assert client.get("/dashboard").status_code == 200


# --- cookies -----------------------------------------------------------------------------


def _session_cookie_header(response):
    headers = [h for h in _set_cookies(response) if h.startswith("referrals_session=")]
    assert headers, _set_cookies(response)
    return headers[-1]


def test_session_cookie_is_secure_httponly_samesite_strict(client, sign_in, make_user):
    user = make_user("agent")
    sign_in.password_step(user.email)
    response = sign_in.code_step(factories.totp_code(user))
    header = _session_cookie_header(response)
    attributes = [part.strip().lower() for part in header.split(";")]
    assert "secure" in attributes
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    # Not a cookie for every subdomain of the host.
    assert not any(a.startswith("domain=") for a in attributes)


def test_session_cookie_lives_no_longer_than_the_idle_limit(client, sign_in, make_user):
    user = make_user("agent")
    sign_in.password_step(user.email)
    response = sign_in.code_step(factories.totp_code(user))
    cookie = SimpleCookie()
    cookie.load(_session_cookie_header(response))
    morsel = cookie["referrals_session"]
    # The session is permanent so that the browser forgets it after 30 minutes.
    assert morsel["expires"]
    expires = parsedate_to_datetime(morsel["expires"])
    assert expires - datetime.now(UTC) <= timedelta(minutes=30, seconds=5)


def test_no_remember_me_cookie_is_ever_set(client, sign_in, make_user):
    user = make_user("agent")
    page = client.get("/login")
    # Even if a client asks for it.
    responses = [client.post("/login", data={
        "email": user.email, "password": "correct horse battery staple 42",
        "acknowledge_notice": "y", "remember": "y", "csrf_token": csrf_from(page.text),
    })]
    responses.append(sign_in.code_step(factories.totp_code(user)))
    responses.append(client.get("/dashboard"))
    assert responses[1].status_code == 302 and responses[2].status_code == 200
    for response in responses:
        for header in _set_cookies(response):
            assert not header.lower().startswith("remember_token"), header
    assert client.get_cookie("remember_token") is None


def test_sign_in_page_offers_no_remember_me_box(client):
    assert 'name="remember"' not in client.get("/login").text


def test_signing_in_again_after_an_idle_sign_out_goes_back_to_the_page(
        client, as_role, frozen_clock):
    from tests import factories
    from tests.conftest import TEST_PASSWORD, csrf_from

    user = as_role("agent")
    frozen_clock.move(minutes=31)
    response = client.get("/cases/?view=mine")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert login_url.startswith("/login?next=") and "cases" in login_url
    page = client.get(login_url)
    response = client.post(login_url, data={
        "email": user.email, "password": TEST_PASSWORD, "acknowledge_notice": "y",
        "csrf_token": csrf_from(page.text)})
    assert response.status_code == 302
    code_url = response.headers["Location"]
    assert code_url.startswith("/tf-validate?next=")
    page = client.get(code_url)
    # The next code: the one used to sign in the first time is accepted only once.
    response = client.post(code_url, data={"code": factories.totp_code(user, offset_steps=1),
                                                 "csrf_token": csrf_from(page.text)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/cases/?view=mine"


def test_a_next_address_off_this_site_is_refused(client, make_user):
    from tests.conftest import TEST_PASSWORD, csrf_from

    user = make_user("agent")
    login_url = "/login?next=https%3A%2F%2Fevil.example%2Fphish"
    page = client.get(login_url)
    response = client.post(login_url, data={
        "email": user.email, "password": TEST_PASSWORD, "acknowledge_notice": "y",
        "csrf_token": csrf_from(page.text)})
    assert response.status_code == 200
    assert "Redirections outside the domain are forbidden" in response.text
    assert client.get("/dashboard").status_code == 302  # not signed in
