"""Background jobs on Huey: SQLite storage by default, Redis when REDIS_URL is set.

Tasks are declared at import time with ``@jobs.task()`` but bound to a Huey
instance per application in ``init_app``, because which storage to use is a
setting. Each job runs inside that application's context as one unit of work:
it commits once at the end, or rolls back on error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ContextManager

from flask import Flask, current_app, has_app_context
from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.api import Huey

EXTENSION = "referrals_jobs"


class Job:
    """A declared task. ``enqueue`` hands it to the current app's queue."""

    def __init__(self, fn: Callable, options: dict, schedule: Callable | None = None,
                 schedule_from_settings: bool = False, startup: bool = False,
                 lease: timedelta | None = None):
        self.fn = fn
        # A periodic job holds a lease this long at most while it runs (see ``BoundQueue``).
        self.lease = lease
        # Run by each worker as it starts (huey's on_startup), not queued.
        self.startup = startup
        self.name = f"{fn.__module__}.{fn.__qualname__}"
        self.options = options
        # For a periodic job: huey's ``validate_datetime`` (e.g. ``crontab(minute="5")``), or,
        # with ``schedule_from_settings``, a function of the settings that returns one.
        self.schedule = schedule
        self.schedule_from_settings = schedule_from_settings
        functools.update_wrapper(self, fn)

    def schedule_for(self, settings: Any) -> Callable | None:
        if self.schedule is not None and self.schedule_from_settings:
            return self.schedule(settings)
        return self.schedule

    def enqueue(self, *args: Any, **kwargs: Any):
        """Queue the job now. Work owed to a change goes through ``referrals.core.outbox.enqueue``
        instead, so it is neither run for a rolled-back change nor lost after a commit."""
        return current_app.extensions[EXTENSION].tasks[self.name](*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any):
        """Run in this process, in the current application context."""
        return self.fn(*args, **kwargs)


# ``periodic_guard(name, schedule, lease)`` -> a context manager that yields whether this
# worker may run job ``name`` for the time ``schedule`` was last due (``core.leases``).
PeriodicGuard = Callable[[str, Callable, "timedelta | None"], ContextManager[bool]]


class BoundQueue:
    def __init__(self, app: Flask, huey: Huey, unit_of_work: Callable[[], ContextManager],
                 periodic_guard: PeriodicGuard | None = None):
        self.app = app
        self.huey = huey
        self.unit_of_work = unit_of_work
        self.periodic_guard = periodic_guard
        self.tasks: dict[str, Any] = {}

    def in_app(self, fn: Callable) -> Callable:
        """``fn`` run in this application's context as one unit of work."""
        app = self.app
        unit_of_work = self.unit_of_work

        def run(*args: Any, **kwargs: Any):
            if has_app_context() and current_app._get_current_object() is app:
                with unit_of_work():
                    return fn(*args, **kwargs)
            with app.app_context(), unit_of_work():
                return fn(*args, **kwargs)

        run.__name__ = fn.__name__
        run.__module__ = fn.__module__
        return run

    def once_per_due_time(self, job: Job, schedule: Callable, run: Callable) -> Callable:
        """``run`` for a periodic job: every worker's scheduler enqueues it when it is due, and
        only the worker that takes the lease for that due time runs it; the others return
        ``None`` at once."""
        app = self.app
        guard = self.periodic_guard
        if guard is None:
            return run

        def run_once(*args: Any, **kwargs: Any):
            with app.app_context(), guard(job.name, schedule, job.lease) as mine:
                return run(*args, **kwargs) if mine else None

        run_once.__name__ = run.__name__
        run_once.__module__ = run.__module__
        return run_once

    def bind(self, job: Job) -> None:
        app = self.app
        run = self.in_app(job.fn)
        if job.startup:
            self.huey.on_startup(name=job.name)(run)
            return
        schedule = job.schedule_for(app.config["REFERRALS_SETTINGS"])
        if schedule is not None:
            # The consumer enqueues it when the schedule says so (unless started with -n).
            declare = self.huey.periodic_task(schedule, name=job.name, **job.options)
            run = self.once_per_due_time(job, schedule, run)
        else:
            declare = self.huey.task(name=job.name, **job.options)
        self.tasks[job.name] = declare(run)


class JobQueue:
    def __init__(self) -> None:
        self._jobs: list[Job] = []

    def task(self, **options: Any) -> Callable[[Callable], Job]:
        def decorate(fn: Callable) -> Job:
            job = Job(fn, options)
            self._jobs.append(job)
            return job

        return decorate

    def periodic_task(self, schedule: Callable, *, from_settings: bool = False,
                      lease: timedelta | None = None, **options: Any) -> Callable[[Callable], Job]:
        """A job the worker runs on a schedule, e.g. ``@jobs.periodic_task(crontab(minute="5"))``.
        Schedules are read in UTC (huey's default). With ``from_settings=True``, ``schedule``
        takes the application's settings and returns the schedule (an interval that is a
        setting). ``lease``: the longest the job may run before another worker may take over
        (default ``core.leases.DEFAULT_TTL``); with several workers, each due time runs once."""

        def decorate(fn: Callable) -> Job:
            job = Job(fn, options, schedule, from_settings, lease=lease)
            self._jobs.append(job)
            return job

        return decorate

    def on_worker_start(self, fn: Callable) -> Job:
        """Run ``fn`` (in the app, as one unit of work) whenever a worker starts."""
        job = Job(fn, {}, startup=True)
        self._jobs.append(job)
        return job

    def named(self, name: str) -> Job | None:
        """The declared job called ``name`` (``module.function``), if any."""
        return next((job for job in self._jobs if job.name == name and not job.startup), None)

    def init_app(self, app: Flask, unit_of_work: Callable[[], ContextManager],
                 periodic_guard: PeriodicGuard | None = None) -> None:
        """Bind every declared job to this app's queue; each runs in ``unit_of_work()``
        (``referrals.core.transaction.unit_of_work``, passed in: that module needs the
        extensions, which need this one), and periodic jobs run only when ``periodic_guard``
        lets them (``core.leases.periodic_guard``: once per due time across workers)."""
        settings = app.config["REFERRALS_SETTINGS"]
        if settings.jobs_immediate:
            huey: Huey = MemoryHuey("referrals", immediate=True)
        elif settings.redis_url:
            huey = RedisHuey("referrals", url=settings.redis_url)
        else:
            settings.instance_path.mkdir(parents=True, exist_ok=True)
            huey = SqliteHuey("referrals", filename=str(settings.instance_path / "jobs.db"))
        bound = BoundQueue(app, huey, unit_of_work, periodic_guard)
        for job in self._jobs:
            bound.bind(job)
        app.extensions[EXTENSION] = bound

    @staticmethod
    def huey_for(app: Flask) -> Huey:
        return app.extensions[EXTENSION].huey
