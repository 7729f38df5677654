"""The outbox: work that must happen because a change was stored.

``enqueue(job, *args, key=…)`` writes an ``OutboxEntry`` in the current transaction, so the
entry exists exactly when the change does (a rolled-back change leaves none). After the
commit the entry is handed to the job queue (``dispatch``). Nothing is lost if that hand-off
fails or the worker dies: ``sweep`` (every minute, and when a worker starts) hands over again
every entry that is still pending when it is due, and every entry whose worker stopped
showing signs of life for ``REFERRALS_OUTBOX_LEASE_SECONDS``.

Each entry runs at most once to completion. ``deliver`` claims the entry (state "running",
one more attempt) in a short transaction of its own, runs the job, and marks the entry "done"
in the same transaction as the job's last writes, only if the entry is still its own claim.
A second delivery of the same entry (the sweep, a duplicate in the queue) finds it done, or
running under a live lease, and does nothing. ``key`` is the idempotency key: enqueuing a key
that already has an entry returns that entry instead of adding another.

A job that fails is tried again later with an exponential backoff, up to
``REFERRALS_OUTBOX_MAX_ATTEMPTS`` attempts, then left "failed" with its last error. A job may
commit on its own between steps (long work that shows progress): the lease is renewed by
``touch`` (``referrals.core.progress`` does it on every progress update), so reporting
progress is the heartbeat of long work. Before an effect that must not happen twice, a job
calls ``hold_claim``: if it outlived its lease and another delivery took over, it stops there.
"""

from __future__ import annotations

import logging
import uuid
from contextvars import ContextVar
from datetime import datetime, timedelta

from flask import current_app
from huey import crontab
from sqlalchemy import JSON, Index, Integer, String, Text, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from referrals.core.clock import as_utc, now
from referrals.job_queue import Job
from referrals.core.transaction import commit, on_commit, rollback
from referrals.core.types import UTCDateTime
from referrals.extensions import db, jobs

log = logging.getLogger(__name__)

STATES = ("pending", "running", "done", "failed")
# An entry not yet run this long after it was written is handed to the queue again (the
# hand-off after commit is presumed lost).
DISPATCH_GRACE = timedelta(seconds=60)
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)

_current_entry: ContextVar[int | None] = ContextVar("referrals_outbox_entry", default=None)
# The attempt (entry.attempts) this delivery claimed: a later claim by another delivery
# (the lease had expired) is a different attempt.
_current_attempt: ContextVar[int | None] = ContextVar("referrals_outbox_attempt", default=None)


class OutboxEntry(db.Model):
    """One job owed to a committed change: which job, its arguments, and how it went."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    job: Mapped[str] = mapped_column(String(200))
    arguments: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending: when the sweep hands it over (again); running: unused.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")


class Superseded(Exception):
    """The entry is no longer this delivery's claim (done by another, or its lease expired)."""


def enqueue(job: Job, *args, key: str | None = None, not_before: datetime | None = None,
            **kwargs) -> OutboxEntry:
    """Owe ``job(*args, **kwargs)`` to the current transaction's change. Arguments must be JSON
    values. With ``not_before``, the sweep hands it over once that time has come."""
    key = key or f"{job.name}:{uuid.uuid4().hex}"
    existing = db.session.scalar(select(OutboxEntry).where(OutboxEntry.key == key))
    if existing is not None:
        return existing
    at = now()
    entry = OutboxEntry(key=key, job=job.name, arguments={"args": list(args), "kwargs": kwargs},
                        state="pending", attempts=0, created_at=at, last_error="",
                        next_attempt_at=not_before or at + DISPATCH_GRACE)
    db.session.add(entry)
    db.session.flush()
    if not_before is None or not_before <= at:
        on_commit(dispatch, entry.id)
    return entry


def dispatch(entry_id: int) -> None:
    """Hand an entry to the job queue (after commit; a failure is repaired by the sweep)."""
    deliver.enqueue(entry_id)


def current_entry_id() -> int | None:
    """The outbox entry whose job is running in this context, if any."""
    return _current_entry.get()


def _this_claim():
    entry_id, attempt = _current_entry.get(), _current_attempt.get()
    claim = update(OutboxEntry).where(OutboxEntry.id == entry_id,
                                      OutboxEntry.state == "running")
    if attempt is not None:
        claim = claim.where(OutboxEntry.attempts == attempt)
    return claim.values(heartbeat_at=now()).execution_options(synchronize_session=False)


def touch() -> None:
    """Renew the running entry's lease (call it in a transaction that is about to commit).
    A delivery that lost its claim renews nothing: the lease is the new claimant's."""
    if _current_entry.get() is not None:
        db.session.execute(_this_claim())


def hold_claim() -> None:
    """Before an effect that must happen once (a file renamed into place): renew the lease
    in the current transaction and raise ``Superseded`` if another delivery has taken the
    entry over meanwhile (this one outlived its lease). The update keeps the entry's row
    locked until the commit (the database, on SQLite), so the sweep cannot take the entry
    between this check and the commit that marks it done."""
    if _current_entry.get() is not None and db.session.execute(_this_claim()).rowcount != 1:
        raise Superseded(f"outbox entry {_current_entry.get()} was taken over by another "
                         "delivery")


