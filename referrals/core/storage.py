"""Encrypted blob storage: the one class that touches stored files and their keys.

A blob is written once as a stream: read in 1 MiB chunks, hashed (MD5, SHA-1,
SHA-256) and encrypted with AES-256-GCM chunk by chunk, on two cores with reused buffers
(``referrals.core.sealing``), so memory stays flat for any size. The file name is random (never a user's file name, never the hash: a
known hash on disk would say what is stored). Each chunk's nonce and additional
data carry its index and whether it is the last, so a truncated, reordered or
spliced file fails to decrypt.

File layout: ``RFB1`` | key id (4 bytes) | nonce prefix (8 bytes) | then per chunk:
length (4 bytes) | ciphertext+tag. Keys rotate: new writes use the highest key id;
every key still configured decrypts what it wrote.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from referrals.core.sealing import CHUNK, HEAD_BYTES, TooLong, chunk_aad, seal_stream

MAGIC = b"RFB1"
PENDING = "pending"


class StorageError(Exception):
    """A stored file is missing, damaged, or its key is gone."""


class TooLarge(StorageError):
    def __init__(self, limit: int):
        super().__init__(f"larger than the limit of {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class WrittenBlob:
    name: str
    key_id: int
    size: int
    md5: str
    sha1: str
    sha256: str
    head: bytes


class PendingFile:
    """A stored file waiting on a transaction, with its marker held locked by this process.

    ``keep()`` clears the marker (the file stays); ``remove()`` overwrites and unlinks the file
    and clears the marker. Either ends it; calling one after the other does nothing more. If
    neither is called, the lock goes when the handle is closed (garbage collected, the process
    exits) and the orphan sweep settles the file by whether a row names it."""

    def __init__(self, store: "BlobStore", name: str, marker: Path, handle,
                 written: "WrittenBlob | None" = None):
        self.store = store
        self.name = name
        self.marker = marker
        self.written = written
        self._handle = handle
        self._unwanted = False

    def keep(self) -> None:
        if self._handle is None:
            return
        if self._unwanted:
            self.remove()
            return
        self.marker.unlink(missing_ok=True)
        self.release()

    def unwanted(self) -> None:
        """Nothing will name this file (the same bytes are stored already): ``keep()`` removes
        it instead, so that the removal (an overwrite, as slow as the write) happens once
        the transaction has ended, not inside it."""
        self._unwanted = True

    def remove(self) -> None:
        if self._handle is None:
            return
        self.store.delete(self.name)
        self.store.delete_partial(self.name)
        self.marker.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        """Let go of the lock and decide nothing (the orphan sweep will)."""
        if self._handle is None:
            return
        handle, self._handle = self._handle, None
        handle.close()  # closing drops the flock


class BlobStore:
    def __init__(self, root: Path, keys: dict[int, bytes]):
        if not keys:
            raise StorageError("no storage keys configured")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise StorageError(f"storage key {key_id} must be 32 bytes")
        self.root = Path(root)
        self.keys = dict(keys)
        self.current_key_id = max(keys)

    # Names are ours (uuid hex); the path is confined to root whatever is passed in.
    def _path(self, name: str) -> Path:
        if len(name) != 32 or not all(c in "0123456789abcdef" for c in name):
            raise StorageError("not a storage name")
        return self.root / name[:2] / f"{name}.blob"

    def file_of(self, name: str) -> Path:
        """Where the encrypted bytes of ``name`` are kept (backups copy them as they are)."""
        return self._path(name)

    def _marker(self, name: str) -> Path:
        self._path(name)  # the same check of the name
        return self.root / PENDING / name

    def _hold_marker(self, name: str):
        """Create ``name``'s marker and lock it; ``BlockingIOError`` if another holds it
        (never waited for: the holder may be this very process)."""
        marker = self._marker(name)
        marker.parent.mkdir(parents=True, exist_ok=True)
        handle = open(marker, "a+b")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise
        # The marker must be on disk before the file it speaks for.
        os.fsync(handle.fileno())
        directory = os.open(marker.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return marker, handle

    def stage(self, stream: BinaryIO, *, max_bytes: int | None = None) -> PendingFile:
        """Write a new blob whose row is still to be committed: ``keep()`` it after the
        commit, ``remove()`` it after a rollback. A crash before either leaves a marker the
        next orphan sweep finds at once."""
        name = uuid.uuid4().hex
        marker, handle = self._hold_marker(name)
        try:
            written = self.write(stream, max_bytes=max_bytes, name=name)
        except BaseException:
            marker.unlink(missing_ok=True)
            handle.close()
            raise
        return PendingFile(self, name, marker, handle, written)

    def claim(self, name: str) -> PendingFile | None:
        """Mark a stored blob that a transaction is about to stop naming (a purge):
        ``remove()`` it after the commit, ``keep()`` it after a rollback. None if another
        transaction has claimed it already (that one settles the marker)."""
        try:
            marker, handle = self._hold_marker(name)
        except BlockingIOError:
            return None
        return PendingFile(self, name, marker, handle)

    def abandoned(self) -> Iterator[PendingFile]:
        """Pending files whose transaction's process let go of them (crashed, or finished
        between its commit and clearing the marker), each locked by us while the caller
        decides: ``keep()`` if a row names it, else ``remove()``. Ask the database only
        after this yields: the lock orders the question after the other side's commit."""
        folder = self.root / PENDING
        if not folder.is_dir():
            return
        for marker in sorted(folder.iterdir()):
            name = marker.name
            if len(name) != 32 or not all(c in "0123456789abcdef" for c in name):
                continue
            try:
                handle = open(marker, "r+b")
            except FileNotFoundError:  # settled meanwhile
                continue
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its transaction is still running
                handle.close()
                continue
            if not marker.exists():  # settled between our open and our lock
                handle.close()
                continue
            yield PendingFile(self, name, marker, handle)

    def is_pending(self, name: str) -> bool:
        return self._marker(name).exists()

    def partial_in_progress(self, name: str) -> bool:
        """Whether a live process is still writing ``name``'s ``.partial`` file."""
        try:
            handle = open(self._path(name).with_suffix(".partial"), "rb")
        except FileNotFoundError:
            return False
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False

    def write(self, stream: BinaryIO, *, max_bytes: int | None = None,
              name: str | None = None) -> WrittenBlob:
        """Write a blob under a new name (or ``name``, fresh from ``stage``). Nothing marks
        it pending: a file written this way and never named waits out the orphan sweep's
        grace period. Application code stages instead."""
        name = name or uuid.uuid4().hex
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(".partial")
        key_id = self.current_key_id
        prefix = secrets.token_bytes(8)
        header = MAGIC + struct.pack(">I", key_id) + prefix
        try:
            with open(temp, "wb") as out:
                fcntl.flock(out, fcntl.LOCK_EX)  # a live writer: see partial_in_progress
                out.write(header)
                out.flush()  # a write that dies from here on leaves a partial with something in it
                try:
                    sealed = seal_stream(stream, out, key=self.keys[key_id], header=header,
                                         prefix=prefix, max_bytes=max_bytes)
                except TooLong:
                    raise TooLarge(max_bytes) from None
                out.flush()
                os.fsync(out.fileno())
                temp.rename(path)  # while the lock is held: a sweep never sees it unlocked
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return WrittenBlob(name, key_id, sealed.size, sealed.md5, sealed.sha1, sealed.sha256,
                           sealed.head)

    def read(self, name: str) -> Iterator[bytes]:
        """The plaintext, chunk by chunk; raises StorageError on any damage."""
        path = self._path(name)
        try:
            handle = open(path, "rb")
        except FileNotFoundError as error:
            raise StorageError("the stored file is missing") from error
        with handle:
            header = handle.read(16)
            if len(header) != 16 or header[:4] != MAGIC:
                raise StorageError("not a stored blob")
            (key_id,) = struct.unpack(">I", header[4:8])
            if key_id not in self.keys:
                raise StorageError(f"storage key {key_id} is no longer configured")
            aead = AESGCM(self.keys[key_id])
            prefix = header[8:16]
            index = 0
            while True:
                length_bytes = handle.read(4)
                if len(length_bytes) != 4:
                    raise StorageError("the stored file is truncated")
                (length,) = struct.unpack(">I", length_bytes)
                sealed = handle.read(length)
                nonce = prefix + struct.pack(">I", index)
                last = handle.peek(1)[:1] == b"" if hasattr(handle, "peek") else False
                try:
                    plain = aead.decrypt(nonce, sealed, chunk_aad(header, index, last))
                except InvalidTag as error:
                    raise StorageError("the stored file was altered or damaged") from error
                yield plain
                if last:
                    return
                index += 1

    def delete(self, name: str) -> None:
        """Remove the stored bytes: overwrite, then unlink."""
        path = self._path(name)
        if not path.exists():
            return
        size = path.stat().st_size
        with open(path, "r+b") as handle:
            remaining = size
            while remaining:
                step = min(CHUNK, remaining)
                handle.write(secrets.token_bytes(step))
                remaining -= step
            handle.flush()
            os.fsync(handle.fileno())
        path.unlink()

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def files_older_than(self, seconds_since_epoch: float) -> Iterator[tuple[str, Path, bool]]:
        """Every stored file last written before that moment, as (name, path, partial):
        ``partial`` for a write that never finished (the process died mid-write)."""
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or len(folder.name) != 2:
                continue
            for path in sorted(folder.iterdir()):
                name, suffix = path.stem, path.suffix
                if suffix not in (".blob", ".partial") or len(name) != 32 \
                        or not name.startswith(folder.name):
                    continue
                try:
                    if path.stat().st_mtime >= seconds_since_epoch:
                        continue
                except FileNotFoundError:  # removed meanwhile
                    continue
                yield name, path, suffix == ".partial"

    def delete_partial(self, name: str) -> None:
        """Remove what an unfinished write left (overwritten first, like any stored file)."""
        path = self._path(name).with_suffix(".partial")
        if path.exists():
            size = path.stat().st_size
            with open(path, "r+b") as handle:
                handle.write(secrets.token_bytes(size))
                handle.flush()
                os.fsync(handle.fileno())
            path.unlink()

    def key_id_of(self, name: str) -> int:
        with open(self._path(name), "rb") as handle:
            return struct.unpack(">I", handle.read(8)[4:8])[0]


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
    """The application's evidence store (instance/evidence, keys from the settings)."""
    from flask import current_app

    store = current_app.extensions.get("referrals_store")
    if store is None:
        settings = current_app.config["REFERRALS_SETTINGS"]
        store = BlobStore(settings.instance_path / "evidence", settings.storage_keys)
        current_app.extensions["referrals_store"] = store
    return store
