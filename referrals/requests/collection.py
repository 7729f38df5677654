"""The "collecting" step of a disclosure request: asking the platform for what was approved.

Only the targets decided "produce", only the data categories and dates the request asked for.
What comes back is evidence owned by the request (hashes, a "collected" custody event each),
seen by staff only: the agency receives it later, in a package, after the release.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from referrals.audit.services import record_event
from referrals.connector import Period, Target
from referrals.connector.services import collect_from_platform, collected_category
from referrals.core.clock import now
from referrals.core.errors import DomainError
from referrals.core.identity import Identity
from referrals.evidence.models import EvidenceItem
from referrals.evidence.services import item_owned_by
from referrals.extensions import db
from referrals.requests import rules
from referrals.requests.models import DisclosureRequest, RequestMessage
from referrals.requests.services import request_policy


@dataclass(frozen=True)
class CollectedItem:
    """A collected item as the staff request page lists it."""

    item: EvidenceItem
    category: str | None

    @property
    def category_label(self) -> str:
        return rules.DATA_CATEGORIES.get(self.category or "", "—")


def collect_for_request(actor: Identity, request: DisclosureRequest) -> list[EvidenceItem]:
    """Collect, from the platform, the approved data for every target decided "produce"."""
    request_policy.require(actor, "work", request)
    if request.status != "collecting":
        raise DomainError(
            f"Data is collected while a request is collecting; this one is "
            f"{rules.STATUSES[request.status].lower()}.")
    targets = [t for t in request.targets if t.decision == "produce"]
    if not targets:
        raise DomainError("No target on this request is decided \"produce\": there is nothing "
                          "to collect.")
    categories = [c for c in rules.DATA_CATEGORIES if c in (request.data_categories or ())]
    if not categories:
        raise DomainError("The request names no data category to collect.")
    period = Period(request.date_from, request.date_to)
    items = collect_from_platform(
        actor, targets=[Target(t.kind, t.normalized) for t in targets], categories=categories,
        period=period, purpose=f"Collected for {request.reference}", request=request)
    at = now()
    request.updated_at = at
    by_category: dict[str, int] = {}
    for item in items:
        category = collected_category(item) or "other"
        by_category[category] = by_category.get(category, 0) + 1
    source = items[0].source_system if items else ""
    # The request's own record for staff: an internal message never reaches the portal.
    db.session.add(RequestMessage(
        request_id=request.id, author_id=actor.user_id, from_agency=False, internal=True,
        created_at=at,
        body=(f"Collected from the platform ({source}): {len(items)} item(s) for "
              f"{', '.join(t.normalized for t in targets)}; "
              f"{', '.join(rules.DATA_CATEGORIES[c].lower() for c in categories)}; "
              f"{_period_text(period)}.")))
    db.session.flush()
    record_event(actor, "request.collected", object_type="request", object_id=request.reference,
                 agency_id=request.agency_id,
                 after={"items": len(items), "bytes": sum(i.size for i in items),
                        "by_category": by_category, "targets": [t.normalized for t in targets],
                        "categories": categories, "source_system": source,
                        "period": {"from": _iso(period.start), "to": _iso(period.end)},
                        "evidence_ids": [i.id for i in items]})
    return items


def collected_items(request: DisclosureRequest) -> list[CollectedItem]:
    """What was collected for the request, newest first. Staff only: callers check."""
    items = db.session.scalars(
        select(EvidenceItem).where(EvidenceItem.request_id == request.id)
        .order_by(EvidenceItem.captured_at.desc(), EvidenceItem.id.desc()))
    return [CollectedItem(item, collected_category(item)) for item in items]


def get_collected_item(request: DisclosureRequest, item_id: int) -> EvidenceItem:
    return item_owned_by(EvidenceItem.request_id, request.id, item_id,
                         "Nothing with this number was collected for this request.")


def _iso(day) -> str | None:
    return day.isoformat() if day else None


def _period_text(period: Period) -> str:
    if period.start is None and period.end is None:
        return "all dates the platform keeps"
    return f"{_iso(period.start) or 'the start'} to {_iso(period.end) or 'today'}"
