"""Flask-Security-Too wired to our rules: notice, lockout, single-use codes, audit."""

from __future__ import annotations

from flask import Flask, current_app, session
from flask_security import (
    LoginForm,
    SQLAlchemyUserDatastore,
    TwoFactorVerifyCodeForm,
    password_changed,
    tf_code_confirmed,
    tf_profile_changed,
    user_authenticated,
)
from flask_login import user_logged_out
from flask_security.totp import Totp
from flask_security.views import default_render_json
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload
from wtforms import BooleanField
from wtforms.validators import DataRequired

from referrals.accounts.models import LOCKED_MESSAGE, Role, User
from referrals.accounts.passwords import ReferralsPasswordUtil
from referrals.accounts import services
from referrals.core.clock import now
from referrals.core.guards import AGENCY_SUSPENDED_MESSAGE
from referrals.extensions import db, limiter, security

DISABLED_MESSAGE = "This account is disabled. Ask an administrator."

SYSTEM_USE_NOTICE = (
    "This is a restricted system of the Law Enforcement Response team. Only authorised "
    "users may use it. Everything done here is recorded and monitored, and may be reviewed "
    "by compliance and disclosed to the authorities. By signing in you consent to this."
)


class UserDatastore(SQLAlchemyUserDatastore):
    """Flask-Security's datastore, with the lookup every signed-in request makes (the session's
    user by ``fs_uniquifier``, from Flask-Security's user loader) done by one statement built
    once: the library builds a new ``select`` with its options for each request, and making
    and keying it cost more CPU than the query itself. The same query, the same user."""

    _by_uniquifier = (select(User).options(joinedload(User.roles))
                      .where(User.fs_uniquifier == bindparam("uniquifier")))

    def find_user(self, case_insensitive: bool = False, **kwargs) -> User | None:
        if (not case_insensitive and len(kwargs) == 1 and "fs_uniquifier" in kwargs
                and current_app.config["SECURITY_JOIN_USER_ROLES"]):
            return db.session.scalar(self._by_uniquifier,
                                     {"uniquifier": kwargs["fs_uniquifier"]})
        return super().find_user(case_insensitive=case_insensitive, **kwargs)


class SingleUseTotp(Totp):
    """Each time step's code is accepted once per account (RFC 6238 §5.2)."""

    def get_last_counter(self, user: User):
        return user.totp_last_counter

    def set_last_counter(self, user: User, tmatch) -> None:
        user.totp_last_counter = tmatch.counter


class NoticeLoginForm(LoginForm):
    acknowledge_notice = BooleanField(
        "I have read the notice above and consent to monitoring",
        validators=[DataRequired("Acknowledge the system-use notice to sign in.")],
    )

    def validate(self, **kwargs) -> bool:
        throttled = services.address_throttled()
        if throttled:
            # Before the password is checked: this source's attempts count against no account.
            services.record_throttled_sign_in(self.email.data)
            self.form_errors.append(throttled)
            return False
        ok = super().validate(**kwargs)
        if ok:
            self.remember.data = False  # no long-lived cookies on this system
            session["notice_acknowledged_at"] = now().isoformat()
        elif self.user is None and self.email.data and not self.acknowledge_notice.errors:
            services.record_unknown_sign_in(self.email.data)
        elif self.user_authenticated and self.ifield is not None and self.ifield.errors:
            # The password was right but the account is locked (or disabled). Flask-Security
            # put that on the e-mail field, whose errors the view replaces with the generic
            # "identity or password invalid" (RETURN_GENERIC_RESPONSES). Someone who knows
            # the password may be told the truth: form-level errors are shown as they are.
            self.form_errors.extend(self.ifield.errors)
            self.ifield.errors = []
        return ok


class LockAwareVerifyCodeForm(TwoFactorVerifyCodeForm):
    """The lock set by wrong codes must also stop a later right code."""

    def validate(self, **kwargs) -> bool:
        throttled = services.address_throttled()
        if throttled:
            self.code.errors = [throttled]
            return False
        if self.user is not None and self.user.is_locked_out:
            self.code.errors = [LOCKED_MESSAGE]
            return False
        if self.user is not None and self.user.agency_suspended:
            self.code.errors = [AGENCY_SUSPENDED_MESSAGE]
            return False
        # Flask-Security's login_user() forces the sign-in, active or not: an account
        # disabled between the password and the code must stop here.
        if self.user is not None and not self.user.active:
            self.code.errors = [DISABLED_MESSAGE]
            return False
        return super().validate(**kwargs)


