"""Where stored bytes live: a local directory (the default) or an S3-compatible bucket.

``referrals.core.storage`` encrypts and decrypts; the backends here only keep bytes under
names, and know nothing of what the bytes mean. Both stream in and out with bounded memory
and never make a temporary copy of a whole object. A name is ours (32 hex digits, from
``uuid4``); nothing a person typed ever becomes a path or a key.

What each backend keeps for a name, and what a crash leaves:

============================  ================================  =================================
                              local directory                   S3-compatible bucket
============================  ================================  =================================
a finished object             ``<xx>/<name>.blob``              ``<prefix>blobs/<name>``
a write under way             ``<xx>/<name>.partial``, flocked   a multipart upload of that key,
                                                                and ``<prefix>writing/<name>``
                                                                naming when its writer last lived
a write whose process died    the ``.partial``, lock free        the multipart upload, its
                                                                ``writing`` marker stale
a pending marker              ``pending/<name>``, flocked        ``<prefix>pending/<name>``
                                                                naming until when it is held
============================  ================================  =================================

On S3 no lock outlives its holder's machine, so a marker names a moment ("held until"), and
its holder moves that moment on while it works (every ``REFRESH`` seconds of a write); one whose
moment has passed, or that its holder let go of, is abandoned. A finished object appears at
once and whole (``PutObject``, or ``CompleteMultipartUpload``): a reader never sees half of
one. Nothing here is specific to one S3 server: the same calls run against AWS S3, MinIO or
Ceph (path-style addressing only when configured); that backend is ``referrals.core.s3store``.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from referrals.core.drop_behind import DropBehind

PENDING = "pending"
CHUNK = 1024 * 1024
PART = 8 * 1024 * 1024  # S3 parts are at least 5 MiB (all but the last); 8 MiB is the usual
WRITE_LEASE = 10 * 60  # a live S3 writer refreshes its marker well within this
REFRESH = 60
PENDING_LEASE = 60 * 60  # from the end of a staged write to its transaction's end


class StorageError(Exception):
    """A stored file is missing, damaged, unreachable, or its key is gone."""


class Busy(Exception):
    """Another holder has this marker."""


def check_name(name: str) -> str:
    if len(name) != 32 or not all(c in "0123456789abcdef" for c in name):
        raise StorageError("not a storage name")
    return name


@dataclass(frozen=True)
class StoredObject:
    name: str
    size: int
    modified: float  # seconds since the epoch
    partial: bool  # a write that has not finished (or whose process died)


class Marker(Protocol):
    name: str

    def refresh(self) -> None: ...
    def clear(self) -> None: ...
    def release(self) -> None: ...


class Writer(Protocol):
    def write(self, data) -> int: ...
    def flush(self) -> None: ...
    def finish(self) -> None: ...
    def abort(self) -> None: ...


class Reader(Protocol):
    size: int  # of the whole object

    def read(self, amount: int) -> bytes: ...
    def close(self) -> None: ...


class Objects(Protocol):
    def writer(self, name: str, keepalive: Callable[[], None] | None = None) -> Writer: ...
    def open(self, name: str, start: int = 0, length: int | None = None) -> Reader: ...
    def exists(self, name: str) -> bool: ...
    def stored_bytes(self, name: str) -> int: ...
    def delete(self, name: str) -> None: ...
    def delete_partial(self, name: str) -> None: ...
    def partial_in_progress(self, name: str) -> bool: ...
    def older_than(self, seconds_since_epoch: float) -> Iterator[StoredObject]: ...
    def names(self) -> Iterator[str]: ...
    def hold_marker(self, name: str) -> Marker: ...
    def abandoned(self) -> Iterator[Marker]: ...
    def is_pending(self, name: str) -> bool: ...
    def check(self) -> None: ...
    def describe(self) -> str: ...


def fsync_directory(directory: Path) -> None:
    """Make a directory's new or renamed entries durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- the local directory ------------------------------------------------------------------


class _LocalMarker:
    def __init__(self, name: str, path: Path, handle):
        self.name, self.path, self._handle = name, path, handle

    def refresh(self) -> None:
        """The flock holds for as long as the handle: nothing to move on."""

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            handle.close()  # closing drops the flock


