"""Sessions end on the server (issue 10, findings 3 and 4).

A copied session cookie stops working at sign-out, password change, disable and role
change; Flask-Security's own authentication token is never issued and never accepted.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from referrals.accounts import services
from referrals.accounts.models import User
from referrals.cases.models import Case
from referrals.core.identity import Identity
from referrals.extensions import db
from tests import factories
from tests.conftest import TEST_PASSWORD, csrf_from

NEW_PASSWORD = "lighthouse keepers count the gulls at dawn"


def _signed_out(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def _cases() -> int:
    return db.session.scalar(select(func.count(Case.id)))


@pytest.fixture
def thief(app):
    """Another client holding a copy of the signed-in client's session cookie."""

    def copy(client):
        cookie = client.get_cookie("referrals_session")
        assert cookie is not None
        other = app.test_client()
        other.environ_base["HTTP_REFERER"] = "https://localhost/"
        other.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
        assert other.get("/dashboard").status_code == 200
        return other

    return copy


def _open_case(client, csrf: str):
    return client.post("/cases/new", data={"csrf_token": csrf, "title": "Replayed cookie",
                                           "category": "violent_extremism", "priority": "P2",
                                           "summary": "made up"})


def test_a_cookie_copied_before_sign_out_is_refused_after_it(client, as_role, thief):
    as_role("agent")
    copy = thief(client)
    csrf = csrf_from(copy.get("/cases/new").text)
    page = client.get("/dashboard")
    assert client.post("/logout", data={"csrf_token": csrf_from(page.text)}).status_code == 302

    assert _signed_out(copy.get("/dashboard"))
    before = _cases()
    assert _signed_out(_open_case(copy, csrf))
    assert _cases() == before


def test_sign_out_is_audited_and_the_account_can_sign_in_again(client, sign_in, make_user):
    user = make_user("agent")
    sign_in(user)
    old = user.fs_uniquifier
    page = client.get("/dashboard")
    client.post("/logout", data={"csrf_token": csrf_from(page.text)})
    db.session.expire_all()
    assert db.session.get(User, user.id).fs_uniquifier != old
    sign_in.password_step(user.email)
    assert sign_in.code_step(factories.totp_code(user, offset_steps=1)).status_code == 302
    assert client.get("/dashboard").status_code == 200


def test_a_password_change_ends_the_other_sessions(client, as_role, thief):
    as_role("agent")
    copy = thief(client)
    page = client.get("/account/password")
    response = client.post("/account/password", data={
        "password": TEST_PASSWORD, "new_password": NEW_PASSWORD,
        "new_password_confirm": NEW_PASSWORD, "csrf_token": csrf_from(page.text)})
    assert response.status_code == 302, response.text
    assert client.get("/dashboard").status_code == 200  # this session carries on
    assert _signed_out(copy.get("/dashboard"))


@pytest.mark.parametrize("change", ["disable", "access"])
def test_disable_and_role_change_end_the_sessions(client, as_role, thief, make_user, change):
    user = as_role("agent")
    copy = thief(client)
    admin = Identity.for_user(make_user("admin"))
    if change == "disable":
        services.disable_user(admin, user)
    else:
        services.change_access(admin, user, roles=["compliance"], cleared_for_csam=False)
    db.session.flush()
    assert _signed_out(copy.get("/dashboard"))
    assert _signed_out(client.get("/dashboard"))


# --- finding 4: no Flask-Security authentication token -----------------------------------


def test_a_json_sign_in_returns_no_authentication_token(client, make_user):
    user = make_user("agent")
    csrf = csrf_from(client.get("/login").text)
    response = client.post("/login?include_auth_token", json={
        "email": user.email, "password": TEST_PASSWORD, "acknowledge_notice": True},
        headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200, response.text
    assert "authentication_token" not in response.text
    response = client.post("/tf-validate?include_auth_token",
                           json={"code": factories.totp_code(user)},
                           headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200, response.text
    assert "user" in response.json["response"]
    assert client.get("/dashboard").status_code == 200  # signed in, and yet:
    assert "authentication_token" not in response.text
    assert "refresh_token" not in response.text


def test_an_authentication_token_header_does_not_open_staff_pages(app, make_user):
    user = make_user("agent")
    with app.test_request_context():
        minted = user.get_auth_token()  # what Flask-Security would have handed out
    stranger = app.test_client()
    for header in ("Authentication-Token", "Authorization"):
        response = stranger.get("/dashboard", headers={header: minted})
        assert _signed_out(response), header
    assert _signed_out(stranger.get(f"/dashboard?auth_token={minted}"))
    assert stranger.get("/api/v1/holds", headers={"Authentication-Token": minted}
                        ).status_code == 401


def test_an_authentication_token_does_not_outlive_sign_out(client, sign_in, make_user, app):
    """The pen-test's path: sign in, keep the token, sign out, carry on with the token."""
    user = make_user("agent")
    sign_in(user)
    page = client.get("/dashboard")
    client.post("/logout", data={"csrf_token": csrf_from(page.text)})
    db.session.expire_all()
    with app.test_request_context():  # minted from the account as it is now
        minted = db.session.get(User, user.id).get_auth_token()
    assert _signed_out(client.get("/dashboard", headers={"Authentication-Token": minted}))
