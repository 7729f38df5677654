"""Files for a transaction: written before it writes, settled by how it ends.

A new blob is staged (hashed, encrypted, written, renamed into place) with no database
transaction open, so that no other writer waits for the bytes; the short transaction that
follows records its row, custody and audit. If it commits, the blob's pending marker is
cleared; if it rolls back, the blob is removed; if the process dies in between, the marker
is left without its lock and the orphan sweep settles the blob by whether a row names it.

A staged blob's data key (``referrals.core.blob_keys``) is recorded in the same transaction:
its row is added with that transaction's first flush (or, at the latest, its commit: any
commit counts), unless the blob was already removed; marking it ``unwanted`` deletes the row
again. A rollback (or a crash before the commit) leaves no key row, so the staged file can
never be read, whoever finds it.

A blob that a transaction stops naming (retention) is removed only after the commit, and its
key row is deleted in the transaction itself: see ``claim_for_removal``.
"""

from __future__ import annotations

from typing import BinaryIO

from sqlalchemy import event
from sqlalchemy.orm import Session

from referrals.core.blob_keys import BlobKey, forget_keys, new_key_row
from referrals.core.storage import PendingFile, get_store
from referrals.core.transaction import on_commit, on_rollback, outside_transaction
from referrals.extensions import db

_STAGED = "referrals_staged_blobs"
_RECORDED = "referrals_staged_keys_written"


def stage_blob(stream: BinaryIO, *, max_bytes: int | None = None) -> PendingFile:
    """Store ``stream`` as a new blob outside the transaction; kept if the transaction
    commits, removed if it rolls back. Call it before the transaction's first write.
    Raises what ``BlobStore.write`` raises (``TooLarge``, ``StorageError``)."""
    store = get_store()
    staged = outside_transaction(store.stage, stream, max_bytes=max_bytes)
    staged.on_unwanted = _unwanted
    db.session.info.setdefault(_STAGED, []).append(staged)
    on_commit(staged.keep)
    on_rollback(staged.remove)
    return staged


def _wanted(session: Session) -> list[PendingFile]:
    return [pending for pending in session.info.get(_STAGED, ())
            if pending.is_open and not pending.is_unwanted]


@event.listens_for(Session, "before_flush")
def _keys_with_the_first_write(session: Session, flush_context, instances) -> None:
    """The key rows of the blobs staged for this transaction go in with its first write (the
    rows that name the blobs come in the same or a later one)."""
    recorded = session.info.setdefault(_RECORDED, set())
    for pending in _wanted(session):
        if pending.name not in recorded:
            session.add(new_key_row(pending.written))
            recorded.add(pending.name)


@event.listens_for(Session, "before_commit")
def _keys_at_the_latest_at_commit(session: Session) -> None:
    """And at the latest with its commit: every staged blob still wanted has its row, also
    one whose row a savepoint's rollback took back."""
    wanted = _wanted(session)
    session.info.pop(_STAGED, None)
    session.info.pop(_RECORDED, None)
    missing = [p for p in wanted if session.get(BlobKey, p.name) is None]
    for pending in missing:
        session.add(new_key_row(pending.written))
    if missing:
        session.flush()


@event.listens_for(Session, "after_transaction_end")
def _written_rows_end_with_the_transaction(session: Session, transaction) -> None:
    if transaction.parent is None:  # the whole transaction, not a savepoint in it
        session.info.pop(_RECORDED, None)


def _unwanted(staged: PendingFile) -> None:
    """The staged blob will be named by nothing: its key row (if written) goes with it."""
    forget_keys([staged.name])


def claim_for_removal(name: str) -> PendingFile | None:
    """A stored blob the current transaction stops naming: overwritten and unlinked once the
    transaction has committed, kept if it rolls back.

    Destroying evidence is the one step that cannot be undone, so it comes after the record
    of it (the custody and audit events, the blob row gone) is durable, and never happens
    for a run that rolled back: bytes gone while the rows still say the item is alive would
    be destruction without a record, and a hold placed before the next run would find its
    evidence missing. A crash between the commit and the overwrite leaves the claim's marker,
    and the next orphan sweep removes the bytes at once (no row names them any more)."""
    store = get_store()
    forget_keys([name])  # from this transaction's commit on, no copy of the bytes can be read
    claim = store.claim(name)
    if claim is None:  # claimed by another transaction too: whichever commits removes it
        on_commit(store.delete, name)
        return None
    on_commit(claim.remove)
    on_rollback(claim.keep)
    return claim
