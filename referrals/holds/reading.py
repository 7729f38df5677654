"""Reading holds for staff pages, case pages and the portal. Staff read every hold (by
policy); an officer reads a hold only through the officer scope (``requests.scope``): the
hold of a request already loaded in it (``hold_for_request``), or one named by reference
(``get_hold_for_officer``, for its letter). Any other hold answers like one that does not
exist.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, case, exists, or_, select
from sqlalchemy.orm import joinedload, lazyload, load_only

from referrals.accounts.models import User
from referrals.cases.models import Case, Identifier, Subject
from referrals.core.clock import now
from referrals.core.errors import NotFound
from referrals.core.identity import Identity
from referrals.evidence.models import EvidenceItem
from referrals.evidence.services import item_owned_by
from referrals.extensions import db
from referrals.holds.models import HeldIdentifier, PreservationHold
from referrals.holds.policies import hold_policy
from referrals.holds.rules import HOLD_KINDS, LIVE_STATUSES, STATUSES
from referrals.requests.models import DisclosureRequest
from referrals.requests.rules import RENEWAL_REQUEST_TYPES
from referrals.requests.scope import officer_preservation_clause, officer_sees_preservation_of


def get_hold(identity: Identity, reference: str) -> PreservationHold:
    hold_policy.require(identity, "view")
    hold = db.session.scalar(select(PreservationHold)
                             .where(PreservationHold.reference == reference.strip().upper()))
    if hold is None:
        raise NotFound(f"There is no hold {reference}.")
    return hold


def officer_hold_clause(identity: Identity):
    """SQL condition over PreservationHold: the officer may see the hold (placed by a request
    in the officer scope, or renewed by one)."""
    return officer_preservation_clause(identity, PreservationHold.request_id)


def officer_sees_hold(identity: Identity, hold: PreservationHold | None) -> bool:
    """Per object: the officer may see this loaded hold."""
    return hold is not None and officer_sees_preservation_of(identity, hold.request)


def get_hold_for_officer(identity: Identity, reference: str) -> PreservationHold:
    hold = db.session.scalar(select(PreservationHold).where(
        PreservationHold.reference == reference.strip().upper(), officer_hold_clause(identity)))
    if hold is None:
        raise NotFound("There is no such hold.")
    return hold


LIST_FILTERS = {"open": "Open (active or extended)", "all": "All", **STATUSES}


def staff_holds(identity: Identity, *, status: str = "open", kind: str = "",
                expiring_before: datetime | None = None,
                limit: int = 300) -> list[PreservationHold]:
    """Open holds first, soonest expiry first (holds without one after them); ended ones
    after, most recently ended first. With ``expiring_before``: only live holds whose
    expiry is still ahead and before that moment."""
    hold_policy.require(identity, "list")
    query = select(PreservationHold)
    if expiring_before is not None:
        query = query.where(PreservationHold.status.in_(LIVE_STATUSES),
                            PreservationHold.expires_at > now(),
                            PreservationHold.expires_at <= expiring_before)
    if status == "open":
        query = query.where(PreservationHold.status.in_(LIVE_STATUSES))
    elif status in STATUSES:
        query = query.where(PreservationHold.status == status)
    if kind in HOLD_KINDS:
        query = query.where(PreservationHold.kind == kind)
    live = PreservationHold.status.in_(LIVE_STATUSES)
    query = query.order_by(case((live, 0), else_=1),
                           case((live, PreservationHold.expires_at), else_=None).asc().nulls_last(),
                           case((live, PreservationHold.review_due_at), else_=None)
                           .asc().nulls_last(),
                           PreservationHold.ended_at.desc(), PreservationHold.id.desc())
    return list(db.session.scalars(query.limit(limit)))


# Built once (making it and its loader options cost more CPU than running it): holds placed
# on the case, and live holds elsewhere with one of the case's identifiers in their scope.
_HOLDS_FOR_CASE = (
    select(PreservationHold)
    .where(or_(PreservationHold.case_id == bindparam("case_id"), and_(
        exists(select(HeldIdentifier.id).join(Identifier, and_(
            Identifier.kind == HeldIdentifier.kind,
            Identifier.normalized == HeldIdentifier.normalized))
            .where(HeldIdentifier.hold_id == PreservationHold.id,
                   Identifier.case_id == bindparam("case_id"))),
        PreservationHold.status.in_(LIVE_STATUSES),
        or_(PreservationHold.expires_at.is_(None), PreservationHold.expires_at > bindparam("at")))))
    # The case page names each hold's request: its reference in this statement, not one
    # statement per hold for the request with its agency, officer and roles.
    .options(joinedload(PreservationHold.request).options(
        load_only(DisclosureRequest.reference), lazyload("*")))
    .order_by(PreservationHold.placed_at.desc(), PreservationHold.id.desc()))


def holds_for_case(case_: Case, at: datetime | None = None) -> list[PreservationHold]:
    """Holds placed on the case, and live holds elsewhere with one of its identifiers in
    their scope (a 2703(f) request on the same account freezes it here too)."""
    return list(db.session.scalars(_HOLDS_FOR_CASE, {"case_id": case_.id, "at": at or now()}))


def hold_for_request(request: DisclosureRequest) -> PreservationHold | None:
    """The hold a request placed, or for a renewal the hold it renewed. The caller has
    already loaded the request through its reader's scope."""
    hold = db.session.scalar(select(PreservationHold)
                             .where(PreservationHold.request_id == request.id))
    if hold is None and request.related_reference and \
            request.request_type in RENEWAL_REQUEST_TYPES:
        hold = db.session.scalar(
            select(PreservationHold)
            .join(DisclosureRequest, DisclosureRequest.id == PreservationHold.request_id)
            .where(DisclosureRequest.reference == request.related_reference,
                   DisclosureRequest.agency_id == request.agency_id))
    return hold


def owner_of(hold: PreservationHold) -> User | None:
    """Who answers for the hold: its owner, else the assignee of the request it came from."""
    if hold.owner is not None:
        return hold.owner
    if hold.request is not None:
        return hold.request.assignee
    return None


def snapshot_items(hold: PreservationHold) -> list[EvidenceItem]:
    return list(db.session.scalars(
        select(EvidenceItem).where(EvidenceItem.hold_id == hold.id)
        .order_by(EvidenceItem.captured_at, EvidenceItem.id)))


def get_snapshot_item(hold: PreservationHold, item_id: int) -> EvidenceItem:
    return item_owned_by(EvidenceItem.hold_id, hold.id, item_id,
                         "There is no such item in this hold's snapshot.")


def case_identifiers(case_: Case) -> list[Identifier]:
    """The identifiers of the case's subjects, the accounts a hold from the case can take in."""
    return list(db.session.scalars(
        select(Identifier).join(Subject, Subject.id == Identifier.subject_id)
        .where(Subject.case_id == case_.id).order_by(Subject.id, Identifier.id)))
