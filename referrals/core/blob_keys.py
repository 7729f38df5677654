"""Envelope encryption of stored blobs: one data key per blob, wrapped by a master key.

Each blob is encrypted with its own random 256-bit data key (``new_data_key``). The data key
is kept only *wrapped*: encrypted with the current master key (the highest id in
``REFERRALS_STORAGE_KEYS``), in a row of ``blob_keys`` in the DATABASE, never in the blob's
file or object. A blob file alone (a snapshot, an SSD's remapped block, a copied object) is
unreadable without its row; purging a blob deletes its row in the purge's own transaction, so
every copy of its bytes anywhere becomes unreadable the moment the purge commits.

Wrapping is AES-256-GCM (``cryptography``'s AESGCM) with a random 96-bit nonce and, as
associated data, the blob's name and the master key id. Chosen over RFC 3394 key wrap because
the associated data binds a wrapped key to its blob and its master key: a row copied to
another blob's name, or relabelled with another key id, fails to unwrap instead of handing
out a key. A master key wraps far fewer than the 2^32 keys a random GCM nonce allows.
Stored: nonce (12) | wrapped key (32) | tag (16) = 60 bytes.

Master keys rotate: add a key with a higher id, restart, then ``flask --app referrals storage
rewrap`` re-wraps every data key under it (only 60 bytes a blob, no blob is re-encrypted);
``storage keys`` says which master key ids rows still need.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Integer, LargeBinary, String, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from referrals.core.clock import now
from referrals.core.objectstore import StorageError
from referrals.core.types import UTCDateTime
from referrals.extensions import db

DATA_KEY_BYTES = 32
NONCE_BYTES = 12
WRAPPED_BYTES = NONCE_BYTES + DATA_KEY_BYTES + 16
_CONTEXT = b"referrals blob key v1\x00"


class MissingMasterKey(StorageError):
    def __init__(self, key_id: int):
        super().__init__(f"storage master key {key_id} is not configured: put it back into "
                         "REFERRALS_STORAGE_KEYS (blobs still need it)")
        self.key_id = key_id


class BadWrappedKey(StorageError):
    """The row does not unwrap with its master key: altered, or moved to another blob."""


class BlobKey(db.Model):
    """A blob's data key, wrapped by master key ``master_key_id``. No row, no bytes."""

    __tablename__ = "blob_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)  # the storage name
    master_key_id: Mapped[int] = mapped_column(Integer, index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary(WRAPPED_BYTES))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rewrapped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def _aad(name: str, key_id: int) -> bytes:
    return _CONTEXT + name.encode("ascii") + b"\x00" + key_id.to_bytes(4, "big")


class MasterKeys:
    """The configured master keys: the highest id wraps, every one still configured unwraps."""

    def __init__(self, keys: dict[int, bytes]):
        self.keys = dict(keys)
        self.current_id = max(keys)

    def wrap(self, name: str, data_key: bytes, key_id: int | None = None) -> tuple[int, bytes]:
        key_id = self.current_id if key_id is None else key_id
        nonce = secrets.token_bytes(NONCE_BYTES)
        return key_id, nonce + AESGCM(self._key(key_id)).encrypt(nonce, data_key,
                                                                 _aad(name, key_id))

    def unwrap(self, name: str, key_id: int, wrapped: bytes) -> bytes:
        aead = AESGCM(self._key(key_id))
        try:
            data_key = aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:],
                                    _aad(name, key_id))
        except InvalidTag as error:
            raise BadWrappedKey(f"the data key of blob {name} does not unwrap with master key "
                                f"{key_id}: altered or not this blob's") from error
        if len(data_key) != DATA_KEY_BYTES:
            raise BadWrappedKey(f"the data key of blob {name} has the wrong length")
        return data_key

    def _key(self, key_id: int) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise MissingMasterKey(key_id) from None


def new_data_key() -> bytes:
    return secrets.token_bytes(DATA_KEY_BYTES)


class KeyRows(Protocol):
    """Where wrapped data keys are kept: ``get(name)`` gives (master key id, wrapped key);
    ``written(blob)`` hears of each blob the store wrote."""

    def get(self, name: str) -> tuple[int, bytes] | None: ...

    def written(self, blob) -> None: ...


class DatabaseKeyRows:
    """The ``blob_keys`` table, through the application's session (the default)."""

    def get(self, name: str) -> tuple[int, bytes] | None:
        row = db.session.execute(select(BlobKey.master_key_id, BlobKey.wrapped_key)
                                 .where(BlobKey.name == name)).first()
        return None if row is None else (row[0], bytes(row[1]))

    def written(self, blob) -> None:
        """Nothing here: the row goes into the transaction that names the blob
        (``core.staging``), so that a rollback leaves no key for bytes nobody names."""


class MemoryKeyRows(dict):
    """Rows in memory, for a store used without a database (benchmarks' children)."""

    def get(self, name: str) -> tuple[int, bytes] | None:  # noqa: D102 (dict.get's meaning)
        return super().get(name)

    def written(self, blob) -> None:
        self[blob.name] = (blob.master_key_id, blob.wrapped_key)


def new_key_row(written) -> BlobKey:
    """The key row of a blob just written (``WrittenBlob``), to add to a transaction."""
    return BlobKey(name=written.name, master_key_id=written.master_key_id,
                   wrapped_key=written.wrapped_key, created_at=now())


def add_key_row(name: str, master_key_id: int, wrapped_key: bytes) -> BlobKey:
    """Record a blob's wrapped key in the current transaction (replacing an older row)."""
    row = db.session.get(BlobKey, name)
    if row is None:
        row = BlobKey(name=name, created_at=now())
        db.session.add(row)
    else:
        row.rewrapped_at = now()
    row.master_key_id, row.wrapped_key = master_key_id, wrapped_key
    return row


def forget_keys(names: list[str]) -> int:
    """Delete these blobs' key rows in the current transaction: from its commit on, no copy of
    their bytes can be decrypted. Returns how many rows went."""
    if not names:
        return 0
    for row in list(db.session.new):  # added in this transaction and not flushed yet
        if isinstance(row, BlobKey) and row.name in names:
            db.session.expunge(row)
    result = db.session.execute(delete(BlobKey).where(BlobKey.name.in_(names))
                                .execution_options(synchronize_session=False))
    return result.rowcount or 0


def master_keys_in_use() -> dict[int, int]:
    """How many key rows each master key id wraps."""
    return {key_id: count for key_id, count in db.session.execute(
        select(BlobKey.master_key_id, func.count()).group_by(BlobKey.master_key_id))}


def master_key_ids_in_use() -> set[int]:
    """The distinct master key ids of all key rows: one indexed step per id (a skip scan), so
    cheap enough for every readiness probe whatever the number of rows."""
    found: set[int] = set()
    after = -1
    while (key_id := db.session.scalar(
            select(BlobKey.master_key_id).where(BlobKey.master_key_id > after)
            .order_by(BlobKey.master_key_id).limit(1))) is not None:
        found.add(key_id)
        after = key_id
    return found
