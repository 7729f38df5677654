"""A real worker process killed after a committed change and before its job finished: the job
runs after the restart, once (huey's SQLite storage, shared by the app and the worker)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.audit.services import record_event, verify_chain
from referrals.core import outbox
from referrals.audit.heartbeat import record_heartbeat
from referrals.core.identity import system_identity
from referrals.core.outbox import OutboxEntry, deliver
from referrals.core.transaction import unit_of_work
from referrals.extensions import db, jobs
from tests.core.gated_jobs import gated_heartbeat
from tests.servers import stop as _stop
from tests.separate_databases import ROOT, app_for, cli_environ, separate_database

LEASE_SECONDS = 2


# Each read ends its transaction: on SQLite an open one holds the write lock (BEGIN
# IMMEDIATE), and the worker could not write a thing.


def _notes(note: str) -> int:
    count = len([e for e in db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "jobs.heartbeat")) if json.loads(e.after) == {"note": note}])
    db.session.rollback()
    return count


def _entry(entry_id: int) -> tuple[str, int]:
    entry = db.session.get(OutboxEntry, entry_id, populate_existing=True)
    state = (entry.state, entry.attempts)
    db.session.rollback()
    return state


def _wait(condition, what: str, logs: list[Path], timeout: float = 40):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; worker logs:\n"
                + "\n".join(log.read_text() for log in logs if log.exists()))


def test_a_killed_worker_leaves_nothing_undone_and_nothing_done_twice(app, settings, tmp_path):
    consumer = Path(sys.executable).parent / "huey_consumer"
    assert consumer.exists(), f"{consumer} is missing: install the project with `make install`"
    instance = tmp_path / "instance"  # the app and the worker share huey's jobs.db in it
    gate = tmp_path / "gate"
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    workers: list[subprocess.Popen] = []
    with separate_database(settings, tmp_path, "outbox") as url:
        from flask_migrate import upgrade

        sender = app_for(settings, url, jobs_immediate=False, instance_path=instance,
                         outbox_lease_seconds=LEASE_SECONDS)
        with sender.app_context():
            upgrade()
            assert type(jobs.huey_for(sender)).__name__ == "SqliteHuey"
            db.session.remove()
        environ = cli_environ(settings, url, REFERRALS_JOBS_IMMEDIATE="0",
                              REFERRALS_INSTANCE_PATH=str(instance),
                              REFERRALS_OUTBOX_LEASE_SECONDS=str(LEASE_SECONDS))

        def start_worker(log: Path) -> subprocess.Popen:
            worker = subprocess.Popen(
                [str(consumer), "tests.core.gated_worker.huey", "--workers", "1",
                 "--delay", "0.1", "--no-periodic"],
                cwd=ROOT, env=environ, stdout=log.open("w"), stderr=subprocess.STDOUT)
            workers.append(worker)
            return worker

        try:
            first = start_worker(logs[0])
            gated_note, queued_note = (f"gated-{uuid.uuid4().hex}", f"queued-{uuid.uuid4().hex}")
            with sender.app_context():
                with unit_of_work():  # a change, and the job it owes
                    record_event(system_identity("test:change"), "test.change",
                                 after={"note": gated_note})
                    gated_id = outbox.enqueue(gated_heartbeat, gated_note, str(gate)).id

                # The worker took the job and is in the middle of it: kill it there.
                _wait(lambda: Path(f"{gate}.started").exists(), "the job to start", logs)
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=10)
                assert _entry(gated_id) == ("running", 1)
                assert _notes(gated_note) == 0  # its work was never committed

                # Another change commits while no worker runs at all.
                with unit_of_work():
                    queued_id = outbox.enqueue(record_heartbeat, queued_note).id

                gate.touch()
                time.sleep(LEASE_SECONDS + 0.5)  # the dead worker's lease runs out
                start_worker(logs[1])  # it sweeps as it starts
                _wait(lambda: _entry(gated_id)[0] == "done", "the gated job to finish", logs)
                _wait(lambda: _entry(queued_id)[0] == "done", "the queued job to finish", logs)

                assert _notes(gated_note) == 1
                assert _notes(queued_note) == 1
                assert _entry(gated_id) == ("done", 2)
                assert _entry(queued_id) == ("done", 1)

                # A second delivery of the same entry does nothing.
                result = deliver.enqueue(gated_id)
                assert result.get(blocking=True, timeout=30) == "nothing to do"
                assert _notes(gated_note) == 1
                report = verify_chain()
                assert report.ok, report.reason
                db.session.remove()
                db.engine.dispose()
        finally:
            for worker in workers:
                _stop(worker)
