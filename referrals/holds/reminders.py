"""The hold sweep: holds whose time has run out are marked expired, and reminders go out
before that happens.

Reminders, for a hold with an expiry, at each configured number of days before it
(``REFERRALS_HOLD_REMINDER_DAYS``, default 14 and 7):

- to the hold's owner (else the assignee of the request it came from) and the team
  (``REFERRALS_TEAM_EMAILS``, else ``REFERRALS_ONCALL_EMAILS``): an e-mail naming the hold,
  its expiry in the hold's legal time zone, the days left and a link;
- to the agency, when the hold came from its request: a message on the request in the
  portal (what expires when, and how to renew), with the usual content-free "there is an
  update" e-mail to its officers.

Each reminder is sent once per expiry date: a ``HoldReminder`` row records it, and its
unique key (hold, expiry, days) makes a second sweep, or two sweeps at once, a no-op. A
renewal moves the expiry, so the reminders fall due again for the new date. When sweeps were
missed and several reminders are due at once, only the nearest goes out and the earlier ones
are recorded as passed over: one message, never a burst.

Internal holds have no expiry; their owner and the team are reminded once per review date
when the review is due within ``REVIEW_NOTICE_DAYS``.

The worker runs ``sweep_holds`` hourly (at five past): an hour is the finest grain any
reminder needs, the sweep is a pair of indexed queries, and running often keeps an expired
hold from showing as live for most of a day. ``flask --app referrals holds sweep`` runs the
same sweep by hand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from huey import crontab
from sqlalchemy import select

from referrals.accounts.models import User
from referrals.audit.services import record_event
from referrals.core.clock import as_utc, now
from referrals.core.identity import Identity, system_identity
from referrals.core.mail import queue_mail
from referrals.extensions import db, jobs
from referrals.holds.models import HoldReminder, PreservationHold
from referrals.holds.notices import (days_left, hold_time, kind_label, plural_days,
                                     renewal_options)
from referrals.holds.rules import HOLD_STATES, LIVE_STATUSES
from referrals.holds.services import add_hold_event, tell_agency_about

log = logging.getLogger(__name__)

# ``HoldReminder.days_before`` for the expiry notice itself (see the model).
EXPIRED = 0
# Review reminders of internal holds are stored with ``days_before = -REVIEW_NOTICE_DAYS``
# and the review date in ``expires_at``, so they never collide with expiry reminders.
REVIEW_NOTICE_DAYS = 7


@dataclass
class SweepReport:
    expired: list[str] = field(default_factory=list)
    reminded: list[tuple[str, int]] = field(default_factory=list)  # (reference, days before)
    passed_over: list[tuple[str, int]] = field(default_factory=list)
    review_reminded: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.expired)} hold(s) expired, {len(self.reminded)} expiry reminder(s) "
                f"sent ({len(self.passed_over)} earlier one(s) passed over), "
                f"{len(self.review_reminded)} review reminder(s) sent")


def _settings():
    return current_app.config["REFERRALS_SETTINGS"]


def _staff_link(hold: PreservationHold) -> str:
    return f"{_settings().base_url}/holds/{hold.reference}"


def _owner_and_team(hold: PreservationHold) -> list[str]:
    """The hold's owner (else the assignee of its request) and the team's addresses."""
    settings = _settings()
    recipients: list[str] = []
    owner = hold.owner
    if owner is None and hold.request is not None and hold.request.assignee_id:
        owner = db.session.get(User, hold.request.assignee_id)
    if owner is not None and owner.active:
        recipients.append(owner.email)
    recipients.extend(settings.team_emails or settings.oncall_emails)
    return list(dict.fromkeys(recipients))


def _claim(hold: PreservationHold, expires_at: datetime, days_before: int, at: datetime) -> None:
    db.session.add(HoldReminder(hold_id=hold.id, expires_at=expires_at, days_before=days_before,
                                sent_at=at))


def _recorded(hold: PreservationHold, expires_at: datetime) -> set[int]:
    rows = db.session.scalars(select(HoldReminder).where(HoldReminder.hold_id == hold.id))
    return {row.days_before for row in rows if as_utc(row.expires_at) == as_utc(expires_at)}


# --- expiry ---------------------------------------------------------------------------------


def expire_holds(at: datetime | None = None, actor: Identity | None = None,
                 report: SweepReport | None = None) -> list[PreservationHold]:
    """Live holds whose expiry has passed by ``at`` become "expired"; the owner, the team
    and the agency are told. (``is_held`` already treats them as ended from the expiry on;
    this records it and says so.)"""
    at = as_utc(at or now())
    actor = actor or system_identity("job:hold sweep")
    holds = list(db.session.scalars(
        select(PreservationHold)
        .where(PreservationHold.status.in_(LIVE_STATUSES),
               PreservationHold.expires_at.is_not(None), PreservationHold.expires_at <= at)
        .order_by(PreservationHold.expires_at, PreservationHold.id)
        .with_for_update(skip_locked=True, of=PreservationHold)))
    for hold in holds:
        before = {"status": hold.status, "ended_at": None}
        expired_on = hold_time(hold, hold.expires_at)
        expiry = HOLD_STATES.require(hold.status, "expired", by="expire")
        hold.status = expiry.target
        hold.ended_at = hold.expires_at  # when the period ended, not when the sweep noticed
        hold.end_reason = f"The preservation period ended on {expired_on}."
        hold.updated_at = at
        _claim(hold, hold.expires_at, EXPIRED, at)
        told_agency = expiry.tells_agency and tell_agency_about(hold, (
            f"The preservation {hold.reference} on this request expired on {expired_on}. The "
            "data it covered is no longer preserved under it. If you still need the data "
            "preserved, submit a new preservation request on the agency portal."))
        queue_mail(_owner_and_team(hold), f"Hold {hold.reference} has expired",
                   f"Preservation hold {hold.reference} ({kind_label(hold.kind)}) expired on "
                   f"{expired_on}.\n"
                   + ("The agency has been told through the portal.\n" if told_agency else "")
                   + f"\n{_staff_link(hold)}\n")
        add_hold_event(hold, actor, "expired", f"Expired on {expired_on}"
                       + ("; the agency was told through the portal." if told_agency else "."), at)
        record_event(actor, "hold.expired", object_type="hold", object_id=hold.reference,
                     agency_id=hold.agency_id, before=before,
                     after={"status": "expired", "ended_at": hold.ended_at.isoformat(),
                            "agency_told": told_agency})
        if report is not None:
            report.expired.append(hold.reference)
    db.session.flush()
    return holds


# --- reminders ------------------------------------------------------------------------------


def _expiry_reminder(hold: PreservationHold, days_before: int, at: datetime, actor: Identity) -> None:
    expires = hold_time(hold, hold.expires_at)
    left = plural_days(days_left(hold.expires_at, at))
    request_reference = hold.request.reference if hold.request is not None else None
    renew = renewal_options(hold.kind, hold.renewals, hold.extensions, request_reference)
    told_agency = tell_agency_about(hold, (
        f"The preservation {hold.reference} on this request expires on {expires}, in {left}."
        + (f" {renew}" if renew else "")
        + " The preservation confirmation letter can be downloaded from this page."))
    queue_mail(_owner_and_team(hold), f"Hold {hold.reference} expires in {left}",
               f"Preservation hold {hold.reference} ({kind_label(hold.kind)}) expires in {left}, "
               f"on {expires}.\n"
               + (f"Request: {request_reference}. The agency has been reminded through the "
                  "portal.\n" if told_agency else "")
               + f"\n{_staff_link(hold)}\n")
    add_hold_event(hold, actor, "reminder", f"{days_before}-day reminder sent: expires {expires}"
                   + (" (owner, team and agency)." if told_agency else " (owner and team)."), at)
    record_event(actor, "hold.reminder_sent", object_type="hold", object_id=hold.reference,
                 agency_id=hold.agency_id,
                 after={"days_before": days_before, "expires_at": as_utc(hold.expires_at).isoformat(),
                        "agency_told": told_agency})


def _review_reminder(hold: PreservationHold, at: datetime, actor: Identity) -> None:
    due = hold_time(hold, hold.review_due_at)
    overdue = as_utc(hold.review_due_at) <= at
    when = "was due" if overdue else f"is due in {plural_days(days_left(hold.review_due_at, at))}"
    queue_mail(_owner_and_team(hold), f"Hold {hold.reference}: review {'overdue' if overdue else 'due'}",
               f"The periodic review of {kind_label(hold.kind).lower()} {hold.reference} {when}, "
               f"on {due}. Review it and release it or keep it.\n\n{_staff_link(hold)}\n")
    add_hold_event(hold, actor, "reminder",
                   f"Review reminder sent: review due {due} (owner and team).", at)
    record_event(actor, "hold.review_reminder_sent", object_type="hold", object_id=hold.reference,
                 agency_id=hold.agency_id,
                 after={"review_due_at": as_utc(hold.review_due_at).isoformat()})


def send_due_reminders(at: datetime | None = None, actor: Identity | None = None,
                       report: SweepReport | None = None) -> SweepReport:
    """Send the reminders due at ``at`` that have not been sent for the current expiry."""
    at = as_utc(at or now())
    actor = actor or system_identity("job:hold sweep")
    report = report if report is not None else SweepReport()
    days = sorted({d for d in _settings().hold_reminder_days if d > 0})
    if days:
        horizon = at + timedelta(days=max(days))
        holds = db.session.scalars(
            select(PreservationHold)
            .where(PreservationHold.status.in_(LIVE_STATUSES),
                   PreservationHold.expires_at > at, PreservationHold.expires_at <= horizon)
            .order_by(PreservationHold.expires_at, PreservationHold.id))
        for hold in holds:
            remaining = as_utc(hold.expires_at) - at
            reached = [d for d in days if remaining <= timedelta(days=d)]
            recorded = _recorded(hold, hold.expires_at)
            pending = [d for d in reached if d not in recorded]
            if not pending:
                continue
            nearest = min(reached)
            for d in pending:
                _claim(hold, hold.expires_at, d, at)
            if nearest in pending:
                _expiry_reminder(hold, nearest, at, actor)
                report.reminded.append((hold.reference, nearest))
            skipped = [d for d in pending if d != nearest]
            if skipped:
                add_hold_event(hold, actor, "reminder", "Passed over (a nearer reminder was due): "
                               + ", ".join(f"{d}-day" for d in skipped) + " reminder.", at)
                report.passed_over.extend((hold.reference, d) for d in skipped)

    reviews = db.session.scalars(
        select(PreservationHold)
        .where(PreservationHold.status.in_(LIVE_STATUSES),
               PreservationHold.review_due_at.is_not(None),
               PreservationHold.review_due_at <= at + timedelta(days=REVIEW_NOTICE_DAYS))
        .order_by(PreservationHold.review_due_at, PreservationHold.id))
    for hold in reviews:
        if hold.expires_at is not None and as_utc(hold.expires_at) <= at:
            continue  # ended; expire_holds deals with it
        if -REVIEW_NOTICE_DAYS in _recorded(hold, hold.review_due_at):
            continue
        _claim(hold, hold.review_due_at, -REVIEW_NOTICE_DAYS, at)
        _review_reminder(hold, at, actor)
        report.review_reminded.append(hold.reference)
    db.session.flush()
    return report


def sweep(at: datetime | None = None, actor: Identity | None = None) -> SweepReport:
    """Expire what has run out, then send the reminders that are due (one transaction:
    the caller commits; mail goes after the commit)."""
    at = as_utc(at or now())
    actor = actor or system_identity("job:hold sweep")
    report = SweepReport()
    expire_holds(at, actor, report)
    send_due_reminders(at, actor, report)
    return report


@jobs.periodic_task(crontab(minute="5"))
def sweep_holds() -> None:
    report = sweep(now(), system_identity("job:sweep_holds"))
    log.info("hold sweep: %s", report.summary())
