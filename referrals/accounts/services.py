"""Account operations. Each takes the acting identity, flushes, audits, never commits."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable

from flask import current_app, session
from flask_security import hash_password
from sqlalchemy import func, select

from referrals.accounts.models import User, Role
from referrals.accounts.passwords import password_problems
from referrals.accounts.policies import account_policy
from referrals.audit.services import record_event
from referrals.core.clock import now
from referrals.core.errors import DomainError, InvalidInput, NotFound
from referrals.core.identity import STAFF_ROLES, Identity
from flask_security.proxies import _security

from referrals.extensions import db
from referrals.vocabulary.identifiers import split_email

ROLE_DESCRIPTIONS = {
    "agent": "LER agent: works cases, requests and holds",
    "supervisor": "LER supervisor: assigns work, approves disclosures and referrals",
    "compliance": "Compliance reviewer: reads everything, approves nothing",
    "admin": "Administrator: accounts, agencies, keys and settings; no case content",
}


def _settings():
    return current_app.config["REFERRALS_SETTINGS"]


# One-time passwords are read out over the phone or typed from another screen: lower case
# only, no look-alikes (0/o, 1/l/i), in four groups of five: about 99 bits.
ONE_TIME_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_one_time_password() -> str:
    return "-".join(
        "".join(secrets.choice(ONE_TIME_PASSWORD_ALPHABET) for _ in range(5)) for _ in range(4)
    )


def access_snapshot(user: User) -> dict:
    return {
        "email": user.email,
        "kind": user.kind,
        "roles": sorted(user.role_names),
        "cleared_for_csam": user.cleared_for_csam,
        "active": user.active,
        "locked": user.locked_at is not None,
    }


def ensure_roles() -> dict[str, Role]:
    """The four staff roles exist (migrations create them; this repairs a bare database)."""
    existing = {role.name: role for role in db.session.scalars(select(Role))}
    for name in STAFF_ROLES:
        if name not in existing:
            existing[name] = Role(name=name, description=ROLE_DESCRIPTIONS[name])
            db.session.add(existing[name])
    db.session.flush()
    return existing


def normalize_email(email: str) -> str:
    """An account's address: the domain lower-cased, the local part as typed."""
    parts = split_email(email)
    if parts is None or "." not in parts[1]:
        raise InvalidInput("Enter an e-mail address such as name@example.org.", field="email")
    local, domain = parts
    return f"{local}@{domain.lower()}"


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("There is no such account.")
    return user


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def _check_new_password(password: str, email: str) -> None:
    problems = password_problems(password, email=email)
    if problems:
        raise InvalidInput(" ".join(problems), field="password")


def _new_user(*, email: str, full_name: str, kind: str, password: str | None) -> tuple[User, str]:
    email = normalize_email(email)
    if find_user_by_email(email) is not None:
        raise InvalidInput("An account with this e-mail address already exists.", field="email")
    initial = password or new_one_time_password()
    if password:
        _check_new_password(password, email)
    user = User(
        email=email,
        full_name=(full_name or "").strip()[:200],
        kind=kind,
        password=hash_password(initial),
        active=True,
        fs_uniquifier=uuid.uuid4().hex,
        password_change_required=password is None,
        failed_sign_in_count=0,
        created_at=now(),
    )
    return user, initial


def _role_objects(roles: Iterable[str]) -> list[Role]:
    roles = sorted(set(roles))
    unknown = [name for name in roles if name not in STAFF_ROLES]
    if unknown:
        raise InvalidInput(f"Unknown role: {', '.join(unknown)}.", field="roles")
    if not roles:
        raise InvalidInput("Choose at least one role.", field="roles")
    available = ensure_roles()
    return [available[name] for name in roles]


