"""Periodic sweeps run once per due time and never twice at once, whichever worker asks."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from flask_migrate import upgrade
from huey import MemoryHuey, crontab

from referrals.core import leases
from referrals.core.leases import Lease, acquire, exclusive, last_due, periodic_run, release
from referrals.core.transaction import unit_of_work
from referrals.extensions import db
from referrals.holds.reminders import sweep_holds
from referrals.job_queue import BoundQueue, Job
from referrals.retention.jobs import purge_retention_job, remove_orphan_files_job
from tests.separate_databases import app_for, separate_database

MOMENT = datetime(2026, 3, 3, 10, 37, 12, tzinfo=UTC)


def test_last_due_is_the_latest_minute_the_schedule_matched():
    hourly = crontab(minute="5")
    assert last_due(hourly, datetime(2026, 3, 3, 10, 37, 12)) == datetime(2026, 3, 3, 10, 5)
    assert last_due(hourly, datetime(2026, 3, 3, 10, 5, 59)) == datetime(2026, 3, 3, 10, 5)
    assert last_due(hourly, datetime(2026, 3, 3, 10, 4)) == datetime(2026, 3, 3, 9, 5)
    assert last_due(crontab(), datetime(2026, 3, 3, 10, 37, 12)) == datetime(2026, 3, 3, 10, 37)
    assert last_due(lambda moment: False, datetime(2026, 3, 3)) is None


def test_a_period_is_taken_once(app, frozen):
    frozen(MOMENT)
    with app.app_context():
        assert acquire("sweep-a", "worker-1", period="2026-03-03T10:05")
        assert not acquire("sweep-a", "worker-2", period="2026-03-03T10:05"), "held"
        release("sweep-a", "worker-1")
        assert not acquire("sweep-a", "worker-2", period="2026-03-03T10:05"), "already ran"
        assert acquire("sweep-a", "worker-2", period="2026-03-03T11:05"), "the next period"
        row = db.session.get(Lease, "sweep-a")
        assert (row.holder, row.last_period) == ("worker-2", "2026-03-03T11:05")


def test_a_crashed_holders_lease_expires(app, frozen):
    frozen(MOMENT)
    with app.app_context():
        assert acquire("sweep-b", "crashed", ttl=timedelta(minutes=10))
        frozen(MOMENT + timedelta(minutes=9))
        assert not acquire("sweep-b", "worker-2", ttl=timedelta(minutes=10))
        frozen(MOMENT + timedelta(minutes=11))
        assert acquire("sweep-b", "worker-2", ttl=timedelta(minutes=10))
        release("sweep-b", "crashed")  # the late holder cannot release another's lease
        assert db.session.get(Lease, "sweep-b").holder == "worker-2"


def test_exclusive_releases_after_the_block_even_on_error(app, frozen):
    frozen(MOMENT)
    with app.app_context():
        try:
            with exclusive("sweep-c") as mine:
                assert mine
                with exclusive("sweep-c") as other:
                    assert not other
                raise RuntimeError("the sweep failed")
        except RuntimeError:
            pass
        with exclusive("sweep-c") as again:
            assert again


def test_a_periodic_job_enqueued_by_two_schedulers_runs_once_per_due_time(app, frozen):
    """What every worker's scheduler does when the job is due: enqueue it. Without the
    guard the job ran once per worker."""
    runs: list[datetime] = []
    job = Job(lambda: runs.append(leases.now()), {}, schedule=crontab(minute="5"))
    job.name = "tests.sweep_once"
    bound = BoundQueue(app, MemoryHuey("t", immediate=True), unit_of_work,
                       leases.periodic_guard)
    bound.bind(job)
    task = bound.tasks[job.name]
    frozen(datetime(2026, 3, 3, 10, 5, 1, tzinfo=UTC))
    task()  # worker 1's scheduler
    frozen(datetime(2026, 3, 3, 10, 6, 30, tzinfo=UTC))
    task()  # worker 2's, a little later: still the 10:05 run
    assert len(runs) == 1
    frozen(datetime(2026, 3, 3, 11, 5, 2, tzinfo=UTC))
    task()
    assert len(runs) == 2


def test_workers_racing_for_one_due_time_run_it_once(settings, tmp_path):
    """Four workers, each with its own connection, ask at the same moment."""
    with separate_database(settings, tmp_path, "leases") as url:
        other = app_for(settings, url)
        with other.app_context():
            upgrade()
        start = threading.Barrier(4)
        ran: list[str] = []
        errors: list[BaseException] = []

        def worker(number: int) -> None:
            try:
                with other.app_context():
                    start.wait(10)
                    with periodic_run("race", crontab(), moment=MOMENT) as mine:
                        if mine:
                            ran.append(f"worker-{number}")
                            threading.Event().wait(0.3)  # still running as the others ask
                    db.session.remove()
            except BaseException as error:  # noqa: BLE001 (reported below)
                errors.append(error)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert len(ran) == 1
        with other.app_context():
            row = db.session.get(Lease, "periodic:race")
            assert row.holder is None and row.last_period == "2026-03-03T10:37"
            db.session.remove()
            db.engine.dispose()


def test_a_sweep_run_by_hand_waits_for_the_workers_run(app):
    """``retention run``, ``retention orphans`` and ``holds sweep`` take the worker's lease:
    while a worker holds it they refuse, in words, and change nothing."""
    runner = app.test_cli_runner()
    for job, command, words in ((purge_retention_job, ["retention", "run"], "retention purge"),
                                (remove_orphan_files_job, ["retention", "orphans"], "orphan"),
                                (sweep_holds, ["holds", "sweep"], "hold sweep")):
        with app.app_context():
            assert acquire(leases.periodic_lease(job.name), "a-worker")
        result = runner.invoke(args=command)
        assert result.exit_code == 1, result.output
        assert words in result.output and "right now" in result.output
        with app.app_context():
            release(leases.periodic_lease(job.name), "a-worker")
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output
