"""Sign-in: password then TOTP, the system-use notice, single-use codes, lockout, rate limit."""

import json
import re
from dataclasses import replace
from datetime import timedelta

import pytest
from passlib.totp import TOTP
from sqlalchemy import select

from referrals.accounts.models import LOCKED_MESSAGE, User
from referrals.accounts.sign_in import DISABLED_MESSAGE, SingleUseTotp
from referrals.audit.models import AuditEvent
from referrals.core import clock
from referrals.extensions import db, limiter
from tests import factories
from tests.conftest import csrf_from


def _actions(user_id=None):
    query = select(AuditEvent.action).order_by(AuditEvent.seq)
    if user_id is not None:
        query = query.where(AuditEvent.object_id == str(user_id))
    return list(db.session.scalars(query))


def _events(action, user_id=None):
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
    if user_id is not None:
        query = query.where(AuditEvent.object_id == str(user_id))
    return list(db.session.scalars(query))


def _after(event):
    return json.loads(event.after) if event.after else None


def _reload(user):
    db.session.expire_all()
    return db.session.get(User, user.id)


def _sign_out(client):
    page = client.get("/dashboard")
    assert page.status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_from(page.text)})
    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 302


def _is_signed_in(client):
    return client.get("/dashboard").status_code == 200


@pytest.fixture
def frozen_clock():
    """Stops the app clock at the current time; the test moves it with ``frozen_clock.move``."""

    class Frozen:
        def __init__(self):
            self.moment = clock.now()
            clock.freeze(self.moment)

        def move(self, **delta):
            self.moment = self.moment + timedelta(**delta)
            clock.freeze(self.moment)
            return self.moment

    try:
        yield Frozen()
    finally:
        clock.freeze(None)


# --- password, code, notice ---------------------------------------------------------------


def test_password_then_totp_reaches_dashboard(client, sign_in, make_user):
    user = make_user("agent")
    response = sign_in.password_step(user.email)
    assert response.status_code == 302 and "/tf-validate" in response.headers["Location"]
    # The password alone does not sign anyone in.
    assert client.get("/dashboard").status_code == 302

    response = sign_in.code_step(factories.totp_code(user))
    assert response.status_code == 302
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert user.email in page.text
    assert "sign_in.succeeded" in _actions(user.id)


def test_successful_sign_in_is_audited_with_notice_acknowledged(client, sign_in, make_user):
    user = make_user("agent")
    sign_in(user)
    [event] = _events("sign_in.succeeded", user.id)
    assert event.actor_id == user.id
    assert _after(event) == {
        "factors": ["password", "totp"],
        "system_use_notice_acknowledged": True,
    }
    assert event.ip == "127.0.0.1"
    assert event.request_id


