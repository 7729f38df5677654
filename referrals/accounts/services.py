"""Account operations. Each takes the acting identity, flushes, audits, never commits."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from zoneinfo import available_timezones

from flask import current_app, request, session
from flask_security import hash_password
from sqlalchemy import Select, func, select

from referrals.accounts.models import Role, SignInFailure, User
from referrals.accounts.passwords import password_problems
from referrals.accounts.policies import account_policy
from referrals.accounts.signals import credentials_revoked
from referrals.audit.services import record_event
from referrals.core.clock import now
from referrals.core.errors import DomainError, InvalidInput, NotFound
from referrals.core.identity import STAFF_ROLES, WORKERS, Identity
from referrals.core.mail import queue_mail
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
        "locked": user.is_locked_out,
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


def _assignable(query: Select) -> Select:
    """Who work can be assigned to: active staff who are agents or supervisors, by name."""
    return (query.join(User.roles)
            .where(User.kind == "staff", User.active.is_(True), Role.name.in_(WORKERS))
            .order_by(User.full_name, User.email).distinct())


def assignable_staff() -> list[User]:
    """Who work can be assigned to: active staff who are agents or supervisors."""
    return list(db.session.scalars(_assignable(select(User))))


def assignee_choices() -> list[tuple[int, str]]:
    """``assignable_staff`` as (id, name) pairs for a form's choices: one statement, no
    account objects (with their agency and roles) loaded to show a name."""
    rows = db.session.execute(_assignable(select(User.id, User.full_name, User.email)))
    return [(user_id, full_name or email) for user_id, full_name, email in rows]


def is_assignable(user_id: int) -> bool:
    user = db.session.get(User, user_id)
    return (user is not None and user.kind == "staff" and user.active
            and bool(set(WORKERS) & set(user.role_names)))


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
    if actor.user_id == user.id:
        # An administrator granting itself case roles or media clearance is the escalation
        # a second pair of eyes exists to stop.
        raise DomainError("You cannot change your own roles or clearance: another "
                          "administrator must make that change.", field="roles")
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
    # Revoked, not merely unusable while disabled: enabling the account again brings none back.
    credentials_revoked.send(user, actor=actor, reason="account disabled")
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
    credentials_revoked.send(user, actor=actor, reason="password reset")
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


FAILURE_REASONS = {"password": "Wrong password", "code": "Wrong two-factor code",
                   "unknown account": "No such account"}


def _client() -> tuple[str | None, str]:
    return request.remote_addr, (request.user_agent.string or "")[:255]


def _note_failure(user: User | None, email: str, reason: str) -> None:
    ip, agent = _client()
    db.session.add(SignInFailure(user_id=user.id if user else None, email=(email or "")[:255],
                                 ip=ip, user_agent=agent, reason=reason[:32], at=now()))


def address_throttled() -> str | None:
    """Why this client address may not try to sign in now, or None.

    Per-account lockout alone lets one source lock every account it can name, five wrong
    passwords each. Counting failures per address as well stops that source after
    ``sign_in_failures_per_address`` failures in the lockout window, before the password is
    even checked, so its further attempts lock nobody."""
    settings = _settings()
    ip, _ = _client()
    failures = db.session.scalar(select(func.count(SignInFailure.id)).where(
        SignInFailure.ip == ip, SignInFailure.at > now() - settings.lockout_window))
    if failures < settings.sign_in_failures_per_address:
        return None
    minutes = int(settings.lockout_window.total_seconds() // 60)
    return (f"Too many failed sign-ins from your network address. Wait {minutes} minutes and "
            "try again, or ask an administrator.")


def record_throttled_sign_in(email: str) -> None:
    ip, _ = _client()
    record_event(_sign_in_actor(email or "(blank)"), "sign_in.throttled",
                 after={"reason": "too many failures from this address", "ip": ip})


def recent_failures(user: User, limit: int = 20) -> list[SignInFailure]:
    """The account's latest failed sign-ins, for the admin page: where and when."""
    return list(db.session.scalars(select(SignInFailure).where(SignInFailure.user_id == user.id)
                                   .order_by(SignInFailure.at.desc(), SignInFailure.id.desc())
                                   .limit(limit)))


def _active_admin_emails() -> list[str]:
    return list(db.session.scalars(
        select(User.email).join(User.roles)
        .where(Role.name == "admin", User.active.is_(True)).order_by(User.email)))


