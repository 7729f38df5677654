"""Helpers for the holds tests: synthetic requests and made-up accounts only."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from referrals.core.identity import Identity
from referrals.core.transaction import commit
from referrals.evidence.models import EvidenceItem
from referrals.extensions import db
from referrals.holds.models import PreservationHold
from referrals.requests.models import DisclosureRequest
from tests.requests.helpers import submit

PRESERVATION_BASIS = "Made-up preservation letter under 18 U.S.C. 2703(f), case 26-0420"
RENEWAL_BASIS = "Made-up renewal of the preservation under 18 U.S.C. 2703(f)(2)"
TARGETS = [{"kind": "username", "value": "@Made_Up_Target_One"},
           {"kind": "email", "value": "Target.Two@Example.INVALID"}]


def preserve(officer, **overrides) -> DisclosureRequest:
    """A 2703(f) preservation request from ``officer``, through the intake service."""
    data = dict(request_type="preservation", legal_basis=PRESERVATION_BASIS, targets=TARGETS,
                data_categories=["subscriber", "login_logout", "content"],
                date_from=date(2025, 10, 1), date_to=date(2025, 12, 31))
    data.update(overrides)
    return submit(officer, **data)


def renew(officer, related_reference: str, **overrides) -> DisclosureRequest:
    data = dict(request_type="preservation_renewal", legal_basis=RENEWAL_BASIS,
                related_reference=related_reference, targets=TARGETS[:1],
                data_categories=["subscriber"], date_from=date(2025, 10, 1),
                date_to=date(2025, 12, 31))
    data.update(overrides)
    return submit(officer, **data)


def hold_of(request: DisclosureRequest) -> PreservationHold:
    db.session.expire_all()
    return db.session.scalar(select(PreservationHold)
                             .where(PreservationHold.request_id == request.id))


def by_reference(reference: str) -> PreservationHold:
    db.session.expire_all()
    return db.session.scalar(select(PreservationHold)
                             .where(PreservationHold.reference == reference))


def snapshot_items(hold: PreservationHold) -> list[EvidenceItem]:
    return list(db.session.scalars(select(EvidenceItem).where(EvidenceItem.hold_id == hold.id)
                                   .order_by(EvidenceItem.id)))


def request_count() -> int:
    return db.session.scalar(select(func.count()).select_from(DisclosureRequest))


def committed() -> None:
    """Commit as a request would at its end, so what waits for the commit (the snapshot
    job, run at once in tests) runs."""
    commit()


def me(user) -> Identity:
    return Identity.for_user(user)