def _on_authenticated(app, user, authn_via=None, **extra):
    # Flask-Security signs in after the TOTP step with authn_via None; "change" is
    # the same session carrying on after a password change, not a new sign-in.
    if authn_via and set(authn_via) - {"authenticator"}:
        return
    started = now()
    session.permanent = True
    session["signed_in_at"] = started.isoformat()
    session["last_seen_at"] = started.isoformat()
    services.record_sign_in(user)


def _on_logged_out(app, user=None, **extra):
    if user is not None and getattr(user, "id", None):
        services.record_sign_out(user)


def _on_password_changed(app, user, **extra):
    services.record_password_changed(user)


def _on_tf_changed(app, user, method=None, **extra):
    services.record_two_factor_changed(user, method)


def _on_tf_code_confirmed(app, user, method=None, **extra):
    # A first enrolment (at sign-in, or after an admin's reset) ends here, not in
    # tf_profile_changed; an ordinary sign-in's code has tf_state "ready".
    if session.get("tf_state") == "validating_profile":
        services.record_two_factor_changed(user, method)


def _without_auth_token(payload: dict, code: int, headers, user):
    """Flask-Security's JSON answers carry an authentication token when asked
    (``?include_auth_token``): a second kind of token, unscoped and never listed. None here."""
    if isinstance(payload.get("user"), dict):
        payload["user"].pop("authentication_token", None)
        payload["user"].pop("refresh_token", None)
    return default_render_json(payload, code, headers, user)


def _no_token_user(request):
    """Flask-Login's request loader: Flask-Security's would sign anyone in who sends an
    Authentication-Token header. Only sessions sign people in; the API has its own tokens."""
    return None


SIGN_IN_ENDPOINTS = ("security.login", "security.two_factor_token_validation", "security.verify")


SIGN_IN_LIMIT_MESSAGE = "Too many sign-in attempts. Wait a minute and try again."


def _sign_in_rate_limit() -> str:
    return current_app.config["REFERRALS_SETTINGS"].sign_in_rate_limit


def init_sign_in(app: Flask) -> None:
    User.failed_sign_in_recorder = services.record_failed_sign_in
    datastore = UserDatastore(db, User, Role)
    # Flask-Security 5.9 takes these two classes only in its constructor: init_app()
    # silently ignores them. Without this, codes could be replayed and new passwords
    # skipped the common-password and maximum-length rules.
    security._password_util_cls = ReferralsPasswordUtil
    security._totp_cls = SingleUseTotp
    security.init_app(
        app,
        datastore,
        login_form=NoticeLoginForm,
        two_factor_verify_code_form=LockAwareVerifyCodeForm,
        datetime_factory=now,
    )
    # A static file answers without knowing who asks: Flask-Principal would otherwise load
    # the signed-in user (a transaction, two queries) for every stylesheet and script.
    security.principal.skip_static = True
    security.render_json(_without_auth_token)
    security.login_manager.request_loader(_no_token_user)
    user_authenticated.connect(_on_authenticated, app)
    user_logged_out.connect(_on_logged_out, app)
    password_changed.connect(_on_password_changed, app)
    tf_profile_changed.connect(_on_tf_changed, app)
    tf_code_confirmed.connect(_on_tf_code_confirmed, app)

    @app.context_processor
    def notice():
        return {"system_use_notice": SYSTEM_USE_NOTICE}

    # Rate limit sign-in attempts per client address, on top of per-account lockout.
    # The limiter is shared by every app this process makes; its limits are a set, so an
    # equal limit (the same module-level function, not a new lambda per app) is kept once
    # and each attempt counts once however many apps were made.
    limit = limiter.limit(_sign_in_rate_limit, methods=["POST"],
                          error_message=SIGN_IN_LIMIT_MESSAGE)
    for endpoint in SIGN_IN_ENDPOINTS:
        if endpoint in app.view_functions:
            app.view_functions[endpoint] = limit(app.view_functions[endpoint])