def _tell_of_lock(user: User) -> None:
    """The person and the administrators hear of a lock at once (after the commit)."""
    settings = _settings()
    window = settings.lockout_window
    addresses = sorted({f.ip or "unknown" for f in db.session.scalars(
        select(SignInFailure).where(SignInFailure.user_id == user.id,
                                    SignInFailure.at > now() - window))})
    where = ", ".join(addresses)
    queue_mail(user.email, "Your account is locked",
               f"Your account {user.email} was locked after {user.failed_sign_in_count} failed "
               f"sign-ins (from {where}). An administrator must unlock it before you can sign "
               "in again. If these attempts were not yours, tell an administrator at once.\n")
    admins = [email for email in _active_admin_emails() if email != user.email]
    queue_mail(admins, f"Account locked: {user.email}",
               f"{user.email} was locked after {user.failed_sign_in_count} failed sign-ins "
               f"from {where}. Check with its owner before unlocking it:\n\n"
               f"{settings.base_url}/admin/accounts/{user.id}\n")


def record_failed_sign_in(user: User, *, reason: str) -> None:
    settings = _settings()
    moment = now()
    _note_failure(user, user.email, reason)
    first = user.first_failed_sign_in_at
    if first is None or moment - first > settings.lockout_window:
        user.failed_sign_in_count = 0
        user.first_failed_sign_in_at = moment
    user.failed_sign_in_count = (user.failed_sign_in_count or 0) + 1
    db.session.flush()
    record_event(_sign_in_actor(user.email), "sign_in.failed", object_type="user",
                 object_id=user.id, agency_id=user.agency_id,
                 after={"reason": reason, "consecutive_failures": user.failed_sign_in_count})
    if not user.is_locked_out and user.failed_sign_in_count >= settings.lockout_attempts:
        user.locked_at = moment
        db.session.flush()
        record_event(_sign_in_actor(user.email), "account.locked", object_type="user",
                     object_id=user.id, agency_id=user.agency_id,
                     after={"consecutive_failures": user.failed_sign_in_count})
        _tell_of_lock(user)


def record_unknown_sign_in(email: str) -> None:
    _note_failure(None, email, "unknown account")
    db.session.flush()
    record_event(_sign_in_actor(email or "(blank)"), "sign_in.failed",
                 after={"reason": "unknown account"})


def record_sign_in(user: User) -> None:
    if user.locked_at is not None:
        # Signed in past a lock: only where REFERRALS_LOCKOUT_RELEASE_MINUTES let it expire.
        user.locked_at = None
        db.session.flush()
        record_event(_sign_in_actor(user.email), "account.lock_expired", object_type="user",
                     object_id=user.id, agency_id=user.agency_id)
    user.failed_sign_in_count = 0
    user.first_failed_sign_in_at = None
    db.session.flush()
    record_event(Identity.for_user(user), "sign_in.succeeded", object_type="user",
                 object_id=user.id, agency_id=user.agency_id,
                 after={"factors": ["password", "totp"],
                        "system_use_notice_acknowledged": bool(session.get("notice_acknowledged_at"))})


def record_sign_out(user: User, *, reason: str = "signed out") -> None:
    """The session ends on the server, not only in this browser: a new uniquifier makes every
    cookie issued so far name nobody (a copy replayed later is refused), in every browser."""
    user.fs_uniquifier = uuid.uuid4().hex
    db.session.flush()
    record_event(Identity.for_user(user), "sign_out", object_type="user", object_id=user.id,
                 agency_id=user.agency_id, after={"reason": reason})


def record_password_changed(user: User) -> None:
    # Flask-Security has already given the account a new uniquifier (other sessions end).
    user.password_change_required = False
    db.session.flush()
    actor = Identity.for_user(user)
    record_event(actor, "account.password_changed", object_type="user",
                 object_id=user.id, agency_id=user.agency_id)
    credentials_revoked.send(user, actor=actor, reason="password changed")


def record_two_factor_changed(user: User, method: str | None) -> None:
    record_event(Identity.for_user(user), "account.two_factor_enrolled", object_type="user",
                 object_id=user.id, agency_id=user.agency_id, after={"method": method})


def time_zone_choices() -> list[str]:
    """The zones a person may choose to read times in (IANA names, the region/city ones)."""
    return sorted(z for z in available_timezones()
                  if "/" in z and not z.startswith(("Etc/", "SystemV/", "posix/", "right/")))


def set_time_zone(actor: Identity, zone: str) -> User:
    """The zone the signed-in person reads times in (pages, through core.timefmt)."""
    if zone not in set(time_zone_choices()) | {"UTC"}:
        raise InvalidInput("Choose a time zone from the list.", field="time_zone")
    user = get_user(actor.user_id)
    before = user.time_zone
    user.time_zone = zone
    db.session.flush()
    record_event(actor, "account.time_zone_changed", object_type="user", object_id=user.id,
                 agency_id=user.agency_id, before={"time_zone": before}, after={"time_zone": zone})
    return user
