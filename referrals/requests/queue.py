"""The staff queue of disclosure requests: its filters and its order
(``requests.services.staff_queue`` reads it).

Order: a request still waiting for its answer before one that was answered (a disclosed
request waits only to be closed), emergencies first, then by deadline. Filters: type,
status, agency, assignee (someone, nobody), mine; open only unless asked. Every filter is a
column of ``ix_requests_queue`` or an indexed foreign key, so a filtered page costs the same
as the whole queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import case, select

from referrals.agencies.models import Agency
from referrals.core.identity import Identity
from referrals.extensions import db
from referrals.requests import rules
from referrals.requests.models import DisclosureRequest

NOBODY = "none"


@dataclass(frozen=True)
class RequestFilters:
    request_type: str = ""
    status: str = ""
    agency_id: int | None = None
    assignee: str = ""  # "" anyone, "none" nobody, or a user id
    mine: bool = False
    open_only: bool = True

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> RequestFilters:
        """From a query string: an unknown value is no filter (an edited link shows the whole
        queue, never an error page)."""
        def number(name: str) -> int | None:
            value = (args.get(name) or "").strip()
            return int(value) if value.isdigit() and len(value) < 10 else None

        assignee = (args.get("assignee") or "").strip()
        if assignee != NOBODY and number("assignee") is None:
            assignee = ""
        return cls(
            request_type=args.get("type", "") if args.get("type") in rules.REQUEST_TYPES else "",
            status=args.get("status", "") if args.get("status") in rules.STATUSES else "",
            agency_id=number("agency"), assignee=assignee, mine=args.get("mine") == "1",
            open_only=args.get("all") != "1")

    def as_args(self, **changes) -> dict[str, str]:
        """The query string that shows these filters (with ``changes``), for links."""
        values = {"type": self.request_type, "status": self.status,
                  "agency": str(self.agency_id or ""), "assignee": self.assignee,
                  "mine": "1" if self.mine else "", "all": "" if self.open_only else "1"}
        values.update(changes)
        return {key: value for key, value in values.items() if value}

    @property
    def active(self) -> bool:
        return bool(self.request_type or self.status or self.agency_id or self.assignee
                    or self.mine)


def filtered(query, filters: RequestFilters, identity: Identity):
    """``query`` (of DisclosureRequest) narrowed to ``filters``, in the queue's order."""
    if filters.open_only:
        query = query.where(DisclosureRequest.is_open.is_(True))
    if filters.request_type:
        query = query.where(DisclosureRequest.request_type == filters.request_type)
    if filters.status:
        query = query.where(DisclosureRequest.status == filters.status)
    if filters.agency_id:
        query = query.where(DisclosureRequest.agency_id == filters.agency_id)
    if filters.mine:
        query = query.where(DisclosureRequest.assignee_id == identity.user_id)
    elif filters.assignee == NOBODY:
        query = query.where(DisclosureRequest.assignee_id.is_(None))
    elif filters.assignee:
        query = query.where(DisclosureRequest.assignee_id == int(filters.assignee))
    # A request still waiting for its answer before one that was answered (disclosed, or
    # over when closed ones are shown): a disclosed emergency must not sit on top.
    answered = case((DisclosureRequest.status.in_(rules.CLOCK_STOPPED_STATUSES), 1), else_=0)
    return query.order_by(answered, DisclosureRequest.emergency.desc(),
                          DisclosureRequest.deadline_at.asc().nulls_last(), DisclosureRequest.id)


def agencies_to_filter(filters: RequestFilters) -> list[tuple[int, str]]:
    """The agencies the agency filter offers: those with a request in the queue shown (a
    registry of thousands of agencies is not a drop-down)."""
    with_requests = select(DisclosureRequest.agency_id)
    if filters.open_only:
        with_requests = with_requests.where(DisclosureRequest.is_open.is_(True))
    return list(db.session.execute(
        select(Agency.id, Agency.name).where(Agency.id.in_(with_requests.distinct()))
        .order_by(Agency.name)).all())
