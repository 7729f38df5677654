"""Master key rotation for the evidence store: re-wrap data keys, convert legacy blobs, and say
which master keys are still needed (``flask --app referrals storage …``).

- ``rewrap``: every data key wrapped by an older master key is re-wrapped by the current one
  (the highest id in ``REFERRALS_STORAGE_KEYS``). Only the 60-byte rows change, never a blob.
  In batches, each its own transaction with one audit event; a run stopped half-way is simply
  run again (it picks the rows still wrapped by older keys).
- ``reencrypt_legacy``: blobs written before envelope encryption (``RFB1``: encrypted
  directly by a master key) get a data key of their own and are re-encrypted under it, each
  verified against the SHA-256 its row recorded before it replaces the old file. Per batch:
  the new key rows and the audit event are committed first, then each file is rewritten
  (written beside the old one, renamed over it). A crash in between leaves an old file that
  still reads by its header; the next run converts it again (found by its header).
- ``key_report``: how many key rows each master key wraps and which master keys legacy files
  still need: a configured key that appears in neither can be removed from the settings.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select, update

from referrals.audit.services import record_event
from referrals.core.blob_keys import (BlobKey, MissingMasterKey, add_key_row,
                                      master_key_ids_in_use, master_keys_in_use, new_data_key)
from referrals.core.clock import now
from referrals.core.identity import Identity
from referrals.core.storage import BlobStore, StorageError, get_store
from referrals.core.transaction import commit, outside_transaction, rollback, unit_of_work
from referrals.extensions import db
from referrals.retention.orphans import NAMING_TABLES

log = logging.getLogger(__name__)
REWRAP_BATCH = 500
LEGACY_BATCH = 20
MISSING = -1  # a named blob without a stored file (master key ids are never negative)

Progress = Callable[[str], None]


class KeyRotationError(Exception):
    """Plain-language refusal of a rotation command (a key that is not configured …)."""


@dataclass
class KeyReport:
    configured: list[int]
    current: int
    wrapped: dict[int, int]  # master key id -> key rows it wraps
    legacy: dict[int, int]  # master key id -> legacy files it encrypted directly
    missing_files: int = 0

    @property
    def needed(self) -> set[int]:
        return set(self.wrapped) | set(self.legacy)

    @property
    def not_configured(self) -> list[int]:
        """Key ids rows or files need that the settings lack: those blobs cannot be read."""
        return sorted(self.needed - set(self.configured))

    @property
    def removable(self) -> list[int]:
        """Configured keys nothing needs any more (never the current one: it wraps new keys)."""
        return sorted(set(self.configured) - self.needed - {self.current})


def _named_blobs(store: BlobStore, batch: int = 1000) -> Iterator[tuple[str, str, int | None]]:
    """(storage name, SHA-256, legacy key) of every blob a row names, in name order per table:
    the legacy key is the master key id of a file from before envelope encryption (its header
    says it: the file's first 8 bytes are read), None for an envelope blob, MISSING without a
    file."""
    for table in NAMING_TABLES:
        after = ""
        while True:
            rows = db.session.execute(
                select(table.storage_name, table.sha256).where(table.storage_name > after)
                .order_by(table.storage_name).limit(batch)).all()
            if not rows:
                break
            after = rows[-1][0]
            for name, sha256 in rows:
                try:
                    yield name, sha256, store.legacy_key_id(name)
                except StorageError:  # no stored file
                    yield name, sha256, MISSING


def key_report(store: BlobStore) -> KeyReport:
    legacy: Counter[int] = Counter()
    missing = 0
    for _, _, key_id in _named_blobs(store):
        if key_id == MISSING:
            missing += 1
        elif key_id is not None:
            legacy[key_id] += 1
    return KeyReport(configured=sorted(store.keys), current=store.current_key_id,
                     wrapped=master_keys_in_use(), legacy=dict(legacy), missing_files=missing)


def missing_master_keys(store: BlobStore) -> list[int]:
    """Master key ids that key rows need and the settings lack (cheap: one indexed query)."""
    return sorted(master_key_ids_in_use() - set(store.keys))


def check_master_keys_at_start(app) -> list[int]:
    """Say in the log, as a process starts, which master keys rows need and the settings lack
    (readiness says it to the load balancer). The process starts all the same: jobs that
    touch no blob can run."""
    try:
        with app.app_context(), unit_of_work():
            missing = missing_master_keys(get_store())
    except Exception:  # noqa: BLE001 (a database not migrated yet: nothing to say)
        log.exception("checking the storage master keys at start failed")
        return []
    if missing:
        log.error("storage master key(s) %s wrap stored data keys but are not in "
                  "REFERRALS_STORAGE_KEYS: those blobs cannot be read until they are put back",
                  ", ".join(map(str, missing)))
    return missing


@dataclass
class RewrapResult:
    rewrapped: int = 0
    batches: int = 0
    by_key: Counter = field(default_factory=Counter)


def rewrap(actor: Identity, store: BlobStore, *, from_key: int | None = None,
           batch: int = REWRAP_BATCH, progress: Progress = lambda line: None) -> RewrapResult:
    """Re-wrap, under the current master key, every data key an older one (or ``from_key``)
    wraps. Commits each batch with its audit event."""
    current = store.current_key_id
    if from_key is not None and from_key == current:
        raise KeyRotationError(f"master key {from_key} is the current key: nothing to re-wrap "
                               "from it (add a key with a higher id first)")
    missing = [key_id for key_id in missing_master_keys(store)
               if from_key is None or key_id == from_key]
    if missing:
        raise KeyRotationError(str(MissingMasterKey(missing[0])))
    result = RewrapResult()
    while True:
        query = select(BlobKey.name, BlobKey.master_key_id, BlobKey.wrapped_key).where(
            BlobKey.master_key_id != current).order_by(BlobKey.name).limit(batch)
        if from_key is not None:
            query = query.where(BlobKey.master_key_id == from_key)
        rows = db.session.execute(query).all()
        if not rows:
            break
        done: Counter[int] = Counter()
        try:
            for name, key_id, wrapped in rows:
                wrapped = bytes(wrapped)
                data_key = store.master.unwrap(name, key_id, wrapped)
                _, rewrapped = store.master.wrap(name, data_key)
                # Only if unchanged meanwhile (a purge may have deleted it: then nothing).
                changed = db.session.execute(
                    update(BlobKey).where(BlobKey.name == name, BlobKey.master_key_id == key_id,
                                          BlobKey.wrapped_key == wrapped)
                    .values(master_key_id=current, wrapped_key=rewrapped, rewrapped_at=now())
                    .execution_options(synchronize_session=False)).rowcount
                if changed:
                    done[key_id] += 1
            record_event(actor, "storage.keys_rewrapped", object_type="storage",
                         object_id="blob_keys",
                         after={"rewrapped": sum(done.values()), "to_master_key": current,
                                "from_master_keys": {str(k): v for k, v in sorted(done.items())}})
            commit()
        except StorageError as error:
            rollback()
            raise KeyRotationError(str(error)) from error
        except BaseException:
            rollback()
            raise
        result.batches += 1
        result.rewrapped += sum(done.values())
        result.by_key.update(done)
        progress(f"batch {result.batches}: {sum(done.values())} key(s) re-wrapped "
                 f"({result.rewrapped} so far)")
        if not done:  # every row changed under us: ask again only if progress was made
            break
    return result


@dataclass
class LegacyResult:
    converted: int = 0
    busy: int = 0  # claimed by a purge or another run right now: left for the next run
    failed: list[str] = field(default_factory=list)
    missing: int = 0


class _ChunkStream(io.RawIOBase):
    """A readable stream over an iterator of byte chunks (the old file's plaintext)."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks, self._rest = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._rest:
            try:
                self._rest = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._rest))
        buffer[:size] = self._rest[:size]
        self._rest = self._rest[size:]
        return size


