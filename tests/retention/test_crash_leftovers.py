"""Crash leftovers (issue 10, finding 11): a process killed between writing a blob and committing
the row that names it, or between a purge's commit and its overwrite, leaves a file that goes at
the next sweep or worker start, not a day later; a write cut off half-way leaves a ``.partial``
that goes at the next start. A file whose transaction is still running is never touched."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.core.clock import now
from referrals.core.storage import PendingFile
from referrals.core.transaction import commit, rollback
from referrals.evidence.models import StoredBlob
from referrals.extensions import db
from referrals.retention import jobs as retention_jobs
from referrals.retention.jobs import remove_leftovers_at_start
from referrals.retention.orphans import remove_leftovers, remove_orphans
from referrals.retention.services import purge_due
from tests.retention.helpers import add_item, make_case
from tests.separate_databases import ROOT

STAGE_THEN_DIE = """
import io, os, signal, sys
from pathlib import Path
from referrals.core.storage import BlobStore
store = BlobStore(Path(sys.argv[1]), {1: bytes(range(32))})
source = sys.stdin.buffer if sys.argv[2] == "stdin" else io.BytesIO(b"synthetic upload" * 4096)
staged = store.stage(source)
print(staged.name, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # dies between the blob's rename and any commit
"""


def _python(store, source: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", STAGE_THEN_DIE, str(store.root), source],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, **kwargs)


def test_a_blob_staged_by_a_process_killed_before_its_commit_goes_at_the_next_start(store):
    child = _python(store, "bytes")
    name = child.stdout.read().decode().strip()
    assert child.wait(30) == -signal.SIGKILL
    assert store.exists(name) and store.is_pending(name)  # full-size, named by no row

    report = remove_leftovers()
    assert (report.files, report.crash_leftovers) == (1, 1) and report.bytes > 60_000
    assert not store.exists(name) and not store.is_pending(name)


def test_the_daily_sweep_removes_them_at_once_too(store):
    child = _python(store, "bytes")
    name = child.stdout.read().decode().strip()
    child.wait(30)
    report = remove_orphans()  # the file is seconds old, not a day
    assert report.crash_leftovers == 1 and not store.exists(name)


def test_a_write_killed_half_way_leaves_a_partial_that_goes_at_the_next_start(store):
    child = _python(store, "stdin", stdin=subprocess.PIPE)
    child.stdin.write(os.urandom(3 * 1024 * 1024))  # then the upload stalls, mid-write
    child.stdin.flush()
    deadline = time.monotonic() + 30
    # Until the writer has written (the pipeline's threads may lag behind its reads).
    while not [p for p in store.root.glob("*/*.partial") if p.stat().st_size > 16] \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    [partial] = list(store.root.glob("*/*.partial"))
    # While its writer lives, the sweep leaves it alone.
    assert remove_leftovers().files == 0 and partial.exists()
    child.kill()
    child.wait(30)

    report = remove_leftovers()
    assert report.crash_leftovers == 1 and report.bytes > 0
    assert not partial.exists() and not list((store.root / "pending").iterdir())


def test_a_staged_blob_whose_transaction_is_running_is_left_alone(store):
    staged = store.stage(io.BytesIO(b"synthetic upload still on its way to its row\n"))
    assert remove_orphans(now() + timedelta(days=3)).files == 0
    assert store.exists(staged.name) and store.is_pending(staged.name)
    staged.release()  # its process is gone, and no row names the file
    assert remove_orphans().crash_leftovers == 1 and not store.exists(staged.name)


def test_a_blob_committed_before_its_marker_was_cleared_stays(store):
    staged = store.stage(io.BytesIO(b"synthetic upload whose row committed\n"))
    written = staged.written
    db.session.add(StoredBlob(sha256=written.sha256, storage_name=written.name,
                              key_id=written.key_id, size=written.size, created_at=now()))
    db.session.flush()
    staged.release()  # the process died after its commit, before clearing the marker

    report = remove_leftovers()
    assert report.files == 0
    assert store.exists(written.name) and not store.is_pending(written.name)


def test_an_upload_that_rolls_back_removes_its_blob_at_once(store):
    case = make_case()
    add_item(case, b"synthetic evidence that stays\n")
    before = set(store.root.glob("*/*.blob"))
    add_item(case, b"synthetic evidence of a request that then failed\n")
    [staged] = set(store.root.glob("*/*.blob")) - before
    rollback()
    assert not staged.exists() and not list((store.root / "pending").iterdir())


@pytest.fixture
def due_item(store, frozen):
    at = frozen(now())
    case = make_case(closed_at=at - timedelta(days=800))
    item = add_item(case, b"synthetic evidence past retention\n")
    name = item.blob.storage_name
    commit()  # the upload is stored for good before the purge begins
    return name, at


def test_a_purge_overwrites_only_after_its_commit(store, due_item):
    name, at = due_item
    purge_due(at)
    assert store.exists(name) and store.is_pending(name)  # destroyed once the record is durable
    commit()
    assert not store.exists(name) and not store.is_pending(name)


def test_a_purge_that_rolls_back_destroys_nothing(store, due_item):
    name, at = due_item
    purge_due(at)
    rollback()
    assert store.exists(name) and not store.is_pending(name)


def test_a_purge_killed_between_commit_and_overwrite_is_finished_at_the_next_start(
        store, due_item, monkeypatch):
    name, at = due_item
    with monkeypatch.context() as patch:  # the process dies right after its commit
        patch.setattr(PendingFile, "remove", PendingFile.release)
        purge_due(at)
        commit()
    assert store.exists(name) and store.is_pending(name)
    assert remove_leftovers().crash_leftovers == 1
    assert not store.exists(name) and not store.is_pending(name)


def test_the_worker_removes_them_when_it_starts(app, store):
    child = _python(store, "bytes")
    name = child.stdout.read().decode().strip()
    child.wait(30)
    remove_leftovers_at_start(app)  # what referrals.worker does before taking jobs
    assert not store.exists(name) and not store.is_pending(name)
    [event] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "storage.orphans_removed")).all()
    assert json.loads(event.after)["crash_leftovers"] == 1


def test_a_failing_sweep_at_start_does_not_stop_the_worker(app, store, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise OSError("synthetic: the store is not mounted")

    monkeypatch.setattr(retention_jobs, "remove_leftovers", broken)
    remove_leftovers_at_start(app)
    assert "removing crash leftovers from storage at start failed" in caplog.text
