"""Envelope encryption (issue 16): each blob's data key lives in ``blob_keys``, written in the
transaction that names the blob and deleted in the one that purges it. A copy of a purged
blob's file (a snapshot, an SSD's old block) reads with no master key at all."""

from __future__ import annotations

import io
import os
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from referrals.audit.models import AuditEvent
from referrals.core.blob_keys import BlobKey, MemoryKeyRows, add_key_row
from referrals.core.staging import claim_for_removal, stage_blob
from referrals.core.storage import BlobStore, StorageError
from referrals.core.transaction import commit, rollback
from referrals.extensions import db
from referrals.retention.orphans import remove_leftovers, remove_orphans
from referrals.retention.services import purge_due
from tests.retention.helpers import add_item, make_case

T0 = datetime(2024, 1, 10, 9, 0, tzinfo=UTC)


def _row(name: str) -> BlobKey | None:
    db.session.expire_all()
    return db.session.get(BlobKey, name)


def _read(store, name) -> bytes:
    return b"".join(store.read(name))


def _every_key_cannot_read(store: BlobStore, copy_root, name: str) -> None:
    """The copied file with every configured master key, alone and each by itself, and with
    whatever row is left: none decrypts it."""
    attempts = [store.keys] + [{key_id: key} for key_id, key in store.keys.items()]
    for keys in attempts:
        for rows in (None, MemoryKeyRows()):
            with pytest.raises(StorageError):
                _read(BlobStore(copy_root, keys, rows), name)


def _copy(store: BlobStore, name: str, copy_root) -> None:
    target = copy_root / name[:2] / f"{name}.blob"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(store._path(name), target)


# --- where the key row is written --------------------------------------------------------------


def test_a_staged_blob_gets_its_key_row_in_the_committing_transaction(store):
    data = os.urandom(5000)
    staged = stage_blob(io.BytesIO(data))
    assert _row(staged.name) is None  # nothing written before the transaction writes
    commit()
    row = _row(staged.name)
    assert row.master_key_id == store.current_key_id and len(row.wrapped_key) == 60
    assert not store.is_pending(staged.name) and _read(store, staged.name) == data


def test_a_rolled_back_blob_has_no_key_row_and_no_file(store):
    staged = stage_blob(io.BytesIO(os.urandom(5000)))
    rollback()
    commit()  # a later commit on the same session records nothing for it
    assert _row(staged.name) is None and not store.exists(staged.name)


def test_an_unwanted_blob_gets_no_key_row(store):
    staged = stage_blob(io.BytesIO(os.urandom(5000)))
    staged.unwanted()
    commit()
    assert _row(staged.name) is None and not store.exists(staged.name)


def test_a_process_that_dies_before_its_commit_leaves_a_file_nobody_can_read(store, tmp_path):
    staged = stage_blob(io.BytesIO(b"synthetic bytes" * 1000))
    _copy(store, staged.name, tmp_path / "copy")
    staged.release()  # the process dies: no commit, no rollback, the marker left
    db.session.info.pop("referrals_staged_blobs", None)  # and its session with it
    rollback()
    _every_key_cannot_read(store, tmp_path / "copy", staged.name)
    report = remove_leftovers()
    commit()
    assert report.crash_leftovers == 1 and not store.exists(staged.name)
    assert _row(staged.name) is None


def test_a_read_resolves_the_key_at_once_and_streams_later(store):
    data = os.urandom(3000)
    staged = stage_blob(io.BytesIO(data))
    commit()
    chunks = store.read(staged.name)  # the key row is read here, in the session
    db.session.remove()  # the request's session is gone before the body streams
    assert b"".join(chunks) == data


# --- purge -----------------------------------------------------------------------------------


def test_a_retention_purge_deletes_the_key_row_with_its_audit_event(app, frozen, store, tmp_path):
    frozen(T0)
    case = make_case(closed_at=T0)
    item = add_item(case, b"synthetic evidence to be purged\n" * 100)
    commit()
    name = item.blob.storage_name
    assert _row(name) is not None
    _copy(store, name, tmp_path / "snapshot")  # what a disk snapshot keeps
    assert _read(BlobStore(tmp_path / "snapshot", store.keys), name).startswith(b"synthetic")

    frozen(T0 + timedelta(days=app.config["REFERRALS_SETTINGS"].retention_days))
    purge_due()
    # Before the commit: the row is gone in the purge's transaction, the bytes still there
    # (overwritten only once the record of the purge is durable).
    assert db.session.get(BlobKey, name) is None and store.exists(name)
    events = db.session.scalar(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.action == "retention.run"))
    assert events == 1
    commit()
    assert _row(name) is None and not store.exists(name)
    _every_key_cannot_read(store, tmp_path / "snapshot", name)


def test_a_purge_that_rolls_back_keeps_the_key_and_the_bytes(store):
    staged = stage_blob(io.BytesIO(b"synthetic" * 500))
    commit()
    claim_for_removal(staged.name)
    assert db.session.get(BlobKey, staged.name) is None
    rollback()
    assert _row(staged.name) is not None and _read(store, staged.name) == b"synthetic" * 500


# --- the orphan sweep settles key rows -----------------------------------------------------------


def test_the_sweep_deletes_the_key_row_of_a_file_it_removes(store, frozen):
    frozen(T0)
    written = store.write(io.BytesIO(b"kept for nobody" * 100))
    add_key_row(written.name, written.master_key_id, written.wrapped_key)
    commit()
    old = (T0 - timedelta(days=2)).timestamp()
    os.utime(store._path(written.name), (old, old))
    report = remove_orphans()
    commit()
    assert report.files == 1 and report.key_rows == 1
    assert _row(written.name) is None and not store.exists(written.name)


def test_the_sweep_deletes_a_day_old_key_row_whose_file_and_blob_are_gone(store, frozen):
    frozen(T0 - timedelta(days=2))
    add_key_row("ab" * 16, 1, os.urandom(60))
    frozen(T0)
    staged = stage_blob(io.BytesIO(b"named"))  # a fresh row with a file stays
    commit()
    add_key_row("cd" * 16, 1, os.urandom(60))  # too young: a transaction may be writing it
    commit()
    report = remove_orphans()
    commit()
    assert report.key_rows == 1 and _row("ab" * 16) is None
    assert _row("cd" * 16) is not None and _row(staged.name) is not None
