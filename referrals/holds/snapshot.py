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
from referrals.connector.services import ask_platform, record_exports, stage_exports
from referrals.core.clock import now
from referrals.core.identity import Identity, system_identity
from referrals.core.transaction import outside_transaction
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
    snapshot was already taken, or when nothing is in scope).

    The platform is asked and its files stored before the transaction writes anything (the
    claim included): waiting on the platform holds no lock (on SQLite the write lock, which
    every other writer waits for, is taken at the first write). A run that loses the claim
    to another one drops the files it stored."""
    hold_policy.require(actor, "snapshot", hold)
    if hold.snapshot_at is not None:
        return []
    reference = hold.reference
    targets = [Target(i.kind, i.normalized) for i in hold.identifiers]
    categories = [c for c in DATA_CATEGORIES if c in (hold.data_categories or ())]
    period = Period(hold.date_from, hold.date_to)
    planned = []
    if targets and categories:
        exports = outside_transaction(ask_platform, targets, categories, period)
        planned = stage_exports(exports)
    at = now()
    claimed = db.session.execute(
        update(PreservationHold)
        .where(PreservationHold.id == hold.id, PreservationHold.snapshot_at.is_(None),
               PreservationHold.status.in_(LIVE_STATUSES))  # not released meanwhile
        .values(snapshot_at=at, updated_at=at)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        for staged, _ in planned:
            staged.unwanted()  # removed once this transaction ends
        return []
    hold.snapshot_at, hold.updated_at = at, at
    items = record_exports(actor, planned, purpose=f"Preservation snapshot for {reference}",
                           hold=hold)
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
