"""Stored files that no row names: bytes kept for nobody.

A file is written before the row that names it is committed (a stream is hashed while it is
stored, and before the transaction writes: nothing slow inside the audit lock), so a request
that fails after the write, or a process that dies mid-upload or between its blob's rename
and its commit, can leave a file behind; so can a purge that died between its commit and the
overwrite that follows it. Kept bytes that nothing describes are the worst kind: nobody can
say whose they are or when they must go.

- A file the application staged or claimed has a *pending* marker locked by the process whose
  transaction decides it (``referrals.core.storage``). A marker whose lock is free is a
  leftover of a process that died (or finished between its commit and clearing the marker):
  the file goes at once if no row names it, and stays (the marker cleared) if one does.
- An unfinished write (a ``.partial`` file) whose writer no longer holds its lock goes at
  once, after a minute (the time between a writer's creating the file and locking it).

On S3 (``referrals.core.s3store``) the same rules hold with markers that name a moment instead
of locks: a pending marker is abandoned once its holder let go of it or its hour ran out, and
an unfinished write is an incomplete multipart upload, aborted once its writer's marker has run
out.
- Any other stored file that no row names goes once it is a day old: it was written without
  a marker, and an upload may still be on its way to naming it.

- Key rows (``referrals.core.blob_keys``) go with the files they open, in the sweep's
  transaction; a key row with neither a file nor a row naming its blob (its file was removed
  after a transaction that did not delete the row committed) goes once it is a day old.

``remove_leftovers`` does only the first two, cheaply: the worker runs it when it starts.
Every run that removes something records one audit event with the counts. A file a row names
(evidence blobs, legal process documents) is never touched. A new table that names stored
files must be added to ``NAMING_TABLES``, or its files would look like orphans
(tests/retention/test_orphans.py stores one of each kind).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from referrals.audit.services import record_event
from referrals.core.blob_keys import BlobKey, forget_keys
from referrals.core.clock import as_utc, now
from referrals.core.identity import Identity, system_identity
from referrals.core.storage import BlobStore, StoredObject, get_store
from referrals.core.transaction import outside_transaction
from referrals.evidence.models import StoredBlob
from referrals.extensions import db
from referrals.requests.models import LegalProcessDocument

MIN_AGE = timedelta(days=1)
PARTIAL_MIN_AGE = timedelta(minutes=1)
BATCH = 500


@dataclass
class OrphanReport:
    at: datetime
    dry_run: bool
    files: int = 0
    unfinished: int = 0
    bytes: int = 0
    # Of ``files``: left by a process that died between writing and committing (or between
    # a purge's commit and its overwrite), removed without waiting for the day.
    crash_leftovers: int = 0
    key_rows: int = 0  # data keys deleted: of files removed, or of blobs gone
    removed: list[str] = field(default_factory=list)  # names of the files removed

    def summary(self) -> dict:
        return {"at": self.at.isoformat(), "dry_run": self.dry_run, "files": self.files,
                "unfinished_writes": self.unfinished, "bytes": self.bytes,
                "crash_leftovers": self.crash_leftovers, "key_rows": self.key_rows}


# Every table whose rows name stored blobs (``storage_name``, with the plaintext's ``sha256``).
NAMING_TABLES = (StoredBlob, LegalProcessDocument)


def _named(names: list[str]) -> set[str]:
    found: set[str] = set()
    for table in NAMING_TABLES:
        found |= set(db.session.scalars(select(table.storage_name)
                                        .where(table.storage_name.in_(names))))
    return found


def _settle_pending(store: BlobStore, report: OrphanReport) -> None:
    """Pending markers nobody holds: the row decides. Asked after taking the marker's lock,
    so a transaction that was committing has committed."""
    for pending in store.abandoned():
        if pending.name in _named([pending.name]):
            pending.keep()  # committed before its process could clear the marker
            continue
        size = store.objects.stored_bytes(pending.name)
        if size:
            report.files += 1
            report.crash_leftovers += 1
            report.bytes += size
        if report.dry_run:
            pending.release()  # change nothing
        else:
            report.removed.append(pending.name)
            outside_transaction(pending.remove)


def _remove(store: BlobStore, rows: list[StoredObject], report: OrphanReport) -> None:
    named = _named([row.name for row in rows if not row.partial])
    doomed = []
    for row in rows:
        name, partial = row.name, row.partial
        if store.is_pending(name):  # its transaction is running, or _settle_pending decides
            continue
        if (partial and store.partial_in_progress(name)) or (not partial and name in named):
            continue
        report.bytes += row.size
        if partial:
            report.unfinished += 1
        else:
            report.files += 1
        doomed.append((name, partial))
    if doomed and not report.dry_run:
        report.removed.extend(name for name, partial in doomed if not partial)
        outside_transaction(_delete, store, doomed)


def _forget(report: OrphanReport) -> None:
    """Delete the key rows of the files removed, in the sweep's transaction (committed with
    its audit event; written last, so that no file is overwritten while it holds a lock): a
    copy of those bytes elsewhere can no longer be read either."""
    for start in range(0, len(report.removed), BATCH):
        names = report.removed[start:start + BATCH]
        keys = set(db.session.scalars(select(BlobKey.name).where(BlobKey.name.in_(names))))
        if keys:
            forget_keys(sorted(keys))
            report.key_rows += len(keys)


def _settle_keys(store: BlobStore, before: datetime, report: OrphanReport) -> None:
    """Key rows older than ``before`` whose blob has neither a file nor a row naming it."""
    after = ""
    while True:
        names = list(db.session.scalars(
            select(BlobKey.name).where(BlobKey.name > after, BlobKey.created_at < before)
            .order_by(BlobKey.name).limit(BATCH)))
        if not names:
            return
        after = names[-1]
        named = _named(names)
        gone = [name for name in names if name not in named and not store.exists(name)
                and not store.is_pending(name)]
        if gone and not report.dry_run:
            forget_keys(gone)
        report.key_rows += len(gone)


def _delete(store: BlobStore, doomed: list[tuple[str, bool]]) -> None:
    for name, partial in doomed:
        store.delete_partial(name) if partial else store.delete(name)


def _sweep(at: datetime, actor: Identity | None, *, min_age: timedelta, dry_run: bool,
           everything: bool) -> OrphanReport:
    actor = actor or system_identity("job:orphan files")
    report = OrphanReport(at=at, dry_run=dry_run)
    store = get_store()
    _settle_pending(store, report)
    # Unfinished writes a minute old (the time between a writer's creating its file and
    # locking it), other files a day old, and only with ``everything``.
    cutoff = (at - min_age).timestamp()
    batch: list[StoredObject] = []
    for row in store.files_older_than((at - PARTIAL_MIN_AGE).timestamp()):
        if not row.partial and (not everything or row.modified >= cutoff):
            continue
        batch.append(row)
        if len(batch) >= BATCH:
            _remove(store, batch, report)
            batch = []
    if batch:
        _remove(store, batch, report)
    if not dry_run:
        _forget(report)
    if everything:
        _settle_keys(store, at - min_age, report)
    if not dry_run and (report.files or report.unfinished or report.key_rows):
        record_event(actor, "storage.orphans_removed", object_type="storage",
                     object_id="evidence", after=report.summary())
    return report


def remove_orphans(at: datetime | None = None, actor: Identity | None = None, *,
                   min_age: timedelta = MIN_AGE, dry_run: bool = False) -> OrphanReport:
    """Remove stored files that no row names: crash leftovers at once, other files once
    older than ``min_age``. The caller commits (the audit event); the files are gone
    whatever happens to that transaction, which is right for bytes nothing describes."""
    return _sweep(as_utc(at or now()), actor, min_age=min_age, dry_run=dry_run, everything=True)


def remove_leftovers(actor: Identity | None = None, *, dry_run: bool = False) -> OrphanReport:
    """Only what a crash left: abandoned pending files and unfinished writes. Cheap (no
    listing of every stored file's row): run when the worker starts."""
    return _sweep(as_utc(now()), actor or system_identity("worker start"), min_age=MIN_AGE,
                  dry_run=dry_run, everything=False)