def test_sign_in_page_shows_the_system_use_notice(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert "System-use notice" in page.text
    assert "recorded and monitored" in page.text
    assert 'name="acknowledge_notice"' in page.text


def test_sign_in_without_acknowledging_the_notice_is_refused(client, sign_in, make_user):
    user = make_user("agent")
    response = sign_in.password_step(user.email, acknowledge=False)
    assert response.status_code == 200  # the form again, not a redirect to the code step
    assert "Acknowledge the system-use notice to sign in." in response.text
    # The code step is not reachable: the password step did not complete.
    assert client.get("/tf-validate").status_code == 302
    assert not _is_signed_in(client)
    assert "sign_in.succeeded" not in _actions(user.id)


def test_wrong_password_is_refused_and_audited(client, sign_in, make_user):
    user = make_user("agent")
    response = sign_in.password_step(user.email, "not the right password at all")
    assert response.status_code == 200
    assert "/tf-validate" not in response.headers.get("Location", "")
    assert not _is_signed_in(client)
    [event] = _events("sign_in.failed", user.id)
    assert _after(event) == {"reason": "password", "consecutive_failures": 1}
    assert event.actor_kind == "anonymous"
    assert user.email in event.actor_label
    assert _reload(user).failed_sign_in_count == 1


def test_wrong_password_message_does_not_say_whether_the_account_exists(client, sign_in, make_user):
    user = make_user("agent")
    wrong_password = sign_in.password_step(user.email, "not the right password at all")
    unknown = sign_in.password_step("nobody-here@test.example", "not the right password at all")
    assert wrong_password.status_code == unknown.status_code == 200

    def error_lines(html):
        return sorted(line.strip() for line in html.splitlines() if "flash-error" in line
                      or 'class="error"' in line)

    assert error_lines(wrong_password.text) == error_lines(unknown.text)
    assert error_lines(wrong_password.text), "a refusal must say something"


def test_unknown_email_is_audited_as_unknown_account(client, sign_in):
    response = sign_in.password_step("nobody-here@test.example", "whatever password 123")
    assert response.status_code == 200
    assert not _is_signed_in(client)
    events = [
        e for e in _events("sign_in.failed") if "nobody-here@test.example" in e.actor_label
    ]
    assert len(events) == 1
    assert _after(events[0]) == {"reason": "unknown account"}
    assert events[0].object_id is None


def test_disabled_user_cannot_sign_in(client, sign_in, make_user):
    user = make_user("agent")
    user.active = False
    db.session.flush()
    response = sign_in.password_step(user.email)
    assert response.status_code == 200
    assert "/tf-validate" not in response.headers.get("Location", "")
    assert client.get("/tf-validate").status_code == 302
    assert not _is_signed_in(client)
    assert "sign_in.succeeded" not in _actions(user.id)


def test_account_disabled_between_password_and_code_cannot_finish_sign_in(client, sign_in, make_user):
    user = make_user("agent")
    assert sign_in.password_step(user.email).status_code == 302
    user.active = False
    db.session.flush()
    response = sign_in.code_step(factories.totp_code(user))
    assert response.status_code == 200
    assert DISABLED_MESSAGE in response.text
    assert not _is_signed_in(client)
    assert "sign_in.succeeded" not in _actions(user.id)
    assert _reload(user).login_count in (None, 0)


def test_password_alone_does_not_open_the_dashboard(client, sign_in, make_user):
    user = make_user("agent")
    sign_in.password_step(user.email)
    response = client.get("/dashboard")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert client.get("/admin/accounts/").status_code == 302


def test_wrong_code_is_refused_and_audited(client, sign_in, make_user):
    user = make_user("agent")
    sign_in.password_step(user.email)
    right = factories.totp_code(user)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    response = sign_in.code_step(wrong)
    assert response.status_code == 200
    assert not _is_signed_in(client)
    [event] = _events("sign_in.failed", user.id)
    assert _after(event) == {"reason": "code", "consecutive_failures": 1}


# --- single-use codes ---------------------------------------------------------------------


def test_totp_code_is_accepted_only_once(client, sign_in, make_user):
    user = make_user("agent")
    code = factories.totp_code(user)
    sign_in.password_step(user.email)
    assert sign_in.code_step(code).status_code == 302
    assert _is_signed_in(client)
    _sign_out(client)
    assert "sign_out" in _actions(user.id)

    # The same code again, even with the right password: refused.
    assert sign_in.password_step(user.email).status_code == 302
    response = sign_in.code_step(code)
    assert response.status_code == 200
    assert not _is_signed_in(client)

    # The next time step's code is a new code, and works.
    response = sign_in.code_step(factories.totp_code(user, offset_steps=1))
    assert response.status_code == 302
    assert _is_signed_in(client)


def test_code_from_an_earlier_time_step_is_refused_after_a_later_one_was_used(
    client, sign_in, make_user
):
    user = make_user("agent")
    sign_in.password_step(user.email)
    assert sign_in.code_step(factories.totp_code(user, offset_steps=1)).status_code == 302
    _sign_out(client)
    sign_in.password_step(user.email)
    # Still inside the validity window, but older than the code already used.
    assert sign_in.code_step(factories.totp_code(user)).status_code == 200
    assert not _is_signed_in(client)


def test_flask_security_uses_the_single_use_totp_factory(app):
    """Regression: init_app() ignored totp_cls, so the stock factory (no replay check) ran."""
    assert isinstance(app.extensions["security"].totp_factory, SingleUseTotp)


# --- enrolment ----------------------------------------------------------------------------


def _enrol(client, sign_in, user):
    """Password, then set up an authenticator from the key on the page; returns the key."""
    response = sign_in.password_step(user.email)
    assert response.status_code == 302 and "/tf-setup" in response.headers["Location"]
    page = client.get("/tf-setup")
    page = client.post("/tf-setup", data={"setup": "authenticator",
                                          "csrf_token": csrf_from(page.text)})
    key = re.search(r'id="totp-key">([^<]+)</code>', page.text).group(1).replace(" ", "")
    response = client.post("/tf-validate", data={
        "code": TOTP(key=key, format="base32").generate().token,
        "csrf_token": csrf_from(page.text),
    })
    assert response.status_code == 302
    return key


def test_user_without_an_authenticator_must_enrol_before_signing_in(client, sign_in, make_user):
    user = make_user("agent", enrolled=False)
    response = sign_in.password_step(user.email)
    assert "/tf-setup" in response.headers["Location"]
    assert not _is_signed_in(client)
    _enrol(client, sign_in, user)
    assert _is_signed_in(client)
    assert _reload(user).tf_primary_method == "authenticator"


def test_first_authenticator_enrolment_is_audited(client, sign_in, make_user):
    """Regression: enrolment at sign-in fires tf_code_confirmed, not tf_profile_changed,
    so a new second factor was added with no audit event."""
    user = make_user("agent", enrolled=False)
    _enrol(client, sign_in, user)
    actions = _actions(user.id)
    assert actions.count("account.two_factor_enrolled") == 1
    assert actions.index("account.two_factor_enrolled") < actions.index("sign_in.succeeded")
    [event] = _events("account.two_factor_enrolled", user.id)
    assert _after(event) == {"method": "authenticator"}


def test_ordinary_sign_in_does_not_audit_an_enrolment(client, sign_in, make_user):
    user = make_user("agent")
    sign_in(user)
    assert "account.two_factor_enrolled" not in _actions(user.id)


# --- lockout ------------------------------------------------------------------------------


def _fail_password(sign_in, user, times):
    for _ in range(times):
        response = sign_in.password_step(user.email, "not the right password at all")
        assert response.status_code == 200


def test_five_wrong_passwords_lock_the_account(client, sign_in, make_user):
    user = make_user("agent")
    _fail_password(sign_in, user, 4)
    assert _reload(user).locked_at is None
    assert "account.locked" not in _actions(user.id)

    _fail_password(sign_in, user, 1)
    assert _reload(user).locked_at is not None
    [locked] = _events("account.locked", user.id)
    assert _after(locked) == {"consecutive_failures": 5}
    failures = [_after(e)["consecutive_failures"] for e in _events("sign_in.failed", user.id)]
    assert failures == [1, 2, 3, 4, 5]


def test_locked_account_refuses_the_right_password_with_the_locked_message(
    client, sign_in, make_user
):
    user = make_user("agent")
    _fail_password(sign_in, user, 5)
    response = sign_in.password_step(user.email)
    assert response.status_code == 200
    assert "/tf-validate" not in response.headers.get("Location", "")
    assert LOCKED_MESSAGE in response.text
    # The code step is not reached.
    assert client.get("/tf-validate").status_code == 302
    assert not _is_signed_in(client)
    assert "sign_in.succeeded" not in _actions(user.id)


def test_locked_message_is_not_shown_for_a_wrong_password(client, sign_in, make_user):
    # Only someone who knows the password learns that the account is locked.
    user = make_user("agent")
    _fail_password(sign_in, user, 5)
    response = sign_in.password_step(user.email, "not the right password at all")
    assert response.status_code == 200
    assert "This account is locked" not in response.text


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(
    client, sign_in, make_user, frozen_clock
):
    user = make_user("agent")
    for _ in range(4):
        _fail_password(sign_in, user, 1)
        frozen_clock.move(minutes=4)
    # The fifth failure is 16 minutes after the first: a new window starts.
    _fail_password(sign_in, user, 1)
    user = _reload(user)
    assert user.locked_at is None
    assert user.failed_sign_in_count == 1
    assert "account.locked" not in _actions(user.id)
    sign_in(user)
    assert _is_signed_in(client)


def test_five_failures_just_inside_fifteen_minutes_lock(client, sign_in, make_user, frozen_clock):
    user = make_user("agent")
    for _ in range(4):
        _fail_password(sign_in, user, 1)
        frozen_clock.move(minutes=3, seconds=30)
    _fail_password(sign_in, user, 1)  # 14 minutes after the first
    assert _reload(user).locked_at is not None


def test_wrong_codes_count_towards_lockout_and_then_the_right_code_is_refused(
    client, sign_in, make_user
):
    user = make_user("agent")
    assert sign_in.password_step(user.email).status_code == 302
    right = factories.totp_code(user)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert sign_in.code_step(wrong).status_code == 200
    assert _reload(user).locked_at is not None
    assert "account.locked" in _actions(user.id)

    response = sign_in.code_step(right)
    assert response.status_code == 200
    assert LOCKED_MESSAGE in response.text
    assert not _is_signed_in(client)
    assert "sign_in.succeeded" not in _actions(user.id)


def test_successful_sign_in_resets_the_failure_count(client, sign_in, make_user):
    user = make_user("agent")
    _fail_password(sign_in, user, 4)
    sign_in(user)
    assert _reload(user).failed_sign_in_count == 0
    _sign_out(client)

    # Four more failures are not five in a row: the account stays open.
    _fail_password(sign_in, user, 4)
    user = _reload(user)
    assert user.failed_sign_in_count == 4
    assert user.locked_at is None


def test_admin_unlock_lets_the_user_sign_in_again(client, app, sign_in, make_user):
    user = make_user("agent")
    _fail_password(sign_in, user, 5)
    assert _reload(user).locked_at is not None

    admin = make_user("admin")
    sign_in(admin)
    page = client.get(f"/admin/accounts/{user.id}")
    assert page.status_code == 200 and 'id="unlock"' in page.text
    response = client.post(f"/admin/accounts/{user.id}/unlock",
                           data={"csrf_token": csrf_from(page.text)})
    assert response.status_code == 302
    [event] = _events("account.unlocked", user.id)
    assert event.actor_id == admin.id
    assert json.loads(event.before)["locked"] is True
    assert _after(event)["locked"] is False
    _sign_out(client)

    user = _reload(user)
    assert user.locked_at is None and user.failed_sign_in_count == 0
    response = sign_in.password_step(user.email)
    assert response.status_code == 302
    # The admin used the current code; the user's own code is a different account's code.
    assert sign_in.code_step(factories.totp_code(user)).status_code == 302
    assert _is_signed_in(client)


def test_unlock_needs_a_csrf_token(client, sign_in, make_user):
    user = make_user("agent")
    _fail_password(sign_in, user, 5)
    sign_in(make_user("admin"))
    response = client.post(f"/admin/accounts/{user.id}/unlock", data={})
    assert response.status_code == 400
    assert _reload(user).locked_at is not None
    assert "account.unlocked" not in _actions(user.id)


def test_non_admin_cannot_unlock(client, sign_in, make_user):
    user = make_user("agent")
    _fail_password(sign_in, user, 5)
    supervisor = make_user("supervisor")
    sign_in(supervisor)
    page = client.get("/dashboard")
    response = client.post(f"/admin/accounts/{user.id}/unlock",
                           data={"csrf_token": csrf_from(page.text)})
    assert response.status_code == 403
    assert _reload(user).locked_at is not None


# --- rate limit ---------------------------------------------------------------------------


@pytest.fixture
def low_sign_in_limit(app):
    settings = app.config["REFERRALS_SETTINGS"]
    app.config["REFERRALS_SETTINGS"] = replace(settings, sign_in_rate_limit="3 per minute")
    limiter.reset()
    try:
        yield
    finally:
        app.config["REFERRALS_SETTINGS"] = settings
        limiter.reset()


def test_sign_in_posts_are_rate_limited_per_client_address(client, low_sign_in_limit):
    page = client.get("/login")
    token = csrf_from(page.text)
    data = {"email": "nobody-here@test.example", "password": "whatever password 1",
            "acknowledge_notice": "y", "csrf_token": token}
    for _ in range(3):
        assert client.post("/login", data=data).status_code == 200
    response = client.post("/login", data=data)
    assert response.status_code == 429
    assert "Too many attempts" in response.text
    assert "Wait a minute and try again." in response.text
    assert "Traceback" not in response.text
    assert 'File "' not in response.text

    # GETs are not counted: the page still loads.
    assert client.get("/login").status_code == 200
    # Another address has its own allowance.
    other = client.post("/login", data=data, environ_base={"REMOTE_ADDR": "192.0.2.10",
                                                           "HTTP_REFERER": "https://localhost/"})
    assert other.status_code == 200


def test_rate_limit_also_stops_the_right_password(client, sign_in, make_user, low_sign_in_limit):
    user = make_user("agent")
    for _ in range(3):
        sign_in.password_step(user.email, "not the right password at all")
    response = sign_in.password_step(user.email)
    assert response.status_code == 429
    assert not _is_signed_in(client)
    # The limit, not the lockout, refused it: three failures do not lock.
    assert _reload(user).locked_at is None


def test_rate_limit_answers_json_for_api_clients(client, low_sign_in_limit):
    page = client.get("/login")
    data = {"email": "nobody-here@test.example", "password": "whatever password 1",
            "acknowledge_notice": "y", "csrf_token": csrf_from(page.text)}
    for _ in range(3):
        client.post("/login", data=data)
    response = client.post("/login", data=data, headers={"Accept": "application/json"})
    assert response.status_code == 429
    assert response.is_json
    assert response.json["code"] == 429
    assert "Wait a minute" in response.json["message"]