def _legacy_batches(store: BlobStore, batch: int, result: LegacyResult
                    ) -> Iterator[list[tuple[str, str]]]:
    todo = []
    for name, sha256, key_id in _named_blobs(store):
        if key_id == MISSING:
            result.missing += 1
        elif key_id is not None:
            todo.append((name, sha256))
            if len(todo) >= batch:
                yield todo
                todo = []
    if todo:
        yield todo


def reencrypt_legacy(actor: Identity, store: BlobStore, *, batch: int = LEGACY_BATCH,
                     progress: Progress = lambda line: None) -> LegacyResult:
    """Give every legacy blob a data key of its own (see the module's docstring)."""
    result = LegacyResult()
    for names in _legacy_batches(store, batch, result):
        claims = []
        for name, sha256 in names:
            claim = store.claim(name)
            if claim is None:
                result.busy += 1
            else:
                claims.append((claim, sha256, new_data_key()))
        try:
            planned = []
            for claim, sha256, data_key in claims:
                key_id, wrapped = store.master.wrap(claim.name, data_key)
                add_key_row(claim.name, key_id, wrapped)
                planned.append((claim, sha256, data_key))
            record_event(actor, "storage.legacy_reencrypted", object_type="storage",
                         object_id="blob_keys",
                         after={"blobs": len(planned), "master_key": store.current_key_id})
            commit()
        except BaseException:
            rollback()
            for claim, _, _ in claims:
                claim.keep()
            raise
        for claim, sha256, data_key in planned:
            try:
                # Decrypted by its header's master key, written beside it, renamed over it.
                plaintext = _ChunkStream(store.read(claim.name))
                outside_transaction(store.write, plaintext, name=claim.name,
                                    data_key=data_key, expect_sha256=sha256)
                result.converted += 1
            except StorageError as error:
                result.failed.append(f"{claim.name}: {error}")
            finally:
                claim.keep()
        progress(f"{result.converted} legacy blob(s) re-encrypted under their own data keys"
                 + (f", {len(result.failed)} failed" if result.failed else ""))
    return result