def _settings():
    return current_app.config["REFERRALS_SETTINGS"]


def _lease() -> timedelta:
    return timedelta(seconds=_settings().outbox_lease_seconds)


@jobs.task()
def deliver(entry_id: int) -> str:
    """Run an outbox entry's job, at most once to completion. Returns what happened."""
    entry = db.session.scalar(
        select(OutboxEntry).where(OutboxEntry.id == entry_id).with_for_update()
        .execution_options(populate_existing=True))
    at = now()
    if entry is None or entry.state in ("done", "failed"):
        return "nothing to do"
    if entry.state == "running" and as_utc(entry.heartbeat_at) > at - _lease():
        return "running elsewhere"
    job = jobs.named(entry.job)
    if job is None:
        entry.state, entry.finished_at = "failed", at
        entry.last_error = f"No job is declared as {entry.job!r}."
        log.error("outbox entry %s names an unknown job %r", entry_id, entry.job)
        commit()
        return "failed"
    entry.state, entry.started_at, entry.heartbeat_at = "running", at, at
    entry.attempts += 1
    attempt, arguments = entry.attempts, entry.arguments or {}
    commit()
    token = _current_entry.set(entry_id)
    attempt_token = _current_attempt.set(attempt)
    try:
        job.fn(*arguments.get("args", []), **arguments.get("kwargs", {}))
        finished = db.session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id == entry_id, OutboxEntry.state == "running",
                   OutboxEntry.attempts == attempt)
            .values(state="done", finished_at=now(), last_error="")
            .execution_options(synchronize_session=False)).rowcount
        if finished != 1:
            raise Superseded(f"outbox entry {entry_id} was taken over before attempt {attempt} "
                             "finished")
        commit()
        return "done"
    except Superseded:
        rollback()
        log.warning("outbox entry %s: attempt %s was superseded; its work is dropped",
                    entry_id, attempt)
        return "superseded"
    except Exception as error:  # noqa: BLE001 (recorded on the entry, tried again later)
        rollback()
        log.exception("outbox entry %s (%s) failed on attempt %s", entry_id, job.name, attempt)
        _record_failure(entry_id, attempt, error)
        commit()
        return "failed"
    finally:
        _current_entry.reset(token)
        _current_attempt.reset(attempt_token)


def _record_failure(entry_id: int, attempt: int, error: Exception) -> None:
    at = now()
    given_up = attempt >= _settings().outbox_max_attempts
    delay = min(RETRY_BASE * 2 ** (attempt - 1), RETRY_CAP)
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    db.session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.id == entry_id, OutboxEntry.state == "running",
               OutboxEntry.attempts == attempt)
        .values(state="failed" if given_up else "pending", next_attempt_at=at + delay,
                finished_at=at if given_up else None,
                last_error=f"{type(error).__name__}: {message}"[:2000])
        .execution_options(synchronize_session=False))


def sweep() -> list[int]:
    """Hand over again what is owed and not running: pending entries that are due, and running
    entries whose lease has expired (their worker died). Returns the ids handed over."""
    at = now()
    lease = _lease()
    db.session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.state == "running", OutboxEntry.heartbeat_at < at - lease)
        .values(state="pending", next_attempt_at=at,
                last_error="The worker stopped while running it; tried again.")
        .execution_options(synchronize_session=False))
    due = list(db.session.scalars(
        select(OutboxEntry.id).where(OutboxEntry.state == "pending",
                                     OutboxEntry.next_attempt_at <= at)
        .order_by(OutboxEntry.id)))
    if due:
        # Not handed over again before the lease: a queue that is only slow is not flooded.
        db.session.execute(update(OutboxEntry).where(OutboxEntry.id.in_(due))
                           .values(next_attempt_at=at + lease)
                           .execution_options(synchronize_session=False))
    commit()
    for entry_id in due:
        try:
            dispatch(entry_id)
        except Exception:  # noqa: BLE001 (the next sweep tries again)
            log.exception("could not hand outbox entry %s to the job queue", entry_id)
    return due


def counts() -> dict[str, int]:
    """How many entries are in each state."""
    rows = db.session.execute(select(OutboxEntry.state, func.count(OutboxEntry.id))
                              .group_by(OutboxEntry.state))
    return {state: count for state, count in rows}


def troubled(limit: int = 50) -> list[OutboxEntry]:
    """Entries that failed for good, or failed at least once and wait to be tried again."""
    return list(db.session.scalars(
        select(OutboxEntry).where(OutboxEntry.state.in_(("failed", "pending")),
                                  OutboxEntry.last_error != "")
        .order_by(OutboxEntry.id.desc()).limit(limit)))


@jobs.periodic_task(crontab())
def sweep_outbox() -> int:
    """Every minute: re-dispatch what was lost between commit and queue, or with a worker."""
    return len(sweep())


@jobs.on_worker_start
def sweep_when_a_worker_starts() -> None:
    """A worker that starts (again) picks up what the one before it left."""
    sweep()
