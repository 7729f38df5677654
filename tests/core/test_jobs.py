"""Background jobs: in-process in tests, and on a real Redis with a real worker process."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.audit.services import verify_chain
from referrals.audit.heartbeat import record_heartbeat
from referrals.job_queue import EXTENSION
from referrals.extensions import db, jobs
from tests.separate_databases import ROOT, app_for, cli_environ, separate_database
from tests.servers import private_redis, stop


def _heartbeats() -> list[AuditEvent]:
    return list(db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "jobs.heartbeat").order_by(AuditEvent.seq)
    ).all())


def _with_note(events: list[AuditEvent], note: str) -> list[AuditEvent]:
    return [event for event in events if json.loads(event.after) == {"note": note}]


# --- immediate mode: the test settings run a job at once, in this process ------------


def test_immediate_mode_runs_an_enqueued_job_in_the_app(app):
    assert app.config["REFERRALS_SETTINGS"].jobs_immediate
    note = f"immediate-{uuid.uuid4().hex}"
    result = record_heartbeat.enqueue(note)
    assert result.get() == note
    events = _with_note(_heartbeats(), note)
    assert len(events) == 1
    event = events[0]
    assert (event.actor_kind, event.actor_label) == ("system", "job:heartbeat")
    assert verify_chain().ok


def test_every_declared_job_is_bound_to_the_app(app):
    bound = app.extensions[EXTENSION].tasks
    assert record_heartbeat.name == "referrals.audit.heartbeat.record_heartbeat"
    # (tests declare jobs of their own, for a worker process started from tests.core.gated_worker)
    ours = {name for name in bound if not name.startswith("tests.")}
    assert ours == {job.name for job in jobs._jobs
                    if not job.startup and not job.name.startswith("tests.")}
    assert record_heartbeat.name in bound
    # What a worker does when it starts is a hook of its huey, not a queued task.
    startup = {job.name for job in jobs._jobs if job.startup}
    assert startup == {"referrals.core.outbox.sweep_when_a_worker_starts",
                       "referrals.packages.services.remove_partial_packages_at_start"}
    assert startup <= set(jobs.huey_for(app)._startup)


# --- a real Redis and a real worker process -------------------------------------------


@pytest.fixture
def redis_url(tmp_path):
    """A private redis-server on a free port, with nothing saved to disk."""
    with private_redis(tmp_path) as url:
        yield url


def test_worker_process_runs_a_job_queued_on_redis(app, settings, redis_url, tmp_path):
    consumer = Path(sys.executable).parent / "huey_consumer"
    assert consumer.exists(), f"{consumer} is missing: install the project with `make install`"
    worker = None
    worker_log_path = tmp_path / "worker.log"
    with separate_database(settings, tmp_path, "jobs") as url:
        from flask_migrate import upgrade

        sender = app_for(settings, url, redis_url=redis_url, jobs_immediate=False)
        with sender.app_context():
            upgrade()
            db.session.remove()
        environ = cli_environ(
            settings, url,
            REDIS_URL=redis_url,
            REFERRALS_JOBS_IMMEDIATE="0",
            REFERRALS_INSTANCE_PATH=str(tmp_path / "worker-instance"),
        )
        worker_log = worker_log_path.open("w")
        try:
            worker = subprocess.Popen(
                [str(consumer), "referrals.worker.huey", "--workers", "1", "--delay", "0.1"],
                cwd=ROOT, env=environ, stdout=worker_log, stderr=subprocess.STDOUT,
            )
            note = f"redis-worker-{uuid.uuid4().hex}"
            with sender.app_context():
                huey = jobs.huey_for(sender)
                assert type(huey).__name__ == "RedisHuey"
                result = record_heartbeat.enqueue(note)
                try:
                    returned = result.get(blocking=True, timeout=30)
                except Exception as error:  # say what the worker said
                    pytest.fail(f"the worker did not finish the job ({error!r}); "
                                f"worker exit code {worker.poll()}; log:\n"
                                + worker_log_path.read_text())
                assert returned == note
                assert worker.poll() is None, "the worker exited"

                db.session.expire_all()
                events = _with_note(_heartbeats(), note)
                assert len(events) == 1, "the worker did not store the heartbeat event"
                assert events[0].actor_label == "job:heartbeat"
                report = verify_chain()
                assert report.ok, report.reason
                db.session.remove()
                db.engine.dispose()
        finally:
            stop(worker)
            worker_log.close()
