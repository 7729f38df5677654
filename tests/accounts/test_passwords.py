"""Password rules (NIST SP 800-63B: length, not common, no composition rules), argon2
storage, and the change forced after a one-time password."""

import gzip
from importlib import resources

import pytest
from flask import current_app
from flask_security import verify_password
from sqlalchemy import select

from referrals.accounts.models import User
from referrals.accounts.passwords import ReferralsPasswordUtil, password_problems
from referrals.audit.models import AuditEvent
from referrals.extensions import db
from tests import factories
from tests.conftest import TEST_PASSWORD, SignIn, csrf_from

COMMON = "password1234"


def _reload(user):
    db.session.expire_all()
    return db.session.get(User, user.id)


def _actions(user_id):
    query = (
        select(AuditEvent.action)
        .where(AuditEvent.object_id == str(user_id))
        .order_by(AuditEvent.seq)
    )
    return list(db.session.scalars(query))


def _change_password(client, new_password, current=TEST_PASSWORD, confirm=None):
    page = client.get("/account/password")
    assert page.status_code == 200
    return client.post(
        "/account/password",
        data={
            "password": current,
            "new_password": new_password,
            "new_password_confirm": new_password if confirm is None else confirm,
            "csrf_token": csrf_from(page.text),
        },
    )


def _phrase(length):
    """A lower-case phrase of exactly ``length`` characters (no digits, no capitals)."""
    words = "quiet river under amber lantern while seven herons sleep "
    return (words * (length // len(words) + 1))[:length].rstrip().ljust(length, "x")


# --- the rules, asked directly -------------------------------------------------------


def test_common_password_example_is_in_the_bundled_list():
    data = resources.files("referrals.accounts").joinpath("data/common-passwords.txt.gz")
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        assert COMMON in {line.strip().lower() for line in lines}


@pytest.mark.parametrize(
    ("length", "accepted"),
    [(11, False), (12, True), (64, True), (128, True), (129, False)],
)
def test_password_length_limits(app, length, accepted):
    password = _phrase(length)
    assert len(password) == length
    with app.test_request_context():
        problems = password_problems(password)
    assert (problems == []) is accepted, problems


def test_too_short_and_too_long_say_so_in_plain_words(app):
    with app.test_request_context():
        assert password_problems(_phrase(11)) == ["Use at least 12 characters."]
        assert password_problems(_phrase(129)) == ["Use at most 128 characters."]


@pytest.mark.parametrize("password", [COMMON, "PASSWORD1234", "Password1234"])
def test_common_password_is_refused_whatever_its_case(app, password):
    with app.test_request_context():
        problems = password_problems(password)
    assert problems == ["This password is on a list of common passwords. Choose another."]


def test_no_composition_rules(app):
    with app.test_request_context():
        # No capital, no digit, no symbol: long enough and not common, so fine.
        assert password_problems("quiet river under amber lantern") == []
        assert password_problems("aaaaaaaaaaaabbbb") == []


def test_email_address_as_password_is_refused(app):
    with app.test_request_context():
        assert password_problems("someone.long@test.example", email="someone.long@test.example")
        assert password_problems("someone.long.name", email="someone.long.name@test.example")


def test_flask_security_validates_new_passwords_with_our_rules(app):
    """Regression: init_app() ignored password_util_cls, so Flask-Security's own rules
    (length only) ran and common passwords were accepted on the change page."""
    with app.test_request_context():
        util = current_app.extensions["security"].password_util
        assert isinstance(util, ReferralsPasswordUtil)
        problems, _ = util.validate(COMMON, False)
        assert problems


# --- through the change-password page ----------------------------------------------


def test_change_password_page_refuses_eleven_characters(client, as_role):
    user = as_role("agent")
    before = _reload(user).password
    response = _change_password(client, _phrase(11))
    assert response.status_code == 200
    assert "Use at least 12 characters." in response.text
    assert _reload(user).password == before
    assert "account.password_changed" not in _actions(user.id)


@pytest.mark.parametrize("length", [12, 64, 128])
def test_change_password_page_accepts_lengths_from_12_to_128(client, as_role, length):
    user = as_role("agent")
    new_password = _phrase(length)
    response = _change_password(client, new_password)
    assert response.status_code == 302, response.text
    assert "account.password_changed" in _actions(user.id)
    # The new password is the one that works now.
    with client.application.test_request_context():
        assert verify_password(new_password, _reload(user).password)
        assert not verify_password(TEST_PASSWORD, _reload(user).password)


def test_change_password_page_refuses_129_characters(client, as_role):
    user = as_role("agent")
    before = _reload(user).password
    response = _change_password(client, _phrase(129))
    assert response.status_code == 200
    assert "Use at most 128 characters." in response.text
    assert _reload(user).password == before


def test_change_password_page_refuses_a_common_password(client, as_role):
    user = as_role("agent")
    before = _reload(user).password
    response = _change_password(client, COMMON)
    assert response.status_code == 200
    assert "list of common passwords" in response.text
    assert _reload(user).password == before
    assert "account.password_changed" not in _actions(user.id)


def test_change_password_page_accepts_an_all_lowercase_phrase(client, as_role):
    user = as_role("agent")
    response = _change_password(client, "lanterns glow over the quiet harbour")
    assert response.status_code == 302
    assert "account.password_changed" in _actions(user.id)


def test_change_password_needs_the_current_password(client, as_role):
    user = as_role("agent")
    before = _reload(user).password
    response = _change_password(client, "lanterns glow over the quiet harbour",
                                current="not my current password")
    assert response.status_code == 200
    assert _reload(user).password == before


def test_change_password_needs_matching_confirmation(client, as_role):
    user = as_role("agent")
    before = _reload(user).password
    response = _change_password(client, "lanterns glow over the quiet harbour",
                                confirm="lanterns glow over the quiet harbor")
    assert response.status_code == 200
    assert _reload(user).password == before


def test_change_password_without_csrf_token_is_refused(client, as_role):
    user = as_role("agent")
    before = _reload(user).password
    response = client.post("/account/password", data={
        "password": TEST_PASSWORD,
        "new_password": "lanterns glow over the quiet harbour",
        "new_password_confirm": "lanterns glow over the quiet harbour",
    })
    assert response.status_code == 400
    assert _reload(user).password == before


def test_change_password_page_needs_sign_in(client):
    response = client.get("/account/password")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_stored_password_hash_is_argon2(client, as_role):
    user = as_role("agent")
    assert _reload(user).password.startswith("$argon2")
    _change_password(client, "lanterns glow over the quiet harbour")
    stored = _reload(user).password
    assert stored.startswith("$argon2id$")
    assert "lanterns" not in stored


def test_changing_the_password_ends_other_sessions(app, client, sign_in, make_user):
    user = make_user("agent")
    other = app.test_client()
    other.environ_base["HTTP_REFERER"] = "https://localhost/"
    SignIn(other)(user)
    sign_in.password_step(user.email)
    sign_in.code_step(factories.totp_code(user, offset_steps=1))
    assert other.get("/dashboard").status_code == 200

    assert _change_password(client, "lanterns glow over the quiet harbour").status_code == 302
    assert client.get("/dashboard").status_code == 200  # the session that changed it goes on
    assert other.get("/dashboard").status_code == 302  # every other session has ended


# --- one-time passwords must be changed --------------------------------------------

PAGES_BEHIND_A_PENDING_CHANGE = ["/", "/dashboard", "/admin/accounts/", "/admin/accounts/new",
                                 "/audit/"]


@pytest.mark.parametrize("path", PAGES_BEHIND_A_PENDING_CHANGE)
def test_pending_password_change_redirects_every_page_to_the_change_page(
    client, sign_in, make_user, path
):
    user = make_user("admin+compliance", password_change_required=True)
    sign_in(user)
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/password")


def test_pending_password_change_sends_sign_in_straight_to_the_change_page(
    client, sign_in, make_user
):
    user = make_user("agent", password_change_required=True)
    sign_in.password_step(user.email)
    response = sign_in.code_step(factories.totp_code(user))
    assert response.status_code == 302
    response = client.get(response.headers["Location"], follow_redirects=True)
    assert response.request.path == "/account/password"
    assert "You signed in with a one-time password" in response.text


def test_pending_password_change_still_allows_sign_out(client, sign_in, make_user):
    user = make_user("agent", password_change_required=True)
    sign_in(user)
    page = client.get("/account/password")
    response = client.post("/logout", data={"csrf_token": csrf_from(page.text)})
    assert response.status_code == 302
    assert client.get("/account/password").status_code == 302


def test_changing_the_password_clears_the_flag_and_is_audited(client, sign_in, make_user):
    user = make_user("agent", password_change_required=True)
    sign_in(user)
    assert client.get("/dashboard").status_code == 302

    response = _change_password(client, "lanterns glow over the quiet harbour")
    assert response.status_code == 302
    user = _reload(user)
    assert user.password_change_required is False
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "account.password_changed",
                                 AuditEvent.object_id == str(user.id))
    ).all()
    assert len(events) == 1
    assert events[0].actor_id == user.id
    assert client.get("/dashboard").status_code == 200


def test_refused_new_password_keeps_the_change_pending(client, sign_in, make_user):
    user = make_user("agent", password_change_required=True)
    sign_in(user)
    response = _change_password(client, COMMON)
    assert response.status_code == 200
    assert _reload(user).password_change_required is True
    assert client.get("/dashboard").status_code == 302
