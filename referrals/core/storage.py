"""Encrypted blob storage: the one class that touches stored files' keys; where the bytes
live (a directory or an S3 bucket) is ``referrals.core.objectstore``'s business.

A blob is written once as a stream: read in 1 MiB chunks, hashed (MD5, SHA-1,
SHA-256) and encrypted with AES-256-GCM chunk by chunk, on two cores with reused buffers
(``referrals.core.sealing``), so memory stays flat for any size. The file name is random (never a user's file name, never the hash: a
known hash on disk would say what is stored). Each chunk's nonce and additional
data carry its index and whether it is the last, so a truncated, reordered or
spliced file fails to decrypt.

File layout: ``RFB2`` | 4 zero bytes | nonce prefix (8 bytes) | then per chunk:
length (4 bytes) | ciphertext+tag. Each blob has its own data key, kept wrapped by a master
key in the database, never in the file (``referrals.core.blob_keys``): reading needs the
blob's key row, and a purge deletes it. Files written before envelope encryption (``RFB1``:
the 4 bytes are the master key id that encrypted the chunks directly) are still read;
``storage reencrypt-legacy`` converts them.
"""

from __future__ import annotations

import secrets
import struct
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from referrals.core.blob_keys import DatabaseKeyRows, KeyRows, MasterKeys, new_data_key
from referrals.core.objectstore import (PENDING, Busy, LocalObjects, Marker, Objects,
                                        StorageError, StoredObject, check_name, read_exactly)
from referrals.core.s3store import open_objects
from referrals.core.sealing import CHUNK, HEAD_BYTES, TooLong, chunk_aad, seal_stream

MAGIC = b"RFB2"  # envelope: the data key is in the blob's key row
MAGIC_V1 = b"RFB1"  # the master key (id in the header) encrypted the chunks directly
HEADER = 16
__all__ = ["CHUNK", "HEAD_BYTES", "MAGIC", "MAGIC_V1", "PENDING", "BlobStore", "PendingFile",
           "StorageError", "StoredObject", "TooLarge", "WrittenBlob", "get_store", "parse_keys"]


