"""Leases: one holder at a time for a named piece of work, across every worker and machine.

A periodic sweep (holds, retention, orphan files, checkpoints, the outbox) is scheduled by
every worker's scheduler: with two workers on one queue, each enqueues it. ``periodic_run``
lets exactly one of them run it for each time it was due, and never two at once:

- the lease is a row in ``leases`` (the shared database, so it holds across machines);
- it is taken with one conditional ``UPDATE`` in a short transaction of its own, committed at
  once (before the sweep's unit of work begins), so other workers see it while the sweep runs;
- it names the period it was taken for (the last minute the schedule was due); a second
  worker asking for the same period finds it already taken, runs nothing, and says so;
- it expires: a holder that crashed (or was killed) keeps it only until ``expires_at``, after
  which the next period's run takes it over. A sweep that outlives its lease can be joined
  by the next one, so ``ttl`` is set well above how long the sweep takes.

``exclusive`` is the same without the period: for a command run by hand (``retention run``)
that must not overlap the worker's run.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta

from sqlalchemy import String, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from referrals.core.clock import now
from referrals.core.transaction import commit, rollback
from referrals.core.types import UTCDateTime
from referrals.extensions import db

log = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(minutes=30)
# How far back ``last_due`` looks for the minute a schedule was last due (a week covers any
# hourly, daily or weekly schedule in the product).
LOOKBACK_MINUTES = 7 * 24 * 60


class Lease(db.Model):
    """Who holds a named piece of work, until when, and which period it last ran for."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_period: Mapped[str | None] = mapped_column(String(32))
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def holder_name() -> str:
    """This process on this machine, and a random part so that two holders never share one."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def last_due(schedule: Callable[[datetime], bool], moment: datetime) -> datetime | None:
    """The latest whole minute at or before ``moment`` (naive UTC, as huey passes it) at which
    ``schedule`` (huey's ``validate_datetime``, e.g. a ``crontab``) was due."""
    minute = moment.replace(second=0, microsecond=0, tzinfo=None)
    for _ in range(LOOKBACK_MINUTES):
        if schedule(minute):
            return minute
        minute -= timedelta(minutes=1)
    return None


def _ensure_row(name: str) -> None:
    if db.session.execute(select(Lease.name).where(Lease.name == name)).first() is None:
        try:
            with db.session.begin_nested():
                db.session.execute(insert(Lease).values(name=name))
        except IntegrityError:
            pass  # another worker added it in between: the same row


def acquire(name: str, holder: str, ttl: timedelta = DEFAULT_TTL,
            period: str | None = None) -> bool:
    """Take the lease ``name`` for ``holder`` if nobody holds it (or the holder's time ran
    out) and, with ``period``, if that period has not been taken already. A short
    transaction of its own, committed at once: call it outside any unit of work."""
    moment = now()
    _ensure_row(name)
    free = (Lease.holder.is_(None)) | (Lease.expires_at < moment)
    condition = (Lease.name == name) & free
    if period is not None:
        condition &= (Lease.last_period.is_(None)) | (Lease.last_period != period)
    values = {"holder": holder, "expires_at": moment + ttl, "last_started_at": moment}
    if period is not None:
        values["last_period"] = period
    taken = db.session.execute(update(Lease).where(condition).values(**values)
                               .execution_options(synchronize_session=False)).rowcount
    commit()
    return taken == 1


def release(name: str, holder: str) -> None:
    """Give the lease back (only if ``holder`` still holds it), in a transaction of its own."""
    rollback()  # whatever the job left unfinished is not ours to commit
    db.session.execute(update(Lease).where(Lease.name == name, Lease.holder == holder)
                       .values(holder=None, expires_at=None, last_finished_at=now())
                       .execution_options(synchronize_session=False))
    commit()


@contextmanager
def exclusive(name: str, ttl: timedelta = DEFAULT_TTL, period: str | None = None) -> Iterator[bool]:
    """``with exclusive(name) as mine:`` -- ``mine`` says whether this process holds the lease
    for the block; it is released after the block either way."""
    holder = holder_name()
    mine = acquire(name, holder, ttl, period)
    try:
        yield mine
    finally:
        if mine:
            release(name, holder)


def periodic_lease(name: str) -> str:
    """The lease a periodic job ``name`` runs under (a command that does the same work by hand
    takes it too, so that the two never overlap)."""
    return f"periodic:{name}"


@contextmanager
def periodic_run(name: str, schedule: Callable[[datetime], bool],
                 ttl: timedelta = DEFAULT_TTL, moment: datetime | None = None) -> Iterator[bool]:
    """The lease for the run of periodic job ``name`` due at the schedule's last due minute:
    only the first worker to ask for that minute gets it."""
    due = last_due(schedule, (moment or now()).replace(tzinfo=None))
    period = due.strftime("%Y-%m-%dT%H:%M") if due else None
    with exclusive(periodic_lease(name), ttl, period) as mine:
        if not mine:
            log.info("periodic job %s (due %s) is run by another worker; skipped", name, period)
        yield mine


def periodic_guard(name: str, schedule: Callable[[datetime], bool],
                   lease: timedelta | None) -> AbstractContextManager[bool]:
    """What the job queue asks before a worker runs a periodic job (``JobQueue.init_app``)."""
    return periodic_run(name, schedule, lease or DEFAULT_TTL)
