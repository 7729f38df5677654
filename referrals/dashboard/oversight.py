"""The supervisor and compliance dashboard: requests by type over the last months, how fast
emergencies got a first response against the internal target, holds expiring, what is overdue,
and QA findings still open.

An emergency's first response is the first thing a person of staff did on the request after it
arrived (the earliest audit event on it by a staff account that is not a page view): the
team's answer to an emergency disclosure request (18 U.S.C. 2702(b)(8)) is measured against the
internal target of the deadline rules (``emergency_disclosure_response``, 1 hour).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, select

from referrals.audit.models import AuditEvent
from referrals.core.clock import as_utc, now
from referrals.core.deadlines import span
from referrals.core.identity import Identity
from referrals.dashboard.work import urgent_work
from referrals.disclosures.qa import open_findings_count
from referrals.disclosures.qa_models import FINDING_CATEGORIES, OPEN_FINDING_STATUSES, QaFinding
from referrals.extensions import db
from referrals.holds.reports import ExpiringRow, expiring_holds
from referrals.requests.models import DisclosureRequest
from referrals.requests.rules import REQUEST_TYPES

MONTHS = 6
EMERGENCY_WINDOW_DAYS = 30
HOLD_HORIZON_DAYS = 14
GROUPS = {"legal": "Legal process", "emergency": "Emergency", "preservation": "Preservation"}


def request_group(kind: str) -> str:
    rule = REQUEST_TYPES.get(kind)
    if rule is not None and rule.emergency:
        return "emergency"
    if rule is not None and rule.preservation:
        return "preservation"
    return "legal"


@dataclass(frozen=True)
class Month:
    label: str  # "2026-11"
    by_type: dict[str, int]

    def group(self, name: str) -> int:
        return sum(n for kind, n in self.by_type.items() if request_group(kind) == name)

    @property
    def total(self) -> int:
        return sum(self.by_type.values())


@dataclass(frozen=True)
class EmergencyResponse:
    reference: str
    received_at: datetime
    first_response_at: datetime | None
    waited: timedelta  # to the first response, or until now when none yet


@dataclass
class Oversight:
    at: datetime
    months: list[Month] = field(default_factory=list)
    emergencies: list[EmergencyResponse] = field(default_factory=list)
    target: timedelta = timedelta(hours=1)
    expiring: list[ExpiringRow] = field(default_factory=list)
    overdue: dict[str, int] = field(default_factory=dict)
    findings_open: int = 0
    findings_by_category: dict[str, int] = field(default_factory=dict)

    @property
    def answered(self) -> list[timedelta]:
        return sorted(e.waited for e in self.emergencies if e.first_response_at is not None)

    @property
    def median(self) -> timedelta | None:
        answered = self.answered
        return statistics.median(answered) if answered else None

    @property
    def p90(self) -> timedelta | None:
        """The 90th percentile by nearest rank (a value that happened, not an interpolation)."""
        answered = self.answered
        return answered[math.ceil(0.9 * len(answered)) - 1] if answered else None

    @property
    def within_target(self) -> int:
        return sum(1 for e in self.emergencies
                   if e.first_response_at is not None and e.waited <= self.target)

    @property
    def unanswered(self) -> int:
        return sum(1 for e in self.emergencies if e.first_response_at is None)


def _month_starts(at: datetime, months: int) -> list[datetime]:
    year, month = at.year, at.month
    starts = []
    for _ in range(months + 1):
        starts.append(datetime(year, month, 1, tzinfo=UTC))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return list(reversed(starts))  # the oldest first; the last is this month's start


def requests_by_month(at: datetime, months: int = MONTHS) -> list[Month]:
    """Requests received in each of the last ``months`` calendar months (UTC), this one
    included, by type: one grouped query per month, the same on SQLite and PostgreSQL."""
    starts = _month_starts(at, months - 1)
    bounds = list(zip(starts, [*starts[1:], at + timedelta(seconds=1)], strict=True))
    result = []
    for start, end in bounds:
        rows = db.session.execute(
            select(DisclosureRequest.request_type, func.count(DisclosureRequest.id))
            .where(DisclosureRequest.received_at >= start, DisclosureRequest.received_at < end)
            .group_by(DisclosureRequest.request_type))
        result.append(Month(f"{start:%Y-%m}", {kind: int(n) for kind, n in rows}))
    return result


def emergency_responses(at: datetime, days: int = EMERGENCY_WINDOW_DAYS) -> list[EmergencyResponse]:
    emergency_types = [k for k, rule in REQUEST_TYPES.items() if rule.emergency]
    requests = db.session.execute(
        select(DisclosureRequest.reference, DisclosureRequest.received_at)
        .where(DisclosureRequest.request_type.in_(emergency_types),
               DisclosureRequest.received_at >= at - timedelta(days=days))
        .order_by(DisclosureRequest.received_at)).all()
    if not requests:
        return []
    received = {reference: as_utc(when) for reference, when in requests}
    first = dict(db.session.execute(
        select(AuditEvent.object_id, func.min(AuditEvent.occurred_at))
        .where(and_(AuditEvent.object_type == "request",
                    AuditEvent.object_id.in_(list(received)),
                    AuditEvent.actor_kind == "staff",
                    AuditEvent.action.not_like("%.viewed")))
        .group_by(AuditEvent.object_id)).all())
    out = []
    for reference, received_at in received.items():
        answered = as_utc(first[reference]) if first.get(reference) else None
        out.append(EmergencyResponse(reference, received_at, answered,
                                     (answered or at) - received_at))
    return out


def oversight(identity: Identity) -> Oversight:
    at = now()
    work = urgent_work(identity)
    by_category = dict(db.session.execute(
        select(QaFinding.category, func.count(QaFinding.id))
        .where(QaFinding.status.in_(OPEN_FINDING_STATUSES))
        .group_by(QaFinding.category)).all())
    return Oversight(
        at=at, months=requests_by_month(at), emergencies=emergency_responses(at),
        target=span("emergency_disclosure_response"),
        expiring=expiring_holds(identity, HOLD_HORIZON_DAYS, at),
        overdue={name: counts.get("overdue", 0) for name, counts in work.counts.items()},
        findings_open=open_findings_count(),
        findings_by_category={FINDING_CATEGORIES[k]: int(v) for k, v in by_category.items()
                              if k in FINDING_CATEGORIES})
