"""The snapshot a hold takes of its scope: what the platform holds, at the time the hold is
placed, for each account in scope and each data category, as evidence items owned by the hold
(hashed, encrypted, each with a "collected" custody event).

Asking the platform can be slow, so it runs as a job queued after the hold is committed
(``snapshot_hold``). The job is safe to run twice: it claims the hold by setting
``snapshot_at`` only where it is still empty, in the same transaction as the items, so a
second run finds it set and does nothing, and a failed run leaves it empty for the retry.
"""

from __future__ import annotations

from sqlalchemy import select, update

from referrals.audit.services import record_event
from referrals.connector import Period, Target
from referrals.connector.services import collect_from_platform
from referrals.core.clock import now
from referrals.core.identity import Identity, system_identity
from referrals.evidence.models import EvidenceItem
from referrals.extensions import db, jobs
from referrals.holds.models import PreservationHold
from referrals.holds.policies import hold_policy
from referrals.holds.rules import LIVE_STATUSES
from referrals.holds.history import add_hold_event
from referrals.vocabulary.categories import DATA_CATEGORIES

SNAPSHOT_LABEL = "Preservation snapshot"


def take_snapshot(actor: Identity, hold: PreservationHold) -> list[EvidenceItem]:
    """Collect the hold's scope from the platform, once. Returns the items (none when the
    snapshot was already taken, or when nothing is in scope)."""
    hold_policy.require(actor, "snapshot", hold)
    at = now()
    claimed = db.session.execute(
        update(PreservationHold)
        .where(PreservationHold.id == hold.id, PreservationHold.snapshot_at.is_(None))
        .values(snapshot_at=at, updated_at=at)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        return []
    hold.snapshot_at, hold.updated_at = at, at
    targets = [Target(i.kind, i.normalized) for i in hold.identifiers]
    categories = [c for c in DATA_CATEGORIES if c in (hold.data_categories or ())]
    items: list[EvidenceItem] = []
    if targets and categories:
        items = collect_from_platform(
            actor, targets=targets, categories=categories,
            period=Period(hold.date_from, hold.date_to),
            purpose=f"Preservation snapshot for {hold.reference}", hold=hold)
    size = sum(item.size for item in items)
    source = items[0].source_system if items else ""
    if items:
        body = (f"Snapshot taken from the platform ({source}): {len(items)} item(s), "
                f"{size:,} bytes, for {len(targets)} account(s) and {len(categories)} data "
                "categor" + ("y." if len(categories) == 1 else "ies."))
    else:
        body = "No account in scope: there was nothing to take from the platform."
    add_hold_event(hold, actor, "snapshot", body, at)
    db.session.flush()
    record_event(actor, "hold.snapshot_taken", object_type="hold", object_id=hold.reference,
                 agency_id=hold.agency_id,
                 after={"items": len(items), "bytes": size, "source_system": source or None,
                        "evidence_ids": [i.id for i in items],
                        "sha256": [i.sha256 for i in items]})
    return items


@jobs.task(retries=3, retry_delay=300)
def snapshot_hold(hold_id: int) -> None:
    """Take the snapshot of a newly placed hold. Skips a hold that has its snapshot, or
    ended before the job ran (there is nothing left to preserve)."""
    hold = db.session.scalar(select(PreservationHold).where(PreservationHold.id == hold_id))
    if hold is None or hold.snapshot_at is not None or hold.status not in LIVE_STATUSES:
        return
    take_snapshot(system_identity(SNAPSHOT_LABEL), hold)