class _LocalWriter:
    """Written once, start to end, kept out of the page cache as it goes (``core.drop_behind``);
    durable when ``finish`` returns: the file's bytes and its name (the rename, and a folder
    made for it)."""

    def __init__(self, path: Path):
        self.path = path
        self.temp = path.with_suffix(".partial")
        self.new_folder = not path.parent.is_dir()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.temp, "wb")
        fcntl.flock(self.handle, fcntl.LOCK_EX)  # a live writer: see partial_in_progress
        self.behind = DropBehind(self.handle.fileno(), self.handle.flush)

    def write(self, data) -> int:
        written = self.handle.write(data)
        self.behind.wrote(written)
        return written

    def flush(self) -> None:
        self.handle.flush()

    def finish(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.behind.finished()
        self.temp.rename(self.path)  # while the lock is held: a sweep never sees it unlocked
        # The rename is durable only once its folder is (and a new folder once the root is):
        # the transaction that commits next names this file, and must never name a lost one.
        fsync_directory(self.path.parent)
        if self.new_folder:
            fsync_directory(self.path.parent.parent)
        self.handle.close()

    def abort(self) -> None:
        self.temp.unlink(missing_ok=True)
        self.handle.close()


class _LocalReader:
    def __init__(self, path: Path, start: int, length: int | None):
        try:
            self.handle = open(path, "rb")
        except FileNotFoundError as error:
            raise StorageError("the stored file is missing") from error
        self.size = os.fstat(self.handle.fileno()).st_size
        self.handle.seek(start)
        self.left = length

    def read(self, amount: int) -> bytes:
        if self.left is not None:
            amount = min(amount, self.left)
            self.left -= amount
        return self.handle.read(amount)

    def close(self) -> None:
        self.handle.close()


def _overwrite(path: Path) -> None:
    """Random bytes over the whole file, synced, before it is unlinked."""
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        behind = DropBehind(handle.fileno(), handle.flush)
        remaining = size
        while remaining:
            step = min(CHUNK, remaining)
            behind.wrote(handle.write(secrets.token_bytes(step)))
            remaining -= step
        handle.flush()
        os.fsync(handle.fileno())
        behind.finished()
    path.unlink()


class LocalObjects:
    """A directory on this machine (or a mount every server shares)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / check_name(name)[:2] / f"{name}.blob"

    def _marker(self, name: str) -> Path:
        return self.root / PENDING / check_name(name)

    def describe(self) -> str:
        return str(self.root)

    def writer(self, name: str, keepalive: Callable[[], None] | None = None) -> _LocalWriter:
        return _LocalWriter(self.path(name))

    def open(self, name: str, start: int = 0, length: int | None = None) -> _LocalReader:
        return _LocalReader(self.path(name), start, length)

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def stored_bytes(self, name: str) -> int:
        """What ``name`` takes, finished or not (0 if nothing)."""
        total = 0
        for path in (self.path(name), self.path(name).with_suffix(".partial")):
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                pass
        return total

    def delete(self, name: str) -> None:
        """Overwrite, then unlink."""
        path = self.path(name)
        if path.exists():
            _overwrite(path)

    def delete_partial(self, name: str) -> None:
        path = self.path(name).with_suffix(".partial")
        if path.exists():
            _overwrite(path)

    def partial_in_progress(self, name: str) -> bool:
        try:
            handle = open(self.path(name).with_suffix(".partial"), "rb")
        except FileNotFoundError:
            return False
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False

    def older_than(self, seconds_since_epoch: float) -> Iterator[StoredObject]:
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
                    stat = path.stat()
                except FileNotFoundError:  # removed meanwhile
                    continue
                if stat.st_mtime < seconds_since_epoch:
                    yield StoredObject(name, stat.st_size, stat.st_mtime, suffix == ".partial")

    def names(self) -> Iterator[str]:
        for found in self.older_than(float("inf")):
            if not found.partial:
                yield found.name

    def hold_marker(self, name: str) -> _LocalMarker:
        """Create ``name``'s marker and lock it; ``Busy`` if another holds it (never waited
        for: the holder may be this very process)."""
        marker = self._marker(name)
        marker.parent.mkdir(parents=True, exist_ok=True)
        handle = open(marker, "a+b")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise Busy(name) from None
        # The marker must be on disk before the file it speaks for.
        os.fsync(handle.fileno())
        fsync_directory(marker.parent)
        return _LocalMarker(name, marker, handle)

    def abandoned(self) -> Iterator[_LocalMarker]:
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
            yield _LocalMarker(name, marker, handle)

    def is_pending(self, name: str) -> bool:
        return self._marker(name).exists()

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise OSError(f"{self.root} is not writable")


def copy_stream(reader: Reader, writer: Writer, chunk: int = 4 * CHUNK) -> int:
    """Bytes from ``reader`` to ``writer`` (not finished: the caller finishes or aborts)."""
    copied = 0
    while data := reader.read(chunk):
        writer.write(data)
        copied += len(data)
    return copied


def read_exactly(reader: Reader | BinaryIO, amount: int) -> bytes:
    """``amount`` bytes, fewer only at the end (a network stream may return fewer)."""
    data = reader.read(amount)
    if len(data) in (0, amount):
        return data
    parts = [data]
    got = len(data)
    while got < amount:
        more = reader.read(amount - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)
