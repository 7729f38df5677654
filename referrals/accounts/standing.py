"""An officer's standing over time: periodic re-confirmation, and suspension pending review
when the domain their address is on leaves the .gov registry.

The daily sweep (``sweep_officer_standing`` in the worker) does both; each change is audited
in the transaction that makes it, and the e-mails go after the commit (the outbox).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import and_, or_, select

from referrals.accounts.models import User
from referrals.agencies.services import agency_domain_list, agency_policy
from referrals.audit.services import record_event
from referrals.core.clock import now
from referrals.core.errors import DomainError, NotFound
from referrals.core.identity import ANONYMOUS, Identity
from referrals.core.mail import queue_mail
from referrals.directory.lookup import listing_of
from referrals.vocabulary.identifiers import email_domain
from referrals.extensions import db

RECONFIRM_SALT = "portal-reconfirm-email"
LEFT_REGISTRY = "your e-mail domain {domain} is no longer in the US .gov registry."


def _settings():
    return current_app.config["REFERRALS_SETTINGS"]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RECONFIRM_SALT)


def reconfirmation_overdue(user: User, moment: datetime | None = None) -> bool:
    """The link went out more than the grace days ago and was not followed."""
    if user.reconfirmation_sent_at is None:
        return False
    grace = timedelta(days=_settings().officer_reconfirm_grace_days)
    return (moment or now()) - user.reconfirmation_sent_at > grace


def send_reconfirmation(user: User, moment: datetime) -> None:
    settings = _settings()
    # Signed over the account and the sending time: a link from an earlier round is void.
    token = _serializer().dumps({"user": user.id, "sent": moment.isoformat()})
    user.reconfirmation_sent_at = moment
    queue_mail(user.email, "Confirm your e-mail address again",
               "Once a year we ask each officer on the agency portal to confirm that this "
               f"address still reaches them. Follow this link within "
               f"{settings.officer_reconfirm_grace_days} days:\n\n"
               f"{settings.base_url}/portal/reconfirm/{token}\n\n"
               "Until you do, after that time you cannot submit new requests. If you have left "
               "the agency, ignore this message and tell the LER team.")


def reconfirm_email(token: str) -> User:
    """The officer followed the link: confirmed again; approved again by staff only if the
    agency's e-mail domains changed since the approval."""
    max_age = _settings().officer_reconfirm_grace_days * 86400
    try:
        payload = _serializer().loads(token, max_age=max_age)
    except SignatureExpired as error:
        raise DomainError("This link has expired. We send a new one within a day; follow that "
                          "one.") from error
    except BadSignature as error:
        raise NotFound("This confirmation link is not valid.") from error
    user = db.session.get(User, payload.get("user")) if isinstance(payload, dict) else None
    if (user is None or user.kind != "agency" or user.reconfirmation_sent_at is None
            or user.reconfirmation_sent_at.isoformat() != payload.get("sent")):
        raise NotFound("This confirmation link is not valid.")
    moment = now()
    user.confirmed_at = moment
    user.reconfirmation_sent_at = None
    domains = agency_domain_list(user.agency)
    again = user.approved_at is not None and domains != (user.approved_domains or "")
    before = {"approved_domains": user.approved_domains}
    if again:
        user.approved_at = None
        user.approved_by_id = None
    db.session.flush()
    record_event(ANONYMOUS, "account.email_reconfirmed", object_type="user", object_id=user.id,
                 agency_id=user.agency_id, before=before,
                 after={"agency_domains": domains, "approval_needed_again": again})
    return user


def _suspend(actor: Identity, user: User, reason: str, moment: datetime) -> None:
    user.suspended_at = moment
    user.suspended_reason = reason[:300]
    db.session.flush()
    record_event(actor, "account.suspended_pending_review", object_type="user",
                 object_id=user.id, agency_id=user.agency_id, after={"reason": reason})
    queue_mail(user.email, "Your portal account is suspended pending review",
               f"Your agency portal account is suspended while the LER team reviews it: "
               f"{reason} The team will contact you. For an emergency, call the LER team on "
               "its published number.\n")


def lift_suspension(actor: Identity, user: User) -> User:
    agency_policy.require(actor, "manage")
    if user.kind != "agency" or user.suspended_at is None:
        raise DomainError("This account is not suspended pending review.")
    before = {"suspended_at": user.suspended_at.isoformat(), "reason": user.suspended_reason}
    user.suspended_at = None
    user.suspended_reason = ""
    db.session.flush()
    record_event(actor, "account.suspension_lifted", object_type="user", object_id=user.id,
                 agency_id=user.agency_id, before=before)
    return user


def suspended_officers() -> list[User]:
    return list(db.session.scalars(select(User).where(
        User.kind == "agency", User.suspended_at.is_not(None)).order_by(User.suspended_at)))


def sweep_officer_standing(actor: Identity, moment: datetime | None = None) -> dict:
    """Send the re-confirmations that are due (or whose link ran out) and suspend officers
    whose domain left the .gov registry. Flushes; the caller commits."""
    moment = moment or now()
    settings = _settings()
    period = timedelta(days=settings.officer_reconfirm_days)
    grace = timedelta(days=settings.officer_reconfirm_grace_days)
    officers = select(User).where(User.kind == "agency", User.active.is_(True),
                                  User.suspended_at.is_(None))
    due = db.session.scalars(officers.where(
        User.confirmed_at.is_not(None), User.confirmed_at < moment - period,
        or_(User.reconfirmation_sent_at.is_(None),
            and_(User.reconfirmation_sent_at.is_not(None),
                 User.reconfirmation_sent_at < moment - grace)))).all()
    for user in due:
        send_reconfirmation(user, moment)
        db.session.flush()
        record_event(actor, "account.reconfirmation_sent", object_type="user",
                     object_id=user.id, agency_id=user.agency_id)
    suspended = 0
    for user in db.session.scalars(officers.where(User.approved_at.is_not(None))).all():
        listing = listing_of(email_domain(user.email))
        if listing is not None and listing.list_kind == "dotgov" and listing.removed:
            _suspend(actor, user, LEFT_REGISTRY.format(domain=listing.domain), moment)
            suspended += 1
    return {"reconfirmations_sent": len(due), "suspended": suspended}
