"""Backup and restore: the database and the evidence store, consistent with each other.

A backup is a directory:

- ``database.sqlite3`` (SQLite's online backup API) or ``database.pgdump`` (``pg_dump
  --format=custom``, one consistent snapshot): the whole database, audit chain included;
- ``blobs/<xx>/<name>.blob``: every stored evidence file, copied as it is stored, from the
  local directory or the S3 bucket (still
  encrypted with the storage keys, which the backup does NOT hold: keep
  ``REFERRALS_STORAGE_KEYS`` apart from the backups, or the backup is unreadable);
- ``manifest.json``, written last: when, from which schema revision, the audit chain's head,
  the database file's SHA-256, and each blob's name, size and the SHA-256 of its stored bytes.

Consistency: stored files are written once and never changed; only the retention purge and
the orphan sweep remove them. The backup holds both sweeps' leases (``core.leases``) from
before the database snapshot until the last file is copied, so every file the snapshot names
is still there to copy. Files written after the snapshot are copied too (harmless: no row
names them in the restored database, and the orphan sweep removes them a day later).

A restore goes into an empty database and an empty evidence store (directory or bucket), checks every copied
file against the manifest on the way, then proves the result: the audit chain verifies, and
every stored file decrypts to the SHA-256 its row and its evidence items record.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url

from referrals.audit.models import AuditChainHead
from referrals.audit.services import verify_chain
from referrals.core.clock import now
from referrals.core.leases import exclusive, periodic_lease
from referrals.core.objectstore import Objects
from referrals.core.storage import StorageError, get_store
from referrals.evidence.models import EvidenceItem, StoredBlob
from referrals.extensions import db
from referrals.retention.jobs import purge_retention_job, remove_orphan_files_job

FORMAT = "referrals-backup/1"
MANIFEST = "manifest.json"
COPY_CHUNK = 4 * 1024 * 1024


class BackupError(Exception):
    """A backup cannot be made or restored; the message says what and where."""


@dataclass
class RestoreReport:
    blobs: int = 0
    audit_events: int = 0
    items_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _pump(reader, writer) -> tuple[str, int]:
    """Every byte from ``reader`` to ``writer``: their SHA-256 and count."""
    digest, size = hashlib.sha256(), 0
    while chunk := reader.read(COPY_CHUNK):
        digest.update(chunk)
        writer.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _save_object(objects: Objects, name: str, target: Path) -> tuple[str, int]:
    """The stored bytes of ``name`` (still encrypted) into ``target``, fsynced: their SHA-256
    and size. Streams from either backend."""
    target.parent.mkdir(parents=True, exist_ok=True)
    reader = objects.open(name)
    try:
        with open(target, "wb") as writer:
            copied = _pump(reader, writer)
            writer.flush()
            os.fsync(writer.fileno())
    finally:
        reader.close()
    return copied


def _load_object(source: Path, objects: Objects, name: str) -> str:
    """``source``'s bytes stored as ``name`` (finished only if the whole file was read):
    their SHA-256."""
    writer = objects.writer(name)
    try:
        with open(source, "rb") as reader:
            digest, _ = _pump(reader, writer)
        writer.finish()
    except BaseException:
        writer.abort()
        raise
    return digest


def _libpq_url(url: str) -> str:
    """SQLAlchemy's ``postgresql+psycopg://`` as the ``postgresql://`` libpq tools take."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up.")
    return Path(database)


def _dump_database(url: str, out: Path) -> Path:
    if url.startswith("sqlite"):
        target = out / "database.sqlite3"
        source = sqlite3.connect(_sqlite_path(url))
        try:
            copy = sqlite3.connect(target)
            with copy:
                source.backup(copy)  # one consistent copy, while others keep writing
            copy.close()
        finally:
            source.close()
        return target
    target = out / "database.pgdump"
    done = subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                           f"--file={target}", _libpq_url(url)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip() or done.returncode}")
    return target


@contextmanager
def _no_file_removal() -> Iterator[None]:
    """Hold the leases of the two sweeps that remove stored files."""
    with ExitStack() as stack:
        for job in (purge_retention_job, remove_orphan_files_job):
            if not stack.enter_context(exclusive(periodic_lease(job.name))):
                raise BackupError("A worker is removing stored files right now (retention or "
                                  "the orphan sweep); try again when it has finished.")
        yield


def _revision() -> str | None:
    if not inspect(db.engine).has_table("alembic_version"):
        return None
    return db.session.scalar(text("SELECT version_num FROM alembic_version"))


