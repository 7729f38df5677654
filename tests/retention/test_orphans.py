"""Stored files that no row names (a failed upload, an interrupted write) are removed once a
day old; a file any row names, and a fresh one that an upload may still be naming, stay."""

from __future__ import annotations

import io
import json
import os
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.audit.services import verify_chain
from referrals.extensions import db
from referrals.retention.orphans import remove_orphans
from tests.requests.fixtures import agency_a, officer_a  # noqa: F401 (fixtures)
from tests.requests.helpers import pdf_bytes, submit
from tests.retention.helpers import add_item, make_case

DAY = 24 * 3600


def age(store, name: str, seconds: float, *, suffix: str = ".blob") -> None:
    path = store._path(name).with_suffix(suffix)
    moment = time.time() - seconds
    os.utime(path, (moment, moment))


def orphan(store, data: bytes, seconds_old: float) -> str:
    written = store.write(io.BytesIO(data))
    age(store, written.name, seconds_old)
    return written.name


def unfinished(store, seconds_old: float) -> str:
    name = "ab" + "0" * 30
    path = store._path(name).with_suffix(".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RFB1 half a synthetic upload")
    age(store, name, seconds_old, suffix=".partial")
    return name


def test_old_orphans_go_and_named_or_fresh_files_stay(store, officer_a):
    case = make_case()
    item = add_item(case, b"synthetic evidence bytes\n")
    request = submit(officer_a, documents=[("order.pdf", io.BytesIO(pdf_bytes()))])
    named = [item.blob.storage_name, request.documents[0].storage_name]
    for name in named:
        age(store, name, 30 * DAY)
    old = orphan(store, b"bytes of a synthetic upload that failed\n", 2 * DAY)
    fresh = orphan(store, b"bytes of a synthetic upload still on its way\n", 3600)
    half = unfinished(store, 3 * DAY)

    dry = remove_orphans(dry_run=True)
    assert (dry.files, dry.unfinished) == (1, 1) and store.exists(old)

    report = remove_orphans()
    assert (report.files, report.unfinished) == (1, 1) and report.bytes > 0
    assert not store.exists(old)
    assert not store._path(half).with_suffix(".partial").exists()
    assert store.exists(fresh)
    assert all(store.exists(name) for name in named)
    assert remove_orphans().files == 0  # nothing more the second time

    [event] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "storage.orphans_removed")).all()
    assert json.loads(event.after)["files"] == 1
    assert verify_chain().ok


def test_the_cli_counts_then_removes(app, store):
    old = orphan(store, b"bytes of another synthetic failed upload\n", 2 * DAY)
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["retention", "orphans", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "1 stored file(s) that no row names and 0 unfinished write(s)" in dry.output
    assert "would be removed" in dry.output and store.exists(old)
    result = runner.invoke(args=["retention", "orphans"])
    assert result.exit_code == 0 and "removed." in result.output
    assert not store.exists(old)


def test_the_daily_job_is_scheduled_after_the_purge(app, store):
    from referrals.job_queue import EXTENSION
    from referrals.retention.jobs import remove_orphan_files_job

    old = orphan(store, b"bytes of a third synthetic failed upload\n", 2 * DAY)
    remove_orphan_files_job.enqueue()
    assert not store.exists(old)
    huey = app.extensions[EXTENSION].huey
    assert remove_orphan_files_job.name in {t.name for t in huey._registry.periodic_tasks}
    schedule = remove_orphan_files_job.schedule
    assert schedule(datetime(2026, 5, 1, 3, 55)) and not schedule(datetime(2026, 5, 1, 3, 40))
    assert sum(schedule(datetime(2026, 5, 1, h, m)) for h in range(24) for m in range(60)) == 1


def test_names_it_does_not_recognise_are_left_alone(store):
    stray = store.root / "zz" / "notes.txt"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text("an operator's note, not a blob")
    moment = time.time() - 10 * DAY
    os.utime(stray, (moment, moment))
    assert remove_orphans(datetime.now(UTC) + timedelta(days=1)).files == 0
    assert stray.exists()