def create_staff_user(
    actor: Identity,
    *,
    email: str,
    full_name: str,
    roles: Iterable[str],
    cleared_for_csam: bool = False,
    password: str | None = None,
) -> tuple[User, str]:
    """Create a staff account. Without a password, a one-time initial password is
    returned for the admin to hand over, and must be changed at first sign-in."""
    account_policy.require(actor, "create")
    user, initial = _new_user(email=email, full_name=full_name, kind="staff", password=password)
    user.roles = _role_objects(roles)
    user.cleared_for_csam = bool(cleared_for_csam)
    db.session.add(user)
    db.session.flush()
    record_event(actor, "account.created", object_type="user", object_id=user.id,
                 after=access_snapshot(user))
    return user, initial


def create_agency_user(
    actor: Identity, *, agency, email: str, full_name: str, password: str | None = None
) -> tuple[User, str]:
    """An officer's account, tied to one agency. (Registration comes with the portal.)"""
    account_policy.require(actor, "create")
    user, initial = _new_user(email=email, full_name=full_name, kind="agency", password=password)
    user.agency_id = agency.id
    # Made by staff (or the demo seed): confirmed and approved by whoever made it.
    user.confirmed_at = user.approved_at = now()
    user.approved_by_id = actor.user_id
    db.session.add(user)
    db.session.flush()
    record_event(actor, "account.created", object_type="user", object_id=user.id,
                 agency_id=agency.id, after=access_snapshot(user))
    return user, initial


def _active_admins_other_than(user: User) -> int:
    return db.session.scalar(
        select(func.count(User.id))
        .join(User.roles)
        .where(Role.name == "admin", User.active.is_(True), User.id != user.id)
    )


def change_access(
    actor: Identity, user: User, *, roles: Iterable[str], cleared_for_csam: bool
) -> User:
    account_policy.require(actor, "change_access", user)
    if user.kind != "staff":
        raise DomainError("Agency accounts do not have staff roles.")
    before = access_snapshot(user)
    new_roles = _role_objects(roles)
    if "admin" in user.role_names and "admin" not in {r.name for r in new_roles}:
        if _active_admins_other_than(user) == 0:
            raise DomainError("This is the last active administrator; keep the admin role.",
                              field="roles")
    user.roles = new_roles
    user.cleared_for_csam = bool(cleared_for_csam)
    # A change of access ends the user's sessions: they sign in again under the new roles.
    user.fs_uniquifier = uuid.uuid4().hex
    db.session.flush()
    record_event(actor, "account.access_changed", object_type="user", object_id=user.id,
                 before=before, after=access_snapshot(user))
    return user


def unlock_user(actor: Identity, user: User) -> User:
    account_policy.require(actor, "unlock", user)
    if user.locked_at is None:
        raise DomainError("This account is not locked.")
    before = access_snapshot(user)
    user.locked_at = None
    user.failed_sign_in_count = 0
    user.first_failed_sign_in_at = None
    db.session.flush()
    record_event(actor, "account.unlocked", object_type="user", object_id=user.id,
                 agency_id=user.agency_id, before=before, after=access_snapshot(user))
    return user


def disable_user(actor: Identity, user: User) -> User:
    account_policy.require(actor, "disable", user)
    if actor.user_id == user.id:
        raise DomainError("You cannot disable your own account.")
    if not user.active:
        raise DomainError("This account is already disabled.")
    if "admin" in user.role_names and _active_admins_other_than(user) == 0:
        raise DomainError("This is the last active administrator; it cannot be disabled.")
    before = access_snapshot(user)
    user.active = False
    user.fs_uniquifier = uuid.uuid4().hex  # ends every session it has
    db.session.flush()
    record_event(actor, "account.disabled", object_type="user", object_id=user.id,
                 agency_id=user.agency_id, before=before, after=access_snapshot(user))
    return user


def enable_user(actor: Identity, user: User) -> User:
    account_policy.require(actor, "disable", user)
    if user.active:
        raise DomainError("This account is already enabled.")
    before = access_snapshot(user)
    user.active = True
    db.session.flush()
    record_event(actor, "account.enabled", object_type="user", object_id=user.id,
                 agency_id=user.agency_id, before=before, after=access_snapshot(user))
    return user


