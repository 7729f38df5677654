"""Files for a transaction: written before it writes, settled by how it ends.

A new blob is staged (hashed, encrypted, written, renamed into place) with no database
transaction open, so that no other writer waits for the bytes; the short transaction that
follows records its row, custody and audit. If it commits, the blob's pending marker is
cleared; if it rolls back, the blob is removed; if the process dies in between, the marker
is left without its lock and the orphan sweep settles the blob by whether a row names it.

A blob that a transaction stops naming (retention) is removed only after the commit: see
``claim_for_removal``.
"""

from __future__ import annotations

from typing import BinaryIO

from referrals.core.storage import PendingFile, get_store
from referrals.core.transaction import on_commit, on_rollback, outside_transaction


def stage_blob(stream: BinaryIO, *, max_bytes: int | None = None) -> PendingFile:
    """Store ``stream`` as a new blob outside the transaction; kept if the transaction
    commits, removed if it rolls back. Call it before the transaction's first write.
    Raises what ``BlobStore.write`` raises (``TooLarge``, ``StorageError``)."""
    store = get_store()
    staged = outside_transaction(store.stage, stream, max_bytes=max_bytes)
    on_commit(staged.keep)
    on_rollback(staged.remove)
    return staged


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
    claim = store.claim(name)
    if claim is None:  # claimed by another transaction too: whichever commits removes it
        on_commit(store.delete, name)
        return None
    on_commit(claim.remove)
    on_rollback(claim.keep)
    return claim
