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
Ceph (path-style addressing only when configured).
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

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
    def __init__(self, path: Path):
        self.path = path
        self.temp = path.with_suffix(".partial")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.temp, "wb")
        fcntl.flock(self.handle, fcntl.LOCK_EX)  # a live writer: see partial_in_progress

    def write(self, data) -> int:
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()

    def finish(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.temp.rename(self.path)  # while the lock is held: a sweep never sees it unlocked
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
        remaining = size
        while remaining:
            step = min(CHUNK, remaining)
            handle.write(secrets.token_bytes(step))
            remaining -= step
        handle.flush()
        os.fsync(handle.fileno())
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


# --- an S3-compatible bucket --------------------------------------------------------------


def _code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def _missing(error: Exception) -> bool:
    return _code(error) in ("NoSuchKey", "404", "NotFound", "NoSuchUpload")


def _lost_race(error: Exception) -> bool:
    return _code(error) in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")


def part_size(number: int) -> int:
    """Part ``number`` (from 1): 8 MiB, growing by 8 MiB every 1,000 parts so that S3's limit
    of 10,000 parts still holds several hundred GiB."""
    return PART * (1 + (number - 1) // 1000)


class _S3Marker:
    def __init__(self, objects: "S3Objects", name: str, key: str):
        self.objects, self.name, self.key = objects, name, key
        self.held = True

    def refresh(self) -> None:
        if self.held:
            self.objects._put_marker(self.key, time.time() + PENDING_LEASE)

    def clear(self) -> None:
        if self.held:
            self.objects.client.delete_object(Bucket=self.objects.bucket, Key=self.key)
            self.held = False

    def release(self) -> None:
        """Let go: the next sweep may settle it at once."""
        if self.held:
            self.objects._put_marker(self.key, 0)
            self.held = False


class _S3Writer:
    """Parts go up as they fill (the sealing pipeline writes 1 MiB at a time); an object that
    fits in one part is one ``PutObject``. Memory: one part, whatever the size."""

    def __init__(self, objects: "S3Objects", name: str, keepalive: Callable[[], None] | None):
        self.objects, self.name = objects, name
        self.key = objects.key(name)
        self.keepalive = keepalive
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict] = []
        self.alive_at = time.monotonic()

    def write(self, data) -> int:
        self.buffer += data
        if len(self.buffer) >= part_size(len(self.parts) + 1):
            self._send_part()
        return len(data)

    def flush(self) -> None:
        """Parts go when full; there is nothing to push before."""

    def _send_part(self) -> None:
        client, bucket = self.objects.client, self.objects.bucket
        if self.upload_id is None:
            self.objects._put_marker(self.objects.writing_key(self.name),
                                     time.time() + WRITE_LEASE)
            self.upload_id = client.create_multipart_upload(Bucket=bucket,
                                                            Key=self.key)["UploadId"]
        number = len(self.parts) + 1
        size = part_size(number)
        body, self.buffer = bytes(self.buffer[:size]), self.buffer[size:]
        answer = client.upload_part(Bucket=bucket, Key=self.key, PartNumber=number,
                                    UploadId=self.upload_id, Body=body)
        self.parts.append({"ETag": answer["ETag"], "PartNumber": number})
        if time.monotonic() - self.alive_at > REFRESH:
            self.alive_at = time.monotonic()
            self.objects._put_marker(self.objects.writing_key(self.name),
                                     time.time() + WRITE_LEASE)
            if self.keepalive is not None:
                self.keepalive()

    def finish(self) -> None:
        client, bucket = self.objects.client, self.objects.bucket
        if self.upload_id is None:
            client.put_object(Bucket=bucket, Key=self.key, Body=bytes(self.buffer))
            self.buffer = bytearray()
            return
        if self.buffer or not self.parts:
            self._send_part()
        client.complete_multipart_upload(Bucket=bucket, Key=self.key, UploadId=self.upload_id,
                                         MultipartUpload={"Parts": self.parts})
        client.delete_object(Bucket=bucket, Key=self.objects.writing_key(self.name))

    def abort(self) -> None:
        self.buffer = bytearray()
        if self.upload_id is None:
            return
        client, bucket = self.objects.client, self.objects.bucket
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=self.key, UploadId=self.upload_id)
        finally:
            client.delete_object(Bucket=bucket, Key=self.objects.writing_key(self.name))


