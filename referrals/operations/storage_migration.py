"""``storage migrate --to s3``: an installation's stored files from its local directory into
its S3 bucket, resumably, each one verified, without stopping the installation.

Copy, then switch. The installation keeps running on the local directory (``REFERRALS_STORAGE
=local``) while the command runs with the bucket's settings beside it (``REFERRALS_S3_BUCKET``
and the rest). Each run copies what the bucket lacks:

- every finished blob on disk (evidence, legal process documents, kept uploads), byte for byte
  as stored (still encrypted under the same keys), streamed up part by part; and every built
  package file (``REFERRALS_PACKAGE_DIR``: the ``.tar.age``, its ``.sha256`` and ``.sig``) into
  the bucket's ``packages/``, where the installation on S3 serves them from;
- then reads it back from the bucket and checks it: a blob a ``stored_blobs`` row names must
  decrypt to the SHA-256 taken at intake; any other (a legal process document, a kept upload)
  must read back to the SHA-256 of the bytes on disk. A blob that fails is removed from the
  bucket and named in the summary; the run exits non-zero;
- each verified name is written to ``storage-migration.log`` in the instance directory, so a
  re-run (after an interruption, or to catch up) skips it once the bucket still holds it;
- a name it copied that has gone from disk since (a purge, the orphan sweep) is removed from
  the bucket as well: destroyed evidence must not live on in the new store.

Uploads made while it runs land on disk and are copied by the next run. The switch: stop the
app servers and workers (or refuse traffic), run the command once more (it copies only what
came since), set ``REFERRALS_STORAGE=s3`` on every server, start them. The local directory is
left as it was: remove it once the installation has run on the bucket for a while.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from referrals.core.objectstore import LocalObjects, Objects, StorageError, copy_stream
from referrals.core.s3store import S3Objects
from referrals.core.storage import BlobStore
from referrals.evidence.models import StoredBlob
from referrals.extensions import db

LOG_NAME = "storage-migration.log"
READ = 4 * 1024 * 1024


class MigrationError(Exception):
    """The migration cannot start; the message says why."""


@dataclass
class MigrationReport:
    on_disk: int = 0
    copied: int = 0
    already_there: int = 0
    bytes_copied: int = 0
    removed_from_bucket: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def _hash_of(objects: Objects, name: str) -> str:
    digest = hashlib.sha256()
    reader = objects.open(name)
    try:
        while chunk := reader.read(READ):
            digest.update(chunk)
    finally:
        reader.close()
    return digest.hexdigest()


class LocalFile:
    """A file on disk as a reader (``open`` of the package copy)."""

    def __init__(self, path: Path):
        self.path = path

    def open(self, name: str):
        return open(self.path, "rb")


def _copy_file(source, target, name: str) -> tuple[str, int]:
    """``name``'s bytes from ``source`` to ``target`` (anything with ``open`` and ``writer``):
    their SHA-256 and size."""
    digest = hashlib.sha256()
    reader = source.open(name)
    writer = target.writer(name)

    class Hashing:
        def read(self, amount: int) -> bytes:
            data = reader.read(amount)
            digest.update(data)
            return data

    try:
        size = copy_stream(Hashing(), writer)
        writer.finish()
    except BaseException:
        writer.abort()
        raise
    finally:
        reader.close()
    return digest.hexdigest(), size


def _verify(store: BlobStore, name: str, intake_sha256: str | None, copied_sha256: str) -> str:
    """Why the bucket's copy of ``name`` is wrong, or "" if it is right."""
    try:
        if intake_sha256 is not None:
            digest = hashlib.sha256()
            for chunk in store.read(name):
                digest.update(chunk)
            if digest.hexdigest() != intake_sha256:
                return "decrypts to another SHA-256 than its row records"
            return ""
        if _hash_of(store.objects, name) != copied_sha256:
            return "reads back to other bytes than were sent"
    except StorageError as error:
        return str(error)
    return ""


def migrate_to(source: LocalObjects, target: S3Objects, keys: dict[int, bytes], log: Path, *,
               packages: Path | None = None, say: Callable[[str], None] = lambda line: None,
               every: int = 100) -> MigrationReport:
    """Copy and verify every finished blob of ``source`` into ``target``, and every built
    package file in ``packages`` into its ``packages/`` folder (see the module)."""
    if not source.root.is_dir():
        raise MigrationError(f"There is no evidence directory at {source.root}: nothing to "
                             "migrate (is REFERRALS_INSTANCE_PATH the installation's?).")
    try:
        target.check()
    except Exception as error:  # noqa: BLE001 (any failure: the bucket cannot be used)
        raise MigrationError(f"The bucket {target.describe()} cannot be reached: {error}") \
            from error
    bucket_store = BlobStore(target, keys)
    verified = set(log.read_text().split()) if log.exists() else set()
    report = MigrationReport()
    on_disk = list(source.names())
    report.on_disk = len(on_disk)
    intake = {}
    for start in range(0, len(on_disk), 500):
        batch = on_disk[start:start + 500]
        intake.update((name, sha256) for name, sha256 in db.session.execute(
            select(StoredBlob.storage_name, StoredBlob.sha256)
            .where(StoredBlob.storage_name.in_(batch))))
    db.session.rollback()  # no transaction held open while bytes move
    with open(log, "a") as record:
        for number, name in enumerate(on_disk, 1):
            if name in verified and target.exists(name):
                report.already_there += 1
            else:
                try:
                    sent, size = _copy_file(source, target, name)
                except StorageError:  # removed from disk meanwhile (a purge): nothing to copy
                    continue
                problem = _verify(bucket_store, name, intake.get(name), sent)
                if problem:
                    target.delete(name)
                    report.failed.append(f"{name}: {problem}")
                    say(f"FAILED {name}: {problem}")
                    continue
                record.write(name + "\n")
                record.flush()
                report.copied += 1
                report.bytes_copied += size
            if number % every == 0:
                say(f"{number}/{report.on_disk} stored files: {report.copied} copied, "
                    f"{report.already_there} already in the bucket")
        gone = {name for name in verified - set(on_disk) if "/" not in name}
        for name in sorted(gone):
            if not source.exists(name) and target.exists(name):
                target.delete(name)
                report.removed_from_bucket += 1
        if packages is not None:
            _migrate_packages(packages, target.folder("packages"), verified, record, report)
    return report


def _migrate_packages(directory: Path, folder, verified: set[str], record,
                      report: MigrationReport) -> None:
    """Built package files (and their .sha256 and .sig): copied, read back, compared."""
    files = sorted(path.name for path in directory.iterdir()
                   if path.is_file() and not path.name.startswith(".")) \
        if directory.is_dir() else []
    for file_name in files:
        entry = f"packages/{file_name}"
        report.on_disk += 1
        if entry in verified and folder.exists(file_name):
            report.already_there += 1
            continue
        local = LocalFile(directory / file_name)
        try:
            sent, size = _copy_file(local, folder, file_name)
        except FileNotFoundError:  # expired meanwhile
            continue
        reader = folder.open(file_name)
        try:
            digest = hashlib.sha256()
            while chunk := reader.read(READ):
                digest.update(chunk)
        finally:
            reader.close()
        if digest.hexdigest() != sent:
            folder.delete(file_name)
            report.failed.append(f"{entry}: reads back to other bytes than were sent")
            continue
        record.write(entry + "\n")
        record.flush()
        report.copied += 1
        report.bytes_copied += size
    for entry in sorted(name for name in verified if name.startswith("packages/")):
        file_name = entry.split("/", 1)[1]
        if file_name not in files and folder.exists(file_name):
            folder.delete(file_name)
            report.removed_from_bucket += 1
