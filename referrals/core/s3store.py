"""The S3-compatible backend of ``referrals.core.objectstore`` (its docstring says what a
bucket holds and how markers work there), through boto3. Only calls every S3-compatible server
answers: AWS S3, MinIO, Ceph RGW (and moto's server in the tests); conditional writes
(``If-None-Match``/``If-Match``) keep two servers from taking one marker."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable, Iterator

from referrals.core.objectstore import (PART, PENDING, PENDING_LEASE, REFRESH, WRITE_LEASE, Busy,
                                        LocalObjects, Objects, StorageError, StoredObject,
                                        check_name)


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

    def __init__(self, objects: "S3Objects", key: str, marker: str,
                 keepalive: Callable[[], None] | None):
        self.objects, self.key, self.marker = objects, key, marker
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
            self.objects._put_marker(self.marker, time.time() + WRITE_LEASE)
            self.upload_id = client.create_multipart_upload(Bucket=bucket,
                                                            Key=self.key)["UploadId"]
        number = len(self.parts) + 1
        size = part_size(number)
        with memoryview(self.buffer) as view:
            body = bytes(view[:size])  # one copy, sent while the next part fills
        del self.buffer[:size]
        answer = client.upload_part(Bucket=bucket, Key=self.key, PartNumber=number,
                                    UploadId=self.upload_id, Body=body)
        self.parts.append({"ETag": answer["ETag"], "PartNumber": number})
        if time.monotonic() - self.alive_at > REFRESH:
            self.alive_at = time.monotonic()
            self.objects._put_marker(self.marker, time.time() + WRITE_LEASE)
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
        client.delete_object(Bucket=bucket, Key=self.marker)

    def abort(self) -> None:
        self.buffer = bytearray()
        if self.upload_id is None:
            return
        client, bucket = self.objects.client, self.objects.bucket
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=self.key, UploadId=self.upload_id)
        finally:
            client.delete_object(Bucket=bucket, Key=self.marker)


class _S3Reader:
    def __init__(self, objects: "S3Objects", key: str, start: int, length: int | None):
        arguments = {"Bucket": objects.bucket, "Key": key}
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            arguments["Range"] = f"bytes={start}-{end}"
        try:
            answer = objects.client.get_object(**arguments)
        except Exception as error:
            if _missing(error):
                raise StorageError("the stored file is missing") from error
            if _code(error) == "InvalidRange":  # a range past the end: nothing to read
                head = objects.client.head_object(Bucket=objects.bucket, Key=key)
                self.body, self.size = io.BytesIO(b""), head["ContentLength"]
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
        return _S3Writer(self, self.key(name), self.writing_key(name), keepalive)

    def open(self, name: str, start: int = 0, length: int | None = None) -> _S3Reader:
        return _S3Reader(self, self.key(name), start, length)

    def folder(self, folder: str) -> "S3Folder":
        """Files with names of their own (built packages) beside the blobs."""
        return S3Folder(self, folder)

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


FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")


class S3Folder:
    """Named files under ``<prefix><folder>/`` (a package's ``<label>.tar.age`` and the files
    beside it). A file appears whole when its upload completes; an upload whose writer died
    is aborted by ``remove_unfinished`` once its marker has run out."""

    def __init__(self, objects: S3Objects, folder: str):
        self.objects, self.folder = objects, folder
        self.base = f"{objects.prefix}{folder}/"

    def key(self, file_name: str) -> str:
        if not FILE_NAME.fullmatch(file_name) or ".." in file_name:
            raise StorageError("not a file name of ours")
        return self.base + file_name

    def _marker(self, file_name: str) -> str:
        return f"{self.objects.prefix}writing-{self.folder}/{file_name}"

    def writer(self, file_name: str) -> _S3Writer:
        return _S3Writer(self.objects, self.key(file_name), self._marker(file_name), None)

    def put(self, file_name: str, data: bytes) -> None:
        self.objects.client.put_object(Bucket=self.objects.bucket, Key=self.key(file_name),
                                       Body=data)

    def open(self, file_name: str, start: int = 0, length: int | None = None) -> _S3Reader:
        return _S3Reader(self.objects, self.key(file_name), start, length)

    def read_bytes(self, file_name: str) -> bytes:
        reader = self.open(file_name)
        try:
            return reader.read(reader.size) if reader.size else b""
        finally:
            reader.close()

    def exists(self, file_name: str) -> bool:
        try:
            self.objects.client.head_object(Bucket=self.objects.bucket,
                                            Key=self.key(file_name))
        except Exception as error:
            if _missing(error):
                return False
            raise
        return True

    def delete(self, file_name: str) -> None:
        self.objects.client.delete_object(Bucket=self.objects.bucket, Key=self.key(file_name))

    def names(self) -> Iterator[str]:
        for entry in self.objects._listing(self.base):
            yield entry["Key"][len(self.base):]

    def remove_unfinished(self) -> list[str]:
        """Abort the uploads whose writer has not shown life within ``WRITE_LEASE``."""
        removed = []
        for upload in list(self.objects._uploads(self.base)):
            file_name = upload["Key"][len(self.base):]
            held = self.objects._held_until(self._marker(file_name))
            if held is not None and held[0] > time.time():
                continue
            try:
                self.objects.client.abort_multipart_upload(
                    Bucket=self.objects.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            except Exception as error:
                if not _missing(error):
                    raise
            self.objects.client.delete_object(Bucket=self.objects.bucket,
                                              Key=self._marker(file_name))
            removed.append(file_name)
        return removed


def open_objects(settings) -> Objects:
    """The backend the settings choose (``REFERRALS_STORAGE``)."""
    if settings.storage_backend == "s3":
        return S3Objects.connect(settings.s3_bucket, prefix=settings.s3_prefix,
                                 endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
                                 path_style=settings.s3_path_style)
    return LocalObjects(settings.instance_path / "evidence")