class _S3Reader:
    def __init__(self, objects: "S3Objects", name: str, start: int, length: int | None):
        arguments = {"Bucket": objects.bucket, "Key": objects.key(name)}
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            arguments["Range"] = f"bytes={start}-{end}"
        try:
            answer = objects.client.get_object(**arguments)
        except Exception as error:
            if _missing(error):
                raise StorageError("the stored file is missing") from error
            if _code(error) == "InvalidRange":  # a range past the end: nothing to read
                self.body, self.size = io.BytesIO(b""), objects.size(name)
                return
            raise
        self.body = answer["Body"]
        content_range = answer.get("ContentRange")  # bytes a-b/size
        self.size = int(content_range.rsplit("/", 1)[1]) if content_range \
            else answer["ContentLength"]

    def read(self, amount: int) -> bytes:
        return self.body.read(amount)

    def close(self) -> None:
        self.body.close()


class S3Objects:
    """A bucket (and a key prefix in it) on any S3-compatible server, through boto3."""

    def __init__(self, client, bucket: str, prefix: str = ""):
        self.client, self.bucket = client, bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    @classmethod
    def connect(cls, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                region: str | None = None, path_style: bool = False) -> "S3Objects":
        """Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID`` and
        ``AWS_SECRET_ACCESS_KEY``, a profile, an instance role)."""
        import boto3
        from botocore.config import Config

        config = Config(retries={"mode": "standard", "max_attempts": 5},
                        s3={"addressing_style": "path" if path_style else "auto"})
        client = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None,
                              config=config)
        return cls(client, bucket, prefix)

    def key(self, name: str) -> str:
        return f"{self.prefix}blobs/{check_name(name)}"

    def writing_key(self, name: str) -> str:
        return f"{self.prefix}writing/{check_name(name)}"

    def _pending_key(self, name: str) -> str:
        return f"{self.prefix}{PENDING}/{check_name(name)}"

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def writer(self, name: str, keepalive: Callable[[], None] | None = None) -> _S3Writer:
        return _S3Writer(self, name, keepalive)

    def open(self, name: str, start: int = 0, length: int | None = None) -> _S3Reader:
        return _S3Reader(self, name, start, length)

    def size(self, name: str) -> int:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.key(name))["ContentLength"]
        except Exception as error:
            if _missing(error):
                raise StorageError("the stored file is missing") from error
            raise

    def exists(self, name: str) -> bool:
        self.key(name)  # a name that is not ours is an error, not "absent"
        try:
            self.size(name)
        except StorageError:
            return False
        return True

    def stored_bytes(self, name: str) -> int:
        """What ``name`` takes, finished or not (0 if nothing)."""
        total = self.size(name) if self.exists(name) else 0
        key = self.key(name)
        for upload in self._uploads(key):
            if upload["Key"] == key:
                try:
                    parts = self.client.list_parts(Bucket=self.bucket, Key=key,
                                                   UploadId=upload["UploadId"]).get("Parts", [])
                except Exception as error:
                    if not _missing(error):
                        raise
                    continue
                total += sum(part["Size"] for part in parts)
        return total

    def delete(self, name: str) -> None:
        """Gone from the bucket (an S3 object cannot be overwritten in place: what keeps a
        copy unreadable is the encryption)."""
        self.client.delete_object(Bucket=self.bucket, Key=self.key(name))

    def _uploads(self, prefix: str) -> Iterator[dict]:
        arguments = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            answer = self.client.list_multipart_uploads(**arguments)
            yield from answer.get("Uploads", [])
            if not answer.get("IsTruncated"):
                return
            arguments["KeyMarker"] = answer["NextKeyMarker"]
            arguments["UploadIdMarker"] = answer["NextUploadIdMarker"]

    def delete_partial(self, name: str) -> None:
        key = self.key(name)
        for upload in list(self._uploads(key)):
            if upload["Key"] == key:
                try:
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=key,
                                                       UploadId=upload["UploadId"])
                except Exception as error:
                    if not _missing(error):
                        raise
        self.client.delete_object(Bucket=self.bucket, Key=self.writing_key(name))

    def _held_until(self, key: str) -> tuple[float, str] | None:
        """(until when the marker at ``key`` is held, its ETag), or None if there is none."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except Exception as error:
            if _missing(error):
                return None
            raise
        try:
            until = float(json.loads(answer["Body"].read())["until"])
        except (ValueError, KeyError, TypeError):
            until = 0.0
        return until, answer["ETag"]

    def _put_marker(self, key: str, until: float, **condition) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, **condition,
                               Body=json.dumps({"until": until}).encode())

    def partial_in_progress(self, name: str) -> bool:
        held = self._held_until(self.writing_key(name))
        return held is not None and held[0] > time.time()

    def _listing(self, prefix: str) -> Iterator[dict]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def older_than(self, seconds_since_epoch: float) -> Iterator[StoredObject]:
        blobs = f"{self.prefix}blobs/"
        for entry in self._listing(blobs):
            name = entry["Key"][len(blobs):]
            modified = entry["LastModified"].timestamp()
            if len(name) == 32 and modified < seconds_since_epoch:
                yield StoredObject(name, entry["Size"], modified, False)
        for upload in self._uploads(blobs):
            name = upload["Key"][len(blobs):]
            started = upload["Initiated"].timestamp()
            if len(name) != 32 or started >= seconds_since_epoch:
                continue
            try:
                parts = self.client.list_parts(Bucket=self.bucket, Key=upload["Key"],
                                               UploadId=upload["UploadId"]).get("Parts", [])
            except Exception as error:
                if _missing(error):  # finished or aborted meanwhile
                    continue
                raise
            yield StoredObject(name, sum(part["Size"] for part in parts), started, True)

    def names(self) -> Iterator[str]:
        blobs = f"{self.prefix}blobs/"
        for entry in self._listing(blobs):
            yield entry["Key"][len(blobs):]

    def hold_marker(self, name: str) -> _S3Marker:
        """Put ``name``'s marker unless a live holder has it (``Busy``): a conditional write,
        so two servers never both take it."""
        key = self._pending_key(name)
        until = time.time() + PENDING_LEASE
        try:
            self._put_marker(key, until, IfNoneMatch="*")
        except Exception as error:
            if not _lost_race(error):
                raise
            held = self._held_until(key)
            if held is not None and held[0] > time.time():
                raise Busy(name) from None
            self._take_over(key, held, until, name)
        return _S3Marker(self, name, key)

    def _take_over(self, key: str, held: tuple[float, str] | None, until: float,
                   name: str) -> None:
        condition = {"IfMatch": held[1]} if held is not None else {"IfNoneMatch": "*"}
        try:
            self._put_marker(key, until, **condition)
        except Exception as error:
            if _lost_race(error):
                raise Busy(name) from None
            raise

    def abandoned(self) -> Iterator[_S3Marker]:
        pending = f"{self.prefix}{PENDING}/"
        for entry in list(self._listing(pending)):
            name = entry["Key"][len(pending):]
            if len(name) != 32:
                continue
            held = self._held_until(entry["Key"])
            if held is None or held[0] > time.time():  # settled meanwhile, or still held
                continue
            try:
                self._take_over(entry["Key"], held, time.time() + PENDING_LEASE, name)
            except Busy:  # another sweep took it first
                continue
            yield _S3Marker(self, name, entry["Key"])

    def is_pending(self, name: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._pending_key(name))
        except Exception as error:
            if _missing(error):
                return False
            raise
        return True

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)


def open_objects(settings) -> Objects:
    """The backend the settings choose (``REFERRALS_STORAGE``)."""
    if settings.storage_backend == "s3":
        return S3Objects.connect(settings.s3_bucket, prefix=settings.s3_prefix,
                                 endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
                                 path_style=settings.s3_path_style)
    return LocalObjects(settings.instance_path / "evidence")


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
