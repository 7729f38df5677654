"""Whether anything is held. Every path that deletes, purges or alters held material asks here.

One question, answered one way: a hold is live while its status is active or extended and
its expiry (if it has one) is still in the future, by the clock of the caller. A live hold
covers:

- the case it was placed on;
- every case with an identifier in its scope (the same kind and normalised value), since a
  hold freezes an account wherever it appears, not only in the case that asked;
- the evidence items of a covered case, its own snapshot items, and the items collected for
  the request it came from.

The check is deliberately wider than a hold's date range and data categories: those limit what
the platform must freeze, but our copies of what we hold about a held account are kept whole.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, or_, select

from referrals.cases.models import Identifier
from referrals.core.clock import now
from referrals.evidence.models import EvidenceItem
from referrals.extensions import db
from referrals.holds.models import HeldIdentifier, PreservationHold
from referrals.holds.rules import LIVE_STATUSES


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
    return or_(own_hold, request_hold, case_hold)


def is_held(thing, at: datetime | None = None) -> bool:
    """True when ``thing`` (a Case, an EvidenceItem or a PreservationHold) is held at ``at``."""
    from referrals.cases.models import Case

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
