"""Purging what the retention period has run out on, and never anything held.

What is due at a moment ``at``:

- a closed case whose ``closed_at`` is ``retention_days`` or more before ``at``, not purged
  yet, and not held (``referrals.holds.scope``);
- the snapshot items of a hold that ended (released, expired, converted; or still marked live
  but past its expiry) ``retention_days`` or more before ``at``, each not held by anything else;
- the items collected for a disclosure request that is over (closed, rejected, redirected to an
  MLAT, withdrawn) and untouched for ``retention_days`` (its last change counts: a message after
  it closed starts the period again), each not held. The request itself, its decisions and its
  disclosure record stay: what was disclosed, to whom and when is kept with its hashes.

What a purge keeps and removes:

- an evidence item keeps its row as the record of what was destroyed: hashes, size, MIME type,
  who captured it and when, its custody log (with a new "destroyed" event). Its stored bytes go
  (file overwritten and unlinked, blob row deleted) unless another item that is not destroyed
  has the same bytes: blobs are stored once per SHA-256. Its name, URL, description and
  platform content id go, since they can say who it is about.
- a case keeps its row as a tombstone: reference, category, priority, status, source and dates,
  with ``purged_at`` set and title and summary "(purged)". Its subjects and identifiers,
  timeline, reported content and the payloads of its escalations go; the escalation rows stay
  (source and external id) so that a re-sent escalation is still recognised as a duplicate.
- the audit chain is only appended to: an "evidence.destroyed" event per item, "case.purged"
  per case and "retention.run" per run.

Files are overwritten and unlinked after the commit (``referrals.core.staging.claim_for_removal``),
never inside the transaction: the overwrite is slow (every byte rewritten and synced) and would
hold the audit chain's lock all along, and destroying evidence is the one step that cannot be
undone, so it follows the durable record of it. Overwriting first would let a run that then
rolled back destroy bytes with no record, leaving items that say they are alive with their
files gone; a hold placed before the next run would find its evidence missing, and the record
of the destruction could no longer be written. A crash between the commit and the overwrite
leaves the claim's marker, and the next orphan sweep removes those bytes at once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, delete, func, or_, select

from referrals.audit.services import canonical_json, record_event
from referrals.cases.models import (Case, CaseEvent, Escalation, Identifier, ReportedContent,
                                    Subject)
from referrals.core.clock import now
from referrals.core.identity import Identity, system_identity
from referrals.core.staging import claim_for_removal
from referrals.evidence.models import EvidenceItem, StoredBlob
from referrals.evidence.services import record_custody
from referrals.extensions import db
from referrals.holds.models import PreservationHold
from referrals.holds.rules import ENDED_STATUSES, LIVE_STATUSES
from referrals.holds.scope import is_held, refuse_if_held
from referrals.requests.models import DisclosureRequest
from referrals.requests.rules import FINAL_STATUSES

PURPOSE = "Retention period ended"
PURGED = "(purged)"
DESTROYED = "(destroyed)"


@dataclass(frozen=True)
class PurgedCase:
    reference: str
    closed_at: datetime
    items: int


@dataclass
class PurgeReport:
    at: datetime
    retention_days: int
    dry_run: bool
    cases: list[PurgedCase] = field(default_factory=list)
    # hold reference → snapshot items destroyed
    snapshots: dict[str, int] = field(default_factory=dict)
    # request reference → collected items destroyed
    collections: dict[str, int] = field(default_factory=dict)
    item_ids: list[int] = field(default_factory=list)
    files_removed: int = 0
    # Past retention, but held: kept.
    held_cases: list[str] = field(default_factory=list)
    held_snapshot_items: int = 0
    held_collected_items: int = 0

    @property
    def nothing_to_do(self) -> bool:
        return not self.cases and not self.item_ids

    def summary(self) -> dict:
        return {"at": self.at.isoformat(), "retention_days": self.retention_days,
                "dry_run": self.dry_run, "cases": [c.reference for c in self.cases],
                "snapshots": dict(self.snapshots), "collections": dict(self.collections),
                "items_destroyed": len(self.item_ids),
                "files_removed": self.files_removed, "held_cases": list(self.held_cases),
                "held_snapshot_items": self.held_snapshot_items,
                "held_collected_items": self.held_collected_items}


def retention_period() -> timedelta:
    return timedelta(days=current_app.config["REFERRALS_SETTINGS"].retention_days)


def _hold_ended_before(cutoff: datetime):
    """SQL condition over PreservationHold: it ended at or before ``cutoff``. A hold still
    marked live whose expiry passed ended then (the sweep that marks it expired may lag)."""
    ended_at = func.coalesce(PreservationHold.ended_at, PreservationHold.expires_at,
                             PreservationHold.updated_at)
    return or_(
        and_(PreservationHold.status.in_(ENDED_STATUSES), ended_at <= cutoff),
        and_(PreservationHold.status.in_(LIVE_STATUSES), PreservationHold.expires_at.is_not(None),
             PreservationHold.expires_at <= cutoff))


def _closed_before(cutoff: datetime):
    return and_(Case.status == "closed", Case.closed_at.is_not(None), Case.closed_at <= cutoff,
                Case.purged_at.is_(None))


def _over_before(cutoff: datetime):
    """SQL condition over DisclosureRequest: over (a final status) and unchanged since ``cutoff``."""
    return and_(DisclosureRequest.status.in_(FINAL_STATUSES),
                DisclosureRequest.updated_at <= cutoff)


def _unheld(items: list[EvidenceItem], at: datetime) -> tuple[list[EvidenceItem], int]:
    """The items nothing holds, and how many were held."""
    free = [item for item in items if not is_held(item, at)]
    return free, len(items) - len(free)


def _plan(at: datetime, report: PurgeReport):
    """What is due: (cases with their items, snapshot items, collected items), each checked
    with is_held."""
    cutoff = at - timedelta(days=report.retention_days)
    cases: list[tuple[Case, list[EvidenceItem]]] = []
    for case in list(db.session.scalars(select(Case).where(_closed_before(cutoff))
                                        .order_by(Case.closed_at, Case.id))):
        # The query could ask case_held_clause in SQL; asking is_held per case keeps one
        # question answered one way, and a held case is named in the report.
        items = list(db.session.scalars(select(EvidenceItem).where(
            EvidenceItem.case_id == case.id, EvidenceItem.destroyed_at.is_(None))
            .order_by(EvidenceItem.id)))
        if is_held(case, at) or any(is_held(item, at) for item in items):
            report.held_cases.append(case.reference)
            continue
        cases.append((case, items))

    ended_holds = select(PreservationHold.id).where(_hold_ended_before(cutoff))
    snapshot_candidates = list(db.session.scalars(select(EvidenceItem).where(
        EvidenceItem.hold_id.in_(ended_holds), EvidenceItem.destroyed_at.is_(None))
        .order_by(EvidenceItem.hold_id, EvidenceItem.id)))
    snapshots, report.held_snapshot_items = _unheld(snapshot_candidates, at)

    over = select(DisclosureRequest.id).where(_over_before(cutoff))
    collected_candidates = list(db.session.scalars(select(EvidenceItem).where(
        EvidenceItem.request_id.in_(over), EvidenceItem.destroyed_at.is_(None))
        .order_by(EvidenceItem.request_id, EvidenceItem.id)))
    collected, report.held_collected_items = _unheld(collected_candidates, at)
    return cases, snapshots, collected


def _references(model, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(model.id, model.reference).where(
        model.id.in_(sorted(ids)))).all())


def _removable_blobs(items: list[EvidenceItem]) -> set[int]:
    """The blobs no item outside ``items`` still needs (blobs are shared by SHA-256)."""
    destroying = Counter(item.blob_id for item in items if item.blob_id is not None)
    if not destroying:
        return set()
    alive: dict[int, int] = {}
    ids = list(destroying)
    for start in range(0, len(ids), 500):
        alive.update((blob_id, count) for blob_id, count in db.session.execute(
            select(EvidenceItem.blob_id, func.count()).where(
                EvidenceItem.blob_id.in_(ids[start:start + 500]),
                EvidenceItem.destroyed_at.is_(None))
            .group_by(EvidenceItem.blob_id)))
    return {blob_id for blob_id, count in destroying.items() if alive.get(blob_id, 0) == count}


def destroy_evidence_item(actor: Identity, item: EvidenceItem, *, at: datetime,
                          bytes_removed: bool, owner: dict) -> None:
    """Scrub the item down to the record of what was destroyed; custody and audit. The caller
    removes the blob (see ``purge_due``): it may be shared with items that stay."""
    refuse_if_held(item, at)
    item.destroyed_at = now()
    item.blob = None
    item.blob_id = None
    item.original_name = DESTROYED
    item.url = None
    item.platform_content_id = None
    item.description = ""
    record_custody(actor, item, "destroyed", PURPOSE)
    record_event(actor, "evidence.destroyed", object_type="evidence", object_id=item.id,
                 after={**owner, "sha256": item.sha256, "size": item.size,
                        "bytes_removed": bytes_removed, "reason": PURPOSE})


def purge_case(actor: Identity, case: Case, *, at: datetime, items_destroyed: int) -> None:
    """Remove a closed case's personal content and keep its row as a tombstone. Its evidence
    items are destroyed first by the caller."""
    refuse_if_held(case, at)
    counts = {
        "identifiers": db.session.execute(
            delete(Identifier).where(Identifier.case_id == case.id)).rowcount,
        "subjects": db.session.execute(
            delete(Subject).where(Subject.case_id == case.id)).rowcount,
        "timeline_events": db.session.execute(
            delete(CaseEvent).where(CaseEvent.case_id == case.id)).rowcount,
        "reported_content": db.session.execute(
            delete(ReportedContent).where(ReportedContent.case_id == case.id)).rowcount,
    }
    escalations = list(db.session.scalars(select(Escalation).where(Escalation.case_id == case.id)))
    for escalation in escalations:
        escalation.payload = canonical_json({"purged": True})
    counts["escalations_scrubbed"] = len(escalations)
    at_now = now()
    case.title = PURGED
    case.summary = PURGED
    case.purged_at = at_now
    case.updated_at = at_now
    db.session.add(CaseEvent(case_id=case.id, occurred_at=at_now, kind="purged",
                             actor_id=None, actor_label=actor.label,
                             body=f"Purged under the retention policy: {items_destroyed} "
                                  f"evidence item(s) destroyed, subjects and timeline removed."))
    db.session.flush()
    record_event(actor, "case.purged", object_type="case", object_id=case.reference,
                 after={**counts, "evidence_destroyed": items_destroyed,
                        "closed_at": case.closed_at.isoformat(), "reason": PURPOSE})


def purge_due(at: datetime | None = None, actor: Identity | None = None, *,
              dry_run: bool = False) -> PurgeReport:
    """Purge what is due at ``at`` (default: now). ``dry_run`` reports and changes nothing.

    ``at`` may not be later than the clock: a hold live now could have ended by then."""
    current = now()
    at = at or current
    if at > current:
        raise ValueError("retention cannot run ahead of the clock")
    actor = actor or system_identity("Retention")
    report = PurgeReport(at=at, retention_days=current_app.config["REFERRALS_SETTINGS"]
                         .retention_days, dry_run=dry_run)
    cases, snapshots, collected = _plan(at, report)
    everything = [item for _, items in cases for item in items] + snapshots + collected
    removable = _removable_blobs(everything)
    report.item_ids = [item.id for item in everything]
    report.files_removed = len(removable)
    report.cases = [PurgedCase(case.reference, case.closed_at, len(items)) for case, items in cases]
    holds = _references(PreservationHold, {item.hold_id for item in snapshots})
    requests = _references(DisclosureRequest, {item.request_id for item in collected})
    for item in snapshots:
        reference = holds[item.hold_id]
        report.snapshots[reference] = report.snapshots.get(reference, 0) + 1
    for item in collected:
        reference = requests[item.request_id]
        report.collections[reference] = report.collections.get(reference, 0) + 1
    if dry_run:
        return report

    blobs = {blob.id: blob for blob in db.session.scalars(
        select(StoredBlob).where(StoredBlob.id.in_(sorted(removable))))} if removable else {}
    for case, items in cases:
        for item in items:
            destroy_evidence_item(actor, item, at=at, bytes_removed=item.blob_id in removable,
                                  owner={"case": case.reference})
        purge_case(actor, case, at=at, items_destroyed=len(items))
    for item in snapshots:
        destroy_evidence_item(actor, item, at=at, bytes_removed=item.blob_id in removable,
                              owner={"hold": holds[item.hold_id]})
    for item in collected:
        destroy_evidence_item(actor, item, at=at, bytes_removed=item.blob_id in removable,
                              owner={"request": requests[item.request_id]})
    db.session.flush()
    names = [blob.storage_name for blob in blobs.values()]
    for blob in blobs.values():
        db.session.delete(blob)
    db.session.flush()
    record_event(actor, "retention.run", object_type="retention", after=report.summary())
    for name in names:
        claim_for_removal(name)
    return report
