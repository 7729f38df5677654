"""Officer registration: an official address on a verified agency domain, a confirmed
e-mail, TOTP (asked at first sign-in), and approval by LER staff before a first submission."""

from __future__ import annotations

import uuid

from flask import current_app
from flask_security import hash_password
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from referrals.accounts.models import OFFICER_SUSPENDED_MESSAGE, User
from referrals.accounts.passwords import password_problems
from referrals.accounts.services import find_user_by_email, normalize_email
from referrals.accounts.standing import reconfirmation_overdue
from referrals.agencies.services import agency_domain_list, agency_for_email, agency_policy
from referrals.audit.services import record_event
from referrals.core.clock import now
from referrals.core.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from referrals.core.identity import ANONYMOUS, Identity
from referrals.core.mail import queue_mail
from referrals.directory.lookup import DomainAssessment, assess_email
from referrals.directory.names import is_free_mail
from referrals.extensions import db
from referrals.vocabulary.identifiers import email_domain

CONFIRM_SALT = "portal-confirm-email"
CONFIRM_MAX_AGE = 24 * 3600


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=CONFIRM_SALT)


def register_officer(*, email: str, full_name: str, badge_number: str, password: str) -> User | None:
    """Create an unconfirmed officer account and send the confirmation link.

    Returns None, silently, when the address already has an account: the page says the
    same either way, so registration cannot be used to find out who has an account.
    """
    email = normalize_email(email)
    if is_free_mail(email_domain(email)):
        raise InvalidInput("Use your official agency e-mail address, not a free-mail address.",
                           field="email")
    agency = agency_for_email(email)
    if agency is None:
        raise InvalidInput("This address is not on a domain verified for an agency. Ask the "
                           "LER team to verify your agency's domain.", field="email")
    problems = password_problems(password or "", email=email)
    if problems:
        raise InvalidInput(" ".join(problems), field="password")
    if not (full_name or "").strip():
        raise InvalidInput("Give your full name.", field="full_name")
    existing = find_user_by_email(email)
    if existing is not None:
        # An officer whose link expired is told to register again: send a fresh link to the
        # address (its owner reads it; the page looks the same either way). The account is
        # not changed: whoever typed this password may not own the address.
        if existing.kind == "agency" and existing.confirmed_at is None and existing.active:
            send_confirmation(existing)
        return None
    user = User(email=email, full_name=full_name.strip()[:200], kind="agency",
                agency_id=agency.id, password=hash_password(password), active=True,
                fs_uniquifier=uuid.uuid4().hex, failed_sign_in_count=0, created_at=now(),
                badge_number=(badge_number or "").strip()[:64])
    db.session.add(user)
    db.session.flush()
    # What the directory says of the address, as the approving staff member will see it.
    record_event(Identity(kind="anonymous", label=f"registration as {email}"), "account.registered",
                 object_type="user", object_id=user.id, agency_id=agency.id,
                 after={"email": email, "agency": agency.name,
                        "directory": assess_email(email).snapshot()})
    send_confirmation(user)
    return user


def send_confirmation(user: User) -> None:
    settings = current_app.config["REFERRALS_SETTINGS"]
    token = _serializer().dumps(user.fs_uniquifier)
    queue_mail(user.email, "Confirm your e-mail address",
               "Someone registered this address on the agency portal. If it was you, confirm it "
               f"within 24 hours:\n\n{settings.base_url}/portal/confirm/{token}\n\n"
               "If it was not you, ignore this message.")


def confirm_email(token: str) -> User:
    try:
        uniquifier = _serializer().loads(token, max_age=CONFIRM_MAX_AGE)
    except SignatureExpired as error:
        raise DomainError("This confirmation link has expired. Register again to get a new "
                          "one.") from error
    except BadSignature as error:
        raise NotFound("This confirmation link is not valid.") from error
    user = db.session.scalar(select(User).where(User.fs_uniquifier == uniquifier))
    if user is None or user.kind != "agency":
        raise NotFound("This confirmation link is not valid.")
    if user.confirmed_at is None:
        user.confirmed_at = now()
        db.session.flush()
        record_event(ANONYMOUS, "account.email_confirmed", object_type="user", object_id=user.id,
                     agency_id=user.agency_id)
    return user


