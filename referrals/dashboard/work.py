"""The staff home's work: what is urgent now, read for one person.

Open emergencies (emergency requests not yet answered, and open P0 cases) with their
deadlines; overdue and due-soon counts for cases, requests and holds; what is assigned to
the reader; unassigned P0/P1 cases. Each part only for a reader the feature's policy lets
list it. The page renders it once and ``work.js`` asks ``/dashboard/work.json`` again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from referrals.cases.models import Case
from referrals.cases.policies import case_policy
from referrals.cases.queue import deadline_counts
from referrals.cases.rules import DUE_SOON, PRIORITY_RANK
from referrals.core.clock import as_utc, now
from referrals.core.deadlines import span
from referrals.core.identity import Identity
from referrals.extensions import db
from referrals.holds.models import PreservationHold
from referrals.holds.policies import hold_policy
from referrals.holds.rules import LIVE_STATUSES
from referrals.requests.models import DisclosureRequest
from referrals.requests.rules import CLOCK_STOPPED_STATUSES, REQUEST_TYPES
from referrals.requests.services import request_policy

LIST_LIMIT = 20
URGENT_PRIORITIES = ("P0", "P1")


@dataclass(frozen=True)
class WorkItem:
    kind: str  # case | request | hold
    key: str  # "case:CASE-2026-000001": stable across refreshes (new-emergency detection)
    reference: str
    title: str
    due_at: datetime | None
    label: str = ""  # priority or type

    def due_iso(self) -> str:
        return as_utc(self.due_at).isoformat() if self.due_at else ""

    def seconds_left(self, at: datetime) -> int | None:
        return None if self.due_at is None else int((as_utc(self.due_at) - at).total_seconds())


@dataclass
class Work:
    at: datetime
    emergencies: list[WorkItem] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    mine: list[WorkItem] = field(default_factory=list)
    unassigned_urgent: list[WorkItem] = field(default_factory=list)
    soon_seconds: int = int(DUE_SOON.total_seconds())

    def as_json(self) -> dict:
        def item(row: WorkItem) -> dict:
            return {"kind": row.kind, "key": row.key, "reference": row.reference,
                    "title": row.title, "label": row.label,
                    "due_at": row.due_iso() or None,
                    "seconds_left": row.seconds_left(self.at)}
        return {"at": self.at.isoformat(), "emergencies": [item(r) for r in self.emergencies],
                "counts": self.counts, "mine": [item(r) for r in self.mine],
                "unassigned_urgent": [item(r) for r in self.unassigned_urgent]}


def _case_item(case: Case) -> WorkItem:
    due = case.queue_due_at if case.queue_due_at and case.queue_due_at.year < 9999 else None
    return WorkItem("case", f"case:{case.reference}", case.reference, case.title, due,
                    case.priority)


def _request_item(request: DisclosureRequest) -> WorkItem:
    return WorkItem("request", f"request:{request.reference}", request.reference,
                    request.officer_name and f"From {request.officer_name}" or "",
                    request.deadline_at, _request_label(request))


def _request_label(request: DisclosureRequest) -> str:
    if not request.emergency:
        return REQUEST_TYPES[request.request_type].label
    if request.officer_unverified and request.callback_at is None:
        return "Emergency · officer not yet verified"
    return "Emergency"


def _counting_requests():
    """Open requests whose clock still runs (a disclosed one waits only to be closed)."""
    return select(DisclosureRequest).where(
        DisclosureRequest.is_open.is_(True),
        DisclosureRequest.status.not_in(CLOCK_STOPPED_STATUSES))


def _count(query) -> int:
    limited = query.with_only_columns(func.count()).order_by(None)
    return int(db.session.scalar(limited) or 0)


def overdue_counts(at: datetime) -> dict[str, int]:
    """Open cases, counting requests and live holds past their deadline, for everyone at once
    (the operators' metrics; ``urgent_work`` gives the same counts per reader)."""
    live = select(PreservationHold).where(PreservationHold.status.in_(LIVE_STATUSES))
    return {
        "cases": deadline_counts(select(Case).where(Case.is_open.is_(True)))["overdue"],
        "requests": _count(_counting_requests().where(DisclosureRequest.deadline_at < at)),
        "holds": _count(live.where(PreservationHold.expires_at < at)),
    }


def urgent_work(identity: Identity) -> Work:
    at = now()
    work = Work(at=at)
    if case_policy.can(identity, "list"):
        open_cases = select(Case).where(Case.is_open.is_(True))
        work.counts["cases"] = deadline_counts(open_cases)
        p0 = db.session.scalars(open_cases.where(Case.priority == "P0")
                                .order_by(Case.queue_due_at, Case.id).limit(LIST_LIMIT))
        work.emergencies.extend(_case_item(case) for case in p0)
        mine = db.session.scalars(open_cases.where(Case.assignee_id == identity.user_id)
                                  .order_by(Case.priority_rank, Case.queue_due_at, Case.id)
                                  .limit(LIST_LIMIT))
        work.mine.extend(_case_item(case) for case in mine)
        urgent = db.session.scalars(
            open_cases.where(Case.assignee_id.is_(None),
                             Case.priority_rank <= PRIORITY_RANK[URGENT_PRIORITIES[-1]])
            .order_by(Case.priority_rank, Case.queue_due_at, Case.id).limit(LIST_LIMIT))
        work.unassigned_urgent.extend(_case_item(case) for case in urgent)
    if request_policy.can(identity, "view"):
        counting = _counting_requests()
        # A request whose clock stands (waiting on the agency, an Annex III) is neither
        # overdue nor due soon: its deadline moves on when the clock runs again.
        running = counting.where(DisclosureRequest.clock_paused_at.is_(None))
        work.counts["requests"] = {
            "overdue": _count(running.where(DisclosureRequest.deadline_at < at)),
            "due_soon": _count(running.where(DisclosureRequest.deadline_at >= at,
                                             DisclosureRequest.deadline_at < at + DUE_SOON)),
        }
        emergencies = db.session.scalars(
            counting.where(DisclosureRequest.emergency.is_(True))
            .order_by(DisclosureRequest.deadline_at, DisclosureRequest.id).limit(LIST_LIMIT))
        work.emergencies[:0] = [_request_item(r) for r in emergencies]
        mine = db.session.scalars(
            counting.where(DisclosureRequest.assignee_id == identity.user_id)
            .order_by(DisclosureRequest.deadline_at, DisclosureRequest.id).limit(LIST_LIMIT))
        work.mine.extend(_request_item(r) for r in mine)
    if hold_policy.can(identity, "list"):
        live = select(PreservationHold).where(PreservationHold.status.in_(LIVE_STATUSES))
        work.counts["holds"] = {
            "overdue": _count(live.where(PreservationHold.expires_at < at)),
            "due_soon": _count(live.where(PreservationHold.expires_at >= at,
                                          PreservationHold.expires_at < at + span("hold_expiring_soon"))),
        }
    return work
