"""The outbox: a job owed to a committed change is stored with it, run once, and never lost.

Jobs run at once in tests (huey in immediate mode): the hand-off after commit runs the
entry's job right there, which is what these tests watch. The crash of a real worker process
is in test_outbox_worker.py.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.core import outbox
from referrals.core.clock import now
from referrals.audit.heartbeat import record_heartbeat
from referrals.job_queue import Job
from referrals.core.outbox import OutboxEntry, deliver
from referrals.core.progress import report_progress, start_progress
from referrals.core.transaction import commit, rollback
from referrals.extensions import db, jobs
from tests.requests.fixtures import override_settings  # noqa: F401


def _notes(note: str) -> list[AuditEvent]:
    return [e for e in db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "jobs.heartbeat")) if json.loads(e.after) == {"note": note}]


def _entry(entry_id: int) -> OutboxEntry:
    db.session.expire_all()
    return db.session.get(OutboxEntry, entry_id)


def _note() -> str:
    return f"outbox-{uuid.uuid4().hex}"


def test_the_entry_is_written_with_the_change_and_run_after_the_commit(app):
    note = _note()
    entry = outbox.enqueue(record_heartbeat, note)
    assert (entry.state, entry.job) == ("pending", record_heartbeat.name)
    assert _notes(note) == []  # nothing runs before the commit
    commit()
    entry = _entry(entry.id)
    assert (entry.state, entry.attempts, entry.last_error) == ("done", 1, "")
    assert entry.finished_at is not None
    assert len(_notes(note)) == 1


def test_a_rolled_back_change_owes_nothing(app):
    note = _note()
    key = f"test:{note}"
    outbox.enqueue(record_heartbeat, note, key=key)
    rollback()
    commit()
    assert db.session.scalar(select(OutboxEntry).where(OutboxEntry.key == key)) is None
    assert _notes(note) == []


def test_a_second_delivery_of_the_same_entry_does_nothing(app):
    note = _note()
    entry = outbox.enqueue(record_heartbeat, note)
    commit()
    assert _entry(entry.id).state == "done"
    assert deliver(entry.id) == "nothing to do"  # run here, as a duplicate in the queue would
    deliver.enqueue(entry.id)  # and through the queue
    assert len(_notes(note)) == 1
    assert _entry(entry.id).attempts == 1


def test_the_same_key_is_owed_once(app):
    note = _note()
    first = outbox.enqueue(record_heartbeat, note, key=f"once:{note}")
    second = outbox.enqueue(record_heartbeat, note, key=f"once:{note}")
    assert first.id == second.id
    commit()
    again = outbox.enqueue(record_heartbeat, note, key=f"once:{note}")  # done already
    commit()
    assert again.id == first.id and len(_notes(note)) == 1


def test_an_enqueue_that_fails_after_the_commit_is_recovered_by_the_sweep(app, monkeypatch,
                                                                          frozen, caplog):
    huey = jobs.huey_for(app)

    def queue_down(task):
        raise ConnectionError("the queue is down (synthetic)")

    start = frozen(now())
    note = _note()
    monkeypatch.setattr(huey, "enqueue", queue_down)
    entry = outbox.enqueue(record_heartbeat, note)
    commit()  # the change is stored; the hand-off fails and is only logged
    assert "after-commit action" in caplog.text
    assert _entry(entry.id).state == "pending" and _notes(note) == []
    monkeypatch.undo()

    assert outbox.sweep() == []  # not yet: the hand-off may still be on its way
    frozen(start + outbox.DISPATCH_GRACE + timedelta(seconds=1))
    assert entry.id in outbox.sweep()
    assert _entry(entry.id).state == "done"
    assert len(_notes(note)) == 1
    assert entry.id not in outbox.sweep()  # done is done
    assert len(_notes(note)) == 1


def test_a_running_entry_under_a_live_lease_is_left_alone_and_taken_over_when_it_expires(
        app, frozen):
    start = frozen(now())
    note = _note()
    entry = outbox.enqueue(record_heartbeat, note, not_before=start + timedelta(hours=1))
    commit()  # owed later: not handed over now
    entry = _entry(entry.id)
    assert entry.state == "pending" and _notes(note) == []
    # A worker claimed it and died before finishing (its work was never committed).
    entry.state, entry.attempts, entry.started_at, entry.heartbeat_at = "running", 1, start, start
    commit()
    assert deliver(entry.id) == "running elsewhere"
    assert outbox.sweep() == []
    lease = app.config["REFERRALS_SETTINGS"].outbox_lease_seconds
    frozen(start + timedelta(seconds=lease + 1))
    assert outbox.sweep() == [entry.id]
    entry = _entry(entry.id)
    assert (entry.state, entry.attempts) == ("done", 2)
    assert len(_notes(note)) == 1


def test_work_of_a_delivery_that_lost_its_claim_is_dropped(app, monkeypatch):
    """The lease expired and another delivery took the entry over: the late one's work rolls
    back instead of completing a second time."""
    note = _note()
    entry = outbox.enqueue(record_heartbeat, note, not_before=now() + timedelta(hours=1))
    commit()
    entry_id = entry.id
    original = record_heartbeat.fn

    def overtaken(note_arg: str) -> str:
        original(note_arg)
        db.session.execute(  # meanwhile, another delivery claimed it (a new attempt)
            OutboxEntry.__table__.update().where(OutboxEntry.id == entry_id)
            .values(attempts=OutboxEntry.attempts + 1))
        return note_arg

    monkeypatch.setattr(record_heartbeat, "fn", overtaken)
    assert deliver(entry_id) == "superseded"
    assert _notes(note) == []


def test_a_failing_job_is_tried_again_later_and_then_given_up(app, frozen, override_max_attempts):
    calls = []

    def flaky(n: int) -> None:
        calls.append(n)
        raise RuntimeError("the mail server said no (synthetic)")

    job = Job(flaky, {})
    job.name = f"tests.core.test_outbox.flaky_{uuid.uuid4().hex[:6]}"
    jobs._jobs.append(job)
    try:
        start = frozen(now())
        entry = outbox.enqueue(job, 7)
        commit()
        entry = _entry(entry.id)
        assert (entry.state, entry.attempts) == ("pending", 1)
        assert entry.last_error == "RuntimeError: the mail server said no (synthetic)"
        assert entry.next_attempt_at == start + outbox.RETRY_BASE
        frozen(start + outbox.RETRY_BASE)
        outbox.sweep()
        entry = _entry(entry.id)
        assert (entry.state, entry.attempts) == ("failed", 2) and entry.finished_at
        frozen(start + timedelta(days=1))
        assert outbox.sweep() == []
        assert calls == [7, 7]
    finally:
        jobs._jobs.remove(job)


@pytest.fixture
def override_max_attempts(override_settings):
    override_settings(outbox_max_attempts=2)


def test_an_entry_naming_no_job_fails_plainly(app):
    entry = OutboxEntry(key=f"test:{uuid.uuid4().hex}", job="referrals.nowhere.gone",
                        arguments={}, state="pending", attempts=0, created_at=now(),
                        next_attempt_at=now(), last_error="")
    db.session.add(entry)
    commit()
    assert deliver(entry.id) == "failed"
    assert "No job is declared as 'referrals.nowhere.gone'" in _entry(entry.id).last_error


def test_progress_renews_the_running_jobs_lease(app, frozen):
    start = frozen(now())
    progress = start_progress("test.progress", "test", "1", total=3)
    entry = outbox.enqueue(record_heartbeat, _note(), not_before=start + timedelta(hours=1))
    commit()
    entry.state, entry.heartbeat_at = "running", start
    commit()
    later = frozen(start + timedelta(minutes=5))
    token = outbox._current_entry.set(entry.id)
    try:
        report_progress(progress.id, state="running", done=1, message="One of three.")
    finally:
        outbox._current_entry.reset(token)
    entry = _entry(entry.id)
    assert entry.heartbeat_at == later
    assert (progress.state, progress.done, progress.total) == ("running", 1, 3)