class TooLarge(StorageError):
    def __init__(self, limit: int):
        super().__init__(f"larger than the limit of {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class WrittenBlob:
    name: str
    key_id: int  # the master key that wrapped the data key
    size: int
    md5: str
    sha1: str
    sha256: str
    head: bytes
    wrapped_key: bytes = b""  # the data key, wrapped: the caller's transaction records it

    @property
    def master_key_id(self) -> int:
        return self.key_id


class PendingFile:
    """A stored file waiting on a transaction, with its marker held by this process.

    ``keep()`` clears the marker (the file stays); ``remove()`` removes the file and clears
    the marker. Either ends it; calling one after the other does nothing more. If neither is
    called, the marker is let go when its holder goes (a local lock when the handle is closed
    or the process exits; an S3 marker when its time runs out) and the orphan sweep settles the
    file by whether a row names it."""

    def __init__(self, store: "BlobStore", marker: Marker, written: "WrittenBlob | None" = None):
        self.store = store
        self.name = marker.name
        self.marker = marker
        self.written = written
        self._open = True
        self._unwanted = False
        self.on_unwanted: Callable[["PendingFile"], None] | None = None  # core.staging's

    def keep(self) -> None:
        if not self._open:
            return
        if self._unwanted:
            self.remove()
            return
        self._open = False
        self.marker.clear()

    def unwanted(self) -> None:
        """Nothing will name this file (the same bytes are stored already): ``keep()`` removes
        it instead, so that the removal (an overwrite, as slow as the write) happens once
        the transaction has ended, not inside it."""
        self._unwanted = True
        if self.on_unwanted is not None:
            self.on_unwanted(self)

    @property
    def is_unwanted(self) -> bool:
        return self._unwanted

    @property
    def is_open(self) -> bool:
        """Neither kept, removed nor released yet."""
        return self._open

    def remove(self) -> None:
        if not self._open:
            return
        self._open = False
        self.store.delete(self.name)
        self.store.delete_partial(self.name)
        self.marker.clear()

    def release(self) -> None:
        """Let go of the marker and decide nothing (the orphan sweep will)."""
        if not self._open:
            return
        self._open = False
        self.marker.release()


class BlobStore:
    """Encrypted blobs in a backend (``referrals.core.objectstore``): a local directory when
    given a path, else the ``Objects`` given."""

    def __init__(self, objects: "Objects | Path | str", keys: dict[int, bytes],
                 key_rows: KeyRows | None = None):
        """``keys``: the master keys by id. ``key_rows``: where blobs' wrapped data keys are
        read from (the ``blob_keys`` table unless given: ``MemoryKeyRows`` for a store used
        without a database)."""
        if not keys:
            raise StorageError("no storage keys configured")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise StorageError(f"storage key {key_id} must be 32 bytes")
        self.objects = LocalObjects(Path(objects)) if isinstance(objects, (Path, str)) \
            else objects
        self.keys = dict(keys)
        self.master = MasterKeys(keys)
        self.current_key_id = self.master.current_id
        self.key_rows = key_rows if key_rows is not None else DatabaseKeyRows()

    @property
    def root(self) -> Path:
        """The directory of a local store (tests and the local backend only)."""
        return self.objects.root

    def _path(self, name: str) -> Path:
        """Where a local store keeps ``name``'s encrypted bytes (tests only)."""
        return self.objects.path(name)

    def stage(self, stream: BinaryIO, *, max_bytes: int | None = None) -> PendingFile:
        """Write a new blob whose row is still to be committed: ``keep()`` it after the
        commit, ``remove()`` it after a rollback. A crash before either leaves a marker the
        next orphan sweep finds (at once locally; on S3 once the marker's time has run out)."""
        name = uuid.uuid4().hex
        marker = self.objects.hold_marker(name)
        try:
            written = self.write(stream, max_bytes=max_bytes, name=name,
                                 keepalive=marker.refresh)
            marker.refresh()  # held from the end of the write, not its start
        except BaseException:
            marker.clear()
            raise
        return PendingFile(self, marker, written)

    def claim(self, name: str) -> PendingFile | None:
        """Mark a stored blob that a transaction is about to stop naming (a purge):
        ``remove()`` it after the commit, ``keep()`` it after a rollback. None if another
        transaction has claimed it already (that one settles the marker)."""
        try:
            marker = self.objects.hold_marker(name)
        except Busy:
            return None
        return PendingFile(self, marker)

    def abandoned(self) -> Iterator[PendingFile]:
        """Pending files whose transaction's process let go of them (crashed, or finished
        between its commit and clearing the marker), each held by us while the caller
        decides: ``keep()`` if a row names it, else ``remove()``. Ask the database only
        after this yields: holding the marker orders the question after the other side's
        commit."""
        for marker in self.objects.abandoned():
            yield PendingFile(self, marker)

    def is_pending(self, name: str) -> bool:
        return self.objects.is_pending(name)

    def partial_in_progress(self, name: str) -> bool:
        """Whether a live process is still writing ``name`` (an unfinished write)."""
        return self.objects.partial_in_progress(name)

    def write(self, stream: BinaryIO, *, max_bytes: int | None = None,
              name: str | None = None, keepalive=None, data_key: bytes | None = None,
              expect_sha256: str | None = None) -> WrittenBlob:
        """Write a blob under a new name (or ``name``, fresh from ``stage``) with a new data
        key (or ``data_key``: re-encrypting a legacy blob whose row is committed already).
        The returned ``wrapped_key`` must be recorded (``core.staging`` does, in the caller's
        transaction): without its row the file can never be read. Nothing marks it pending:
        a file written this way and never named waits out the orphan sweep's grace period.
        Application code stages instead. ``expect_sha256``: refuse to put the file in place
        unless the plaintext has this hash."""
        name = name or uuid.uuid4().hex
        data_key = data_key or new_data_key()
        key_id, wrapped = self.master.wrap(name, data_key)
        prefix = secrets.token_bytes(8)
        header = MAGIC + bytes(4) + prefix
        out = self.objects.writer(name, keepalive)
        try:
            out.write(header)
            out.flush()  # a write that dies from here on leaves a partial with something in it
            try:
                sealed = seal_stream(stream, out, key=data_key, header=header,
                                     prefix=prefix, max_bytes=max_bytes)
            except TooLong:
                raise TooLarge(max_bytes) from None
            if expect_sha256 is not None and sealed.sha256 != expect_sha256:
                raise StorageError(f"blob {name} does not match its recorded SHA-256")
            out.finish()
        except BaseException:
            out.abort()
            raise
        written = WrittenBlob(name, key_id, sealed.size, sealed.md5, sealed.sha1,
                              sealed.sha256, sealed.head, wrapped)
        self.key_rows.written(written)
        return written

    def read(self, name: str) -> Iterator[bytes]:
        """The plaintext, chunk by chunk; raises StorageError on any damage. The blob's key
        row is looked up now (in the caller's session), the bytes read as it is iterated."""
        return self.reader(name)()

    def reader(self, name: str) -> Callable[[], Iterator[bytes]]:
        """A function giving ``name``'s plaintext chunks, its key looked up now: for reading
        later, in another thread or after the request's session has closed."""
        check_name(name)
        data_key, problem = None, None
        row = self.key_rows.get(name)
        if row is not None:
            try:
                data_key = self.master.unwrap(name, *row)
            except StorageError as error:  # raised if the file turns out to need the row
                problem = error
        return lambda: self._chunks(name, data_key, problem)

    def _chunks(self, name: str, data_key: bytes | None,
                problem: StorageError | None) -> Iterator[bytes]:
        handle = self.objects.open(name)
        try:
            header = read_exactly(handle, HEADER)
            if len(header) != HEADER or header[:4] not in (MAGIC, MAGIC_V1):
                raise StorageError("not a stored blob")
            if header[:4] == MAGIC_V1:
                (key_id,) = struct.unpack(">I", header[4:8])
                if key_id not in self.keys:
                    raise StorageError(f"storage key {key_id} is no longer configured")
                data_key = self.keys[key_id]
            elif problem is not None:
                raise problem
            elif data_key is None:
                raise StorageError("the stored file has no key: purged, or never recorded")
            aead = AESGCM(data_key)
            prefix = header[8:16]
            index, position = 0, HEADER
            while True:
                length_bytes = read_exactly(handle, 4)
                if len(length_bytes) != 4:
                    raise StorageError("the stored file is truncated")
                (length,) = struct.unpack(">I", length_bytes)
                sealed = read_exactly(handle, length)
                position += 4 + len(sealed)
                nonce = prefix + struct.pack(">I", index)
                last = position >= handle.size
                try:
                    plain = aead.decrypt(nonce, sealed, chunk_aad(header, index, last))
                except InvalidTag as error:
                    raise StorageError("the stored file was altered or damaged") from error
                yield plain
                if last:
                    return
                index += 1
        finally:
            handle.close()

    def delete(self, name: str) -> None:
        """Remove the stored bytes (locally: overwritten, then unlinked)."""
        self.objects.delete(name)

    def exists(self, name: str) -> bool:
        return self.objects.exists(name)

    def files_older_than(self, seconds_since_epoch: float) -> Iterator[StoredObject]:
        """Every stored file last written before that moment: ``partial`` for a write that
        never finished (the process died mid-write)."""
        return self.objects.older_than(seconds_since_epoch)

    def delete_partial(self, name: str) -> None:
        """Remove what an unfinished write left (locally overwritten first, like any stored
        file; on S3 the multipart upload is aborted)."""
        self.objects.delete_partial(name)

    def legacy_key_id(self, name: str) -> int | None:
        """The master key that encrypted ``name`` directly (a file from before envelope
        encryption), or None for an envelope blob (its key is in its row)."""
        handle = self.objects.open(name, 0, 8)
        try:
            header = read_exactly(handle, 8)
        finally:
            handle.close()
        if header[:4] != MAGIC_V1:
            return None
        return struct.unpack(">I", header[4:8])[0]


def parse_keys(raw: str) -> dict[int, bytes]:
    """``1:<base64 of 32 bytes>,2:…`` → {1: key, 2: key}."""
    import base64

    keys: dict[int, bytes] = {}
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        key_id, sep, encoded = part.partition(":")
        if not sep or not key_id.isdigit():
            raise ValueError("storage keys look like 1:<base64>,2:<base64>")
        key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        if len(key) != 32:
            raise ValueError(f"storage key {key_id} must decode to 32 bytes")
        keys[int(key_id)] = key
    return keys


def get_store() -> BlobStore:
    """The application's evidence store (``REFERRALS_STORAGE``: instance/evidence or a bucket;
    keys from the settings)."""
    from flask import current_app

    store = current_app.extensions.get("referrals_store")
    if store is None:
        settings = current_app.config["REFERRALS_SETTINGS"]
        store = BlobStore(open_objects(settings), settings.storage_keys)
        current_app.extensions["referrals_store"] = store
    return store
