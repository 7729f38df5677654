"""Whether anything is held. Every path that deletes, purges or alters held material asks here.

One question, answered one way: a hold is live while its status is active or extended and
its expiry (if it has one) is still in the future, by the clock of the caller. A live hold
covers:

- the case it was placed on;
- every case with an identifier in its scope (the same kind and normalised value), since a
  hold freezes an account wherever it appears, not only in the case that asked;
- the evidence items of a covered case, its own snapshot items, and the items collected for
  the request it came from;
- what we collected elsewhere about an account in its scope: the snapshot items of another
  hold (ended or not) whose scope or case takes in a held account, and the items collected for
  a request with a target in its scope. Our copies of a held account's data are kept, whoever
  collected them.

The check is deliberately wider than a hold's date range and data categories: those limit what
the platform must freeze, but our copies of what we hold about a held account are kept whole.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased

from referrals.cases.models import Case, Identifier
from referrals.core.clock import now
from referrals.core.errors import DomainError
from referrals.evidence.models import EvidenceItem
from referrals.extensions import db
from referrals.holds.models import HeldIdentifier, PreservationHold
from referrals.holds.rules import LIVE_STATUSES
from referrals.requests.models import RequestTarget


def live_hold_clause(at: datetime):
    """SQL condition: the PreservationHold row is live at ``at``."""
    return and_(
        PreservationHold.status.in_(LIVE_STATUSES),
        or_(PreservationHold.expires_at.is_(None), PreservationHold.expires_at > at),
    )


def _case_held_clause(case_id_column, at: datetime):
    by_case = exists(select(PreservationHold.id).where(
        PreservationHold.case_id == case_id_column, live_hold_clause(at)))
    by_identifier = exists(
        select(HeldIdentifier.id)
        .join(PreservationHold, PreservationHold.id == HeldIdentifier.hold_id)
        .join(Identifier, and_(Identifier.kind == HeldIdentifier.kind,
                               Identifier.normalized == HeldIdentifier.normalized))
        .where(Identifier.case_id == case_id_column, live_hold_clause(at)))
    return or_(by_case, by_identifier)


def case_held_clause(case_id_column, at: datetime | None = None):
    """SQL condition: the case in ``case_id_column`` is held at ``at``. For queries over many
    cases (the retention job); ``is_held`` answers for one."""
    return _case_held_clause(case_id_column, at or now())


@cache
def _aliases():
    """Made once (on first use, when every model is mapped): building aliases is the costly
    part of these expressions, and each is used in its own subquery, so sharing is safe."""
    return (aliased(PreservationHold, name="live_hold"),
            aliased(HeldIdentifier, name="live_held_identifier"),
            aliased(PreservationHold, name="snapshot_hold"),
            aliased(HeldIdentifier, name="snapshot_identifier"))


def _account_held_clause(kind_column, normalized_column, at: datetime):
    """SQL condition: a live hold has this (kind, normalised value) in its scope."""
    live, scoped, _, _ = _aliases()
    return exists(
        select(scoped.id).join(live, live.id == scoped.hold_id)
        .where(scoped.kind == kind_column, scoped.normalized == normalized_column,
               live.status.in_(LIVE_STATUSES),
               or_(live.expires_at.is_(None), live.expires_at > at)))


def evidence_held_clause(at: datetime | None = None):
    """SQL condition over EvidenceItem: the item is held at ``at``."""
    at = at or now()
    own_hold = exists(select(PreservationHold.id).where(
        PreservationHold.id == EvidenceItem.hold_id, live_hold_clause(at)))
    request_hold = exists(select(PreservationHold.id).where(
        PreservationHold.request_id == EvidenceItem.request_id,
        EvidenceItem.request_id.is_not(None), live_hold_clause(at)))
    case_hold = and_(EvidenceItem.case_id.is_not(None),
                     _case_held_clause(EvidenceItem.case_id, at))
    # A snapshot of an account another live hold freezes (by scope, or by the snapshot's case).
    _, _, snapshot_hold, snapshot_identifier = _aliases()
    snapshot_account = exists(
        select(snapshot_identifier.id).where(
            snapshot_identifier.hold_id == EvidenceItem.hold_id,
            _account_held_clause(snapshot_identifier.kind, snapshot_identifier.normalized, at)))
    snapshot_case = exists(
        select(snapshot_hold.id).where(
            snapshot_hold.id == EvidenceItem.hold_id, snapshot_hold.case_id.is_not(None),
            _case_held_clause(snapshot_hold.case_id, at)))
    # Collected for a request about an account a live hold freezes.
    request_account = exists(
        select(RequestTarget.id).where(
            RequestTarget.request_id == EvidenceItem.request_id,
            _account_held_clause(RequestTarget.kind, RequestTarget.normalized, at)))
    return or_(own_hold, request_hold, case_hold,
               and_(EvidenceItem.hold_id.is_not(None), or_(snapshot_account, snapshot_case)),
               and_(EvidenceItem.request_id.is_not(None), request_account))


def is_held(thing, at: datetime | None = None) -> bool:
    """True when ``thing`` (a Case, an EvidenceItem or a PreservationHold) is held at ``at``."""
    at = at or now()
    if isinstance(thing, PreservationHold):
        return thing.status in LIVE_STATUSES and (
            thing.expires_at is None or thing.expires_at > at)
    if isinstance(thing, Case):
        return bool(db.session.scalar(select(_case_held_clause(thing.id, at))))
    if isinstance(thing, EvidenceItem):
        return bool(db.session.scalar(
            select(evidence_held_clause(at)).select_from(EvidenceItem)
            .where(EvidenceItem.id == thing.id)))
    raise TypeError(f"is_held does not know {type(thing).__name__}")


class Held(DomainError):
    """Refused: the thing is under a live preservation hold."""

    title = "Under a preservation hold"


def refuse_if_held(thing, at: datetime | None = None) -> None:
    """For every path that deletes, purges or alters: raise ``Held`` when ``thing`` is held."""
    if is_held(thing, at):
        what = {"Case": "This case", "EvidenceItem": "This evidence item",
                "PreservationHold": "This hold's data"}.get(type(thing).__name__, "This")
        raise Held(f"{what} is under a preservation hold: nothing in it can be deleted or "
                   "altered until every hold on it has ended.")
