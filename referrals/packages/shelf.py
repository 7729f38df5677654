"""Where built package files are kept: a directory (``REFERRALS_PACKAGE_DIR``, the default) or,
when evidence lives in an S3 bucket, the same bucket under ``<prefix>packages/`` -- so that an
officer downloads from whichever app server answers, with Range requests either way.

Crash safety is the same promise on both: a package file takes its final name whole or not at
all, and only then is the package marked ready in the database. In a directory the bytes go
to a ``.partial`` name, are fsynced and renamed; in a bucket they go up as a multipart upload
that is completed under the final key. A build that dies leaves a ``.partial`` file, or an
incomplete upload whose writer's marker runs out; the package sweep removes either."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from referrals.core.objectstore import fsync_directory
from referrals.core.s3store import S3Folder

PARTIAL = ".partial"


def write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class PackageWriter(Protocol):
    def local_file(self) -> int | None: ...
    def write(self, data) -> None: ...
    def publish(self, before_publish: Callable[[], None] | None) -> None: ...
    def discard(self) -> None: ...


class Shelf(Protocol):
    def start(self, file_name: str) -> PackageWriter: ...
    def put(self, file_name: str, data: bytes) -> None: ...
    def settle(self) -> None: ...
    def where(self, file_name: str) -> PurePosixPath: ...
    def local_path(self, file_name: str) -> Path | None: ...
    def open(self, file_name: str, start: int = 0, length: int | None = None): ...
    def exists(self, file_name: str) -> bool: ...
    def read_bytes(self, file_name: str) -> bytes: ...
    def remove(self, file_name: str) -> None: ...
    def remove_unfinished(self, older_than: float) -> list[str]: ...


@dataclass(frozen=True)
class ShelvedFile:
    """One file on a shelf (what a download streams)."""

    shelf: Shelf
    name: str

    def exists(self) -> bool:
        return self.shelf.exists(self.name)


class _DirectoryWriter:
    def __init__(self, directory: Path, file_name: str):
        directory.mkdir(parents=True, exist_ok=True)
        self.final = directory / file_name
        self.temporary = directory / f".{file_name}.{uuid.uuid4().hex}{PARTIAL}"
        self.handle = open(self.temporary, "wb", buffering=0)

    def local_file(self) -> int | None:
        """The temporary file's descriptor: the builder's encrypting process writes the
        package straight into it (``builder._await_encryption``), instead of through ``write``."""
        return self.handle.fileno()

    def write(self, data) -> None:
        write_all(self.handle.fileno(), data)

    def publish(self, before_publish: Callable[[], None] | None) -> None:
        os.fsync(self.handle.fileno())
        self.handle.close()
        if before_publish is not None:
            before_publish()
        os.replace(self.temporary, self.final)

    def discard(self) -> None:
        self.handle.close()
        self.temporary.unlink(missing_ok=True)


def remove_partial_packages(directory: Path, older_than: float = 0) -> list[Path]:
    """Leftovers of builds that did not finish (crash, kill, refusal). ``older_than``
    (seconds): spare the files a build still running may be writing."""
    removed = []
    if not directory.is_dir():
        return removed
    limit = time.time() - older_than
    for path in directory.glob(f".*{PARTIAL}"):
        try:
            if older_than and path.stat().st_mtime > limit:
                continue
        except FileNotFoundError:
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


class DirectoryShelf:
    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def _path(self, file_name: str) -> Path:
        if "/" in file_name or file_name.startswith("."):
            raise ValueError("not a package file name")
        return self.directory / file_name

    def start(self, file_name: str) -> _DirectoryWriter:
        return _DirectoryWriter(self.directory, self._path(file_name).name)

    def put(self, file_name: str, data: bytes) -> None:
        """Whole or not at all: a temporary name, fsynced, renamed."""
        writer = self.start(file_name)
        try:
            writer.write(data)
            writer.publish(None)
        except BaseException:
            writer.discard()
            raise

    def settle(self) -> None:
        fsync_directory(self.directory)

    def where(self, file_name: str) -> Path:
        return self._path(file_name)

    def local_path(self, file_name: str) -> Path | None:
        return self._path(file_name)

    def open(self, file_name: str, start: int = 0, length: int | None = None):
        handle = open(self._path(file_name), "rb")
        handle.seek(start)
        return handle

    def exists(self, file_name: str) -> bool:
        return self._path(file_name).is_file()

    def read_bytes(self, file_name: str) -> bytes:
        return self._path(file_name).read_bytes()

    def remove(self, file_name: str) -> None:
        self._path(file_name).unlink(missing_ok=True)

    def remove_unfinished(self, older_than: float) -> list[str]:
        return [path.name for path in remove_partial_packages(self.directory, older_than)]


class _BucketWriter:
    def __init__(self, folder: S3Folder, file_name: str):
        self.upload = folder.writer(file_name)

    def local_file(self) -> int | None:
        """None: the bytes go up through ``write``."""
        return None

    def write(self, data) -> None:
        self.upload.write(data)

    def publish(self, before_publish: Callable[[], None] | None) -> None:
        if before_publish is not None:
            before_publish()
        self.upload.finish()  # the complete file appears under its final key, at once

    def discard(self) -> None:
        self.upload.abort()


class BucketShelf:
    def __init__(self, folder: S3Folder):
        self.folder = folder

    def start(self, file_name: str) -> _BucketWriter:
        return _BucketWriter(self.folder, file_name)

    def put(self, file_name: str, data: bytes) -> None:
        self.folder.put(file_name, data)  # one PutObject: whole or not at all

    def settle(self) -> None:
        """Nothing: a finished upload is durable."""

    def where(self, file_name: str) -> PurePosixPath:
        return PurePosixPath(self.folder.key(file_name))

    def local_path(self, file_name: str) -> Path | None:
        return None

    def open(self, file_name: str, start: int = 0, length: int | None = None):
        return self.folder.open(file_name, start, length)

    def exists(self, file_name: str) -> bool:
        return self.folder.exists(file_name)

    def read_bytes(self, file_name: str) -> bytes:
        return self.folder.read_bytes(file_name)

    def remove(self, file_name: str) -> None:
        self.folder.delete(file_name)

    def remove_unfinished(self, older_than: float) -> list[str]:
        """Uploads whose writer stopped showing life (its marker's own lease, not
        ``older_than``: a server's clock says nothing about another's upload)."""
        return self.folder.remove_unfinished()
