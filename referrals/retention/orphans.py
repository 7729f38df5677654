"""Stored files that no row names: bytes kept for nobody.

A file is written before the row that names it is committed (a stream is hashed while it is
stored), so a request that fails after the write, a process that dies mid-upload, or a purge
whose transaction rolled back after its files were removed the other way round, can leave a
file behind. Kept bytes that nothing describes are the worst kind: nobody can say whose they
are or when they must go. This sweep removes them once they are old enough that no upload
can still be on its way to naming them (a day by default), and records one audit event with
how many went. It never touches a file a row names: evidence blobs and legal process
documents. A new table that names stored files must be added to ``_named``, or its files
would look like orphans (tests/retention/test_orphans.py stores one of each kind).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from referrals.audit.services import record_event
from referrals.core.clock import as_utc, now
from referrals.core.identity import Identity, system_identity
from referrals.core.storage import get_store
from referrals.evidence.models import StoredBlob
from referrals.extensions import db
from referrals.requests.models import LegalProcessDocument

MIN_AGE = timedelta(days=1)
BATCH = 500


@dataclass
class OrphanReport:
    at: datetime
    dry_run: bool
    files: int = 0
    unfinished: int = 0
    bytes: int = 0

    def summary(self) -> dict:
        return {"at": self.at.isoformat(), "dry_run": self.dry_run, "files": self.files,
                "unfinished_writes": self.unfinished, "bytes": self.bytes}


def _named(names: list[str]) -> set[str]:
    found = set(db.session.scalars(select(StoredBlob.storage_name)
                                   .where(StoredBlob.storage_name.in_(names))))
    found |= set(db.session.scalars(select(LegalProcessDocument.storage_name)
                                    .where(LegalProcessDocument.storage_name.in_(names))))
    return found


def remove_orphans(at: datetime | None = None, actor: Identity | None = None, *,
                   min_age: timedelta = MIN_AGE, dry_run: bool = False) -> OrphanReport:
    """Remove stored files older than ``min_age`` that no row names. The caller commits
    (the audit event); the files are gone whatever happens to that transaction, which is
    right for bytes nothing describes."""
    at = as_utc(at or now())
    actor = actor or system_identity("job:orphan files")
    report = OrphanReport(at=at, dry_run=dry_run)
    store = get_store()
    cutoff = (at - min_age).timestamp()
    batch: list[tuple[str, object, bool]] = []

    def settle(rows):
        named = _named([name for name, _, partial in rows if not partial])
        for name, path, partial in rows:
            if not partial and name in named:
                continue
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            report.bytes += size
            if partial:
                report.unfinished += 1
            else:
                report.files += 1
            if not dry_run:
                store.delete_partial(name) if partial else store.delete(name)

    for row in store.files_older_than(cutoff):
        batch.append(row)
        if len(batch) >= BATCH:
            settle(batch)
            batch = []
    if batch:
        settle(batch)
    if not dry_run and (report.files or report.unfinished):
        record_event(actor, "storage.orphans_removed", object_type="storage",
                     object_id="evidence", after=report.summary())
    return report
