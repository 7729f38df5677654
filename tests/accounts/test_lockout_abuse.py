"""Lockout that a stranger cannot turn into a denial of service (issue 10, finding 7).

People keep the CJIS 5.9.5 rule (AC-7: five failures in 15 minutes lock sign-in until an
administrator releases it); tokens do not stop; the person and the administrators hear of
a lock at once; one client address cannot lock account after account; the admin page says
where the failures came from.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from referrals.accounts.models import LOCKED_MESSAGE, SignInFailure, User
from referrals.audit.models import AuditEvent
from referrals.core import clock
from referrals.extensions import db
from tests import factories
from tests.cases.helpers import bearer, escalation, make_token
from tests.conftest import SignIn
from tests.requests.fixtures import mailbox, override_settings, smtp_server  # noqa: F401

WRONG = "not the right password at all"
ATTACKER = "198.51.100.66"


def _reload(user) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def _actions(user) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_id == str(user.id)).order_by(AuditEvent.seq)))


def _fail(sign_in, user, times):
    for _ in range(times):
        assert sign_in.password_step(user.email, WRONG).status_code == 200


@pytest.fixture
def from_address(client):
    def use(address: str):
        client.environ_base["REMOTE_ADDR"] = address
    return use


def test_a_locked_accounts_api_token_keeps_working(client, sign_in, make_user):
    pipeline = make_user("agent")
    secret = make_token(pipeline, "escalations:write")
    _fail(sign_in, pipeline, 5)
    assert _reload(pipeline).locked_at is not None
    response = client.post("/api/v1/escalations", json=escalation(), headers=bearer(secret))
    assert response.status_code == 201, response.text


def test_the_person_and_the_admins_are_told_of_a_lock(client, sign_in, make_user, mailbox,
                                                      from_address):
    admin = make_user("admin", email="admin.one@test.example")
    user = make_user("agent", email="agent.locked@test.example")
    from_address(ATTACKER)
    _fail(sign_in, user, 4)
    assert mailbox.messages == []
    _fail(sign_in, user, 1)
    [to_user] = mailbox.to(user.email)
    assert to_user["Subject"] == "Your account is locked"
    assert "An administrator must unlock it" in mailbox.body(to_user)
    [to_admin] = mailbox.to(admin.email)
    assert to_admin["Subject"] == f"Account locked: {user.email}"
    body = mailbox.body(to_admin)
    assert ATTACKER in body and f"/admin/accounts/{user.id}" in body


def test_one_address_cannot_lock_account_after_account(client, sign_in, make_user,
                                                       from_address, app):
    limit = app.config["REFERRALS_SETTINGS"].sign_in_failures_per_address
    assert limit == 10
    victims = [make_user("agent") for _ in range(4)]
    from_address(ATTACKER)
    _fail(sign_in, victims[0], 5)
    _fail(sign_in, victims[1], 5)
    assert _reload(victims[0]).locked_at and _reload(victims[1]).locked_at
    # The address has used up its failures: further guesses lock nobody.
    for _ in range(5):
        response = sign_in.password_step(victims[2].email, WRONG)
        assert "Too many failed sign-ins from your network address" in response.text
    assert _reload(victims[2]).locked_at is None
    assert _reload(victims[2]).failed_sign_in_count == 0
    assert "sign_in.throttled" in [e.action for e in db.session.scalars(select(AuditEvent))]
    # Not even the right password gets through from there ...
    response = sign_in.password_step(victims[3].email)
    assert response.status_code == 200 and "/tf-validate" not in response.headers.get(
        "Location", "")
    # ... but the owner, from their own address, signs in.
    from_address("192.0.2.10")
    SignIn(client)(victims[3])
    assert client.get("/dashboard").status_code == 200


def test_unknown_accounts_count_against_the_address_too(sign_in, make_user, from_address):
    from_address(ATTACKER)
    for n in range(10):
        sign_in.password_step(f"nobody{n}@test.example", WRONG)
    user = make_user("agent")
    response = sign_in.password_step(user.email, WRONG)
    assert "Too many failed sign-ins from your network address" in response.text
    assert _reload(user).failed_sign_in_count == 0


def test_the_address_may_try_again_after_the_window(sign_in, make_user, from_address,
                                                    frozen):
    moment = frozen(clock.now())
    from_address(ATTACKER)
    for n in range(10):
        sign_in.password_step(f"nobody{n}@test.example", WRONG)
    frozen(moment + timedelta(minutes=16))
    user = make_user("agent")
    assert sign_in.password_step(user.email).status_code == 302


def test_the_admin_page_shows_where_the_failures_came_from(client, sign_in, make_user,
                                                           from_address):
    user = make_user("agent")
    from_address(ATTACKER)
    _fail(sign_in, user, 2)
    from_address("192.0.2.44")
    _fail(sign_in, user, 1)
    [first, *_] = db.session.scalars(select(SignInFailure).where(
        SignInFailure.user_id == user.id).order_by(SignInFailure.id))
    assert first.ip == ATTACKER and first.reason == "password" and first.at is not None
    sign_in(make_user("admin"))
    page = client.get(f"/admin/accounts/{user.id}").text
    section = page[page.index('id="failed-sign-ins"'):]
    assert section.count(ATTACKER) == 2 and section.count("192.0.2.44") == 1
    assert "Wrong password" in section


def test_a_lock_lasts_until_an_admin_releases_it_by_default(sign_in, make_user, frozen, app):
    assert app.config["REFERRALS_SETTINGS"].lockout_release_after is None
    user = make_user("agent")
    moment = frozen(clock.now())
    _fail(sign_in, user, 5)
    frozen(moment + timedelta(days=3))
    response = sign_in.password_step(user.email)
    assert LOCKED_MESSAGE in response.text.replace("&#39;", "'")


def test_a_lock_expires_by_itself_only_when_the_setting_says_so(
        client, sign_in, make_user, frozen, override_settings):  # noqa: F811
    override_settings(lockout_release_after=timedelta(minutes=30))
    user = make_user("agent")
    moment = frozen(clock.now())
    _fail(sign_in, user, 5)
    frozen(moment + timedelta(minutes=29))
    assert LOCKED_MESSAGE in sign_in.password_step(user.email).text.replace("&#39;", "'")
    frozen(moment + timedelta(minutes=31))
    assert sign_in.password_step(user.email).status_code == 302
    assert sign_in.code_step(factories.totp_code(user)).status_code == 302
    assert _reload(user).locked_at is None
    assert "account.lock_expired" in _actions(user)