def create_backup(out: Path) -> dict:
    """Write a backup of this installation into the new directory ``out``."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty: a backup goes into a new directory.")
    out.mkdir(parents=True, exist_ok=True)
    url = current_app.config["REFERRALS_SETTINGS"].database_url
    store = get_store()
    with _no_file_removal():
        head = db.session.get(AuditChainHead, 1)
        dump = _dump_database(url, out)
        db.session.rollback()  # read the blob list after the snapshot: a superset of it
        blobs = []
        for name, size, sha256 in db.session.execute(
                select(StoredBlob.storage_name, StoredBlob.size, StoredBlob.sha256)
                .order_by(StoredBlob.id)):
            if not store.exists(name):
                continue  # destroyed bytes whose row stays as a tombstone
            relative = Path(name[:2]) / f"{name}.blob"
            stored_sha256, stored_size = _save_object(store.objects, name,
                                                      out / "blobs" / relative)
            blobs.append({"name": name, "path": str(relative), "bytes": stored_size,
                          "stored_sha256": stored_sha256, "plaintext_sha256": sha256,
                          "plaintext_size": size})
    manifest = {
        "format": FORMAT, "created_at": now().isoformat(),
        "database": {"kind": "sqlite" if url.startswith("sqlite") else "postgresql",
                     "file": dump.name, "sha256": _sha256_of(dump), "revision": _revision()},
        "audit_head": {"seq": head.seq, "hash": head.last_hash} if head else None,
        "blobs": blobs,
    }
    temporary = out / f"{MANIFEST}.partial"
    temporary.write_text(json.dumps(manifest, indent=2))
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    temporary.rename(out / MANIFEST)
    return manifest


def read_manifest(source: Path) -> dict:
    path = Path(source) / MANIFEST
    if not path.is_file():
        raise BackupError(f"{source} holds no {MANIFEST}: not a backup, or one that did not "
                          "finish.")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a backup this version reads ({FORMAT}).")
    return manifest


def _restore_database(manifest: dict, source: Path, url: str) -> None:
    dump = source / manifest["database"]["file"]
    if _sha256_of(dump) != manifest["database"]["sha256"]:
        raise BackupError(f"{dump.name} does not match the manifest's SHA-256: the backup "
                          "was altered or damaged.")
    kind = manifest["database"]["kind"]
    if kind != ("sqlite" if url.startswith("sqlite") else "postgresql"):
        raise BackupError(f"The backup is of a {kind} database; restore it into one.")
    if inspect(db.engine).has_table("alembic_version"):
        raise BackupError("The target database is not empty: a restore goes into a new, "
                          "empty database.")
    db.session.rollback()
    if kind == "sqlite":
        target = _sqlite_path(url)
        db.session.remove()
        db.engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(dump, target)
        return
    db.session.remove()
    db.engine.dispose()
    done = subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
                           f"--dbname={_libpq_url(url)}", str(dump)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip() or done.returncode}")


def _restore_blobs(manifest: dict, source: Path) -> int:
    store = get_store()
    for blob in manifest["blobs"]:
        if store.exists(blob["name"]):
            raise BackupError(f"The evidence store already holds {blob['name']}: restore "
                              "into an empty one.")
        copied = _load_object(source / "blobs" / blob["path"], store.objects, blob["name"])
        if copied != blob["stored_sha256"]:
            store.delete(blob["name"])
            raise BackupError(f"Stored file {blob['name']} does not match the manifest's "
                              "SHA-256: the backup was altered or damaged.")
    return len(manifest["blobs"])


def check_installation(report: RestoreReport) -> RestoreReport:
    """What a restore must prove: the audit chain verifies, and every stored file decrypts to
    the SHA-256 its row and its evidence items record."""
    chain = verify_chain()
    report.audit_events = chain.checked
    if not chain.ok:
        report.problems.append(f"the audit chain does not verify: {chain.reason}")
    store = get_store()
    blobs = {blob.id: blob for blob in db.session.scalars(select(StoredBlob))}
    for blob in blobs.values():
        if not store.exists(blob.storage_name):
            continue
        digest = hashlib.sha256()
        try:
            for chunk in store.read(blob.storage_name):
                digest.update(chunk)
        except StorageError as error:
            report.problems.append(f"stored file {blob.storage_name}: {error}")
            continue
        if digest.hexdigest() != blob.sha256:
            report.problems.append(f"stored file {blob.storage_name} decrypts to another "
                                   "SHA-256 than its row records")
    for item in db.session.scalars(select(EvidenceItem).where(
            EvidenceItem.destroyed_at.is_(None), EvidenceItem.blob_id.is_not(None))):
        report.items_checked += 1
        blob = blobs.get(item.blob_id)
        if blob is None or not store.exists(blob.storage_name):
            report.problems.append(f"evidence item {item.id}: its stored file is missing")
        elif blob.sha256 != item.sha256:
            report.problems.append(f"evidence item {item.id}: SHA-256 differs from its file's")
    return report


def restore_backup(source: Path) -> RestoreReport:
    """Restore the backup in ``source`` into this (empty) installation, then check it."""
    source = Path(source)
    manifest = read_manifest(source)
    url = current_app.config["REFERRALS_SETTINGS"].database_url
    _restore_database(manifest, source, url)
    report = RestoreReport(blobs=_restore_blobs(manifest, source))
    head = db.session.get(AuditChainHead, 1)
    expected = manifest.get("audit_head")
    if expected and (head is None or head.seq < expected["seq"]):
        report.problems.append("the restored audit chain is shorter than the one backed up")
    return check_installation(report)