def pending_officers() -> list[User]:
    return list(db.session.scalars(select(User).where(
        User.kind == "agency", User.approved_at.is_(None), User.confirmed_at.is_not(None),
        User.active.is_(True)).order_by(User.created_at)))


def officer_signals(users: list[User]) -> dict[int, DomainAssessment]:
    """What the directory says of each officer's address: the organisation it is registered
    to, or why to look twice (a domain in no list, free mail, a look-alike)."""
    return {user.id: assess_email(user.email) for user in users}


def approve_officer(actor: Identity, user: User) -> User:
    agency_policy.require(actor, "manage")
    if user.kind != "agency":
        raise DomainError("Only agency accounts need approval.")
    if user.confirmed_at is None:
        raise DomainError("The officer has not confirmed their e-mail address yet.")
    if user.approved_at is not None:
        raise DomainError("This officer is already approved.")
    user.approved_at = now()
    user.approved_by_id = actor.user_id
    user.approved_domains = agency_domain_list(user.agency)
    db.session.flush()
    # The signals the approver was shown go on the record with the approval.
    record_event(actor, "account.approved", object_type="user", object_id=user.id,
                 agency_id=user.agency_id,
                 after={"directory": assess_email(user.email).snapshot(),
                        "agency_domains": user.approved_domains})
    settings = current_app.config["REFERRALS_SETTINGS"]
    queue_mail(user.email, "Your portal account is approved",
               f"You can now submit requests on the agency portal:\n\n{settings.base_url}/portal/\n")
    return user


UNAPPROVED_MESSAGE = ("Your account is waiting for approval by the LER team. You can submit "
                      "requests once it is approved.")


def require_approved(identity: Identity, *, emergency: bool = False) -> bool:
    """Refuse an officer the LER team has not approved, or whose agency is not verified.

    With ``emergency``, an officer not yet approved (confirmed address on a verified
    agency's domain, active account) may still send an emergency request: True is returned
    and the request is flagged "officer not yet verified" until the call-back to the agency
    verifies them (``verify_officer_by_callback``). Nothing else is open to them."""
    user = db.session.get(User, identity.user_id)
    unverified = user is not None and user.approved_at is None
    if user is None or (unverified and not (emergency and _may_send_emergency(user))):
        raise PermissionDenied(UNAPPROVED_MESSAGE)
    # Registration needs a verified agency; so does every later submission or token: an
    # agency suspended after its officers registered sends nothing new.
    if user.agency is None or user.agency.status != "verified":
        raise PermissionDenied("Your agency's access to the portal is suspended or not yet "
                               "verified. Contact the LER team.")
    if user.suspended_at is not None:
        raise PermissionDenied(OFFICER_SUSPENDED_MESSAGE.format(reason=user.suspended_reason))
    # An emergency is never held up for the yearly re-confirmation.
    if reconfirmation_overdue(user) and not emergency:
        raise PermissionDenied("Confirm your e-mail address again first: follow the link in the "
                               "message we sent you (a new one comes within a day if it has "
                               "expired).")
    return unverified


def _may_send_emergency(user: User) -> bool:
    """An officer not yet approved may send an emergency: an active account, its address
    confirmed, on a domain verified for their own agency."""
    verified = agency_for_email(user.email)
    return (user.kind == "agency" and user.active and user.confirmed_at is not None
            and verified is not None and verified.id == user.agency_id)


def verify_officer_by_callback(actor: Identity, user: User, *, reference: str,
                               number: str) -> None:
    """The call-back on an emergency sent by an officer not yet approved reached them through
    their agency's registered number: that verifies them, and their account is approved
    (audited, naming the request and the number called)."""
    if user.kind != "agency" or user.approved_at is not None:
        return
    user.approved_at = now()
    user.approved_by_id = actor.user_id
    user.approved_domains = agency_domain_list(user.agency)
    db.session.flush()
    record_event(actor, "account.approved", object_type="user", object_id=user.id,
                 agency_id=user.agency_id,
                 after={"via": "emergency call-back", "request": reference, "number": number})
    settings = current_app.config["REFERRALS_SETTINGS"]
    queue_mail(user.email, "Your portal account is approved",
               "The LER team verified you by calling your agency back about your emergency "
               f"request {reference}. You can now use the agency portal:\n\n"
               f"{settings.base_url}/portal/\n")