def reset_password(actor: Identity, user: User) -> str:
    """Give the account a new one-time password, to be changed at next sign-in."""
    account_policy.require(actor, "reset_credentials", user)
    if actor.user_id == user.id:
        raise DomainError("Change your own password from your account page.")
    initial = new_one_time_password()
    user.password = hash_password(initial)
    user.password_change_required = True
    user.fs_uniquifier = uuid.uuid4().hex
    db.session.flush()
    record_event(actor, "account.password_reset", object_type="user", object_id=user.id,
                 agency_id=user.agency_id)
    return initial


def reset_two_factor(actor: Identity, user: User) -> User:
    """For a lost authenticator: the user enrols a new one at next sign-in."""
    account_policy.require(actor, "reset_credentials", user)
    if actor.user_id == user.id:
        raise DomainError("Ask another administrator to reset your own two-factor sign-in.")
    user.tf_primary_method = None
    user.tf_totp_secret = None
    user.totp_last_counter = None
    user.fs_uniquifier = uuid.uuid4().hex
    db.session.flush()
    record_event(actor, "account.two_factor_reset", object_type="user", object_id=user.id,
                 agency_id=user.agency_id)
    return user


def set_totp_key(actor: Identity, user: User, base32_key: str) -> None:
    """Enrol a known TOTP key (demo seed only: real users scan a QR code)."""
    totp_class = _security.totp_factory._totp
    user.tf_totp_secret = totp_class(key=base32_key, format="base32").to_json(encrypt=True)
    user.tf_primary_method = "authenticator"
    db.session.flush()
    record_event(actor, "account.two_factor_enrolled", object_type="user", object_id=user.id,
                 agency_id=user.agency_id)


def current_totp_code(user: User) -> str:
    return _security.totp_factory.generate_totp_password(user.tf_totp_secret)


# --- sign-in events (called from Flask-Security's hooks and signals) ---------------


def _sign_in_actor(email: str) -> Identity:
    return Identity(kind="anonymous", label=f"sign-in as {email}"[:255])


def record_failed_sign_in(user: User, *, reason: str) -> None:
    settings = _settings()
    moment = now()
    first = user.first_failed_sign_in_at
    if first is None or moment - first > settings.lockout_window:
        user.failed_sign_in_count = 0
        user.first_failed_sign_in_at = moment
    user.failed_sign_in_count = (user.failed_sign_in_count or 0) + 1
    db.session.flush()
    record_event(_sign_in_actor(user.email), "sign_in.failed", object_type="user",
                 object_id=user.id, agency_id=user.agency_id,
                 after={"reason": reason, "consecutive_failures": user.failed_sign_in_count})
    if user.locked_at is None and user.failed_sign_in_count >= settings.lockout_attempts:
        user.locked_at = moment
        db.session.flush()
        record_event(_sign_in_actor(user.email), "account.locked", object_type="user",
                     object_id=user.id, agency_id=user.agency_id,
                     after={"consecutive_failures": user.failed_sign_in_count})


def record_unknown_sign_in(email: str) -> None:
    record_event(_sign_in_actor(email or "(blank)"), "sign_in.failed",
                 after={"reason": "unknown account"})


def record_sign_in(user: User) -> None:
    user.failed_sign_in_count = 0
    user.first_failed_sign_in_at = None
    db.session.flush()
    record_event(Identity.for_user(user), "sign_in.succeeded", object_type="user",
                 object_id=user.id, agency_id=user.agency_id,
                 after={"factors": ["password", "totp"],
                        "system_use_notice_acknowledged": bool(session.get("notice_acknowledged_at"))})


def record_sign_out(user: User) -> None:
    record_event(Identity.for_user(user), "sign_out", object_type="user", object_id=user.id,
                 agency_id=user.agency_id)


def record_password_changed(user: User) -> None:
    user.password_change_required = False
    db.session.flush()
    record_event(Identity.for_user(user), "account.password_changed", object_type="user",
                 object_id=user.id, agency_id=user.agency_id)


def record_two_factor_changed(user: User, method: str | None) -> None:
    record_event(Identity.for_user(user), "account.two_factor_enrolled", object_type="user",
                 object_id=user.id, agency_id=user.agency_id, after={"method": method})
