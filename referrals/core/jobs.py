"""Background jobs on Huey: SQLite storage by default, Redis when REDIS_URL is set.

Tasks are declared at import time with ``@jobs.task()`` but bound to a Huey
instance only in ``init_app``, because which storage to use is a setting. Each
job runs inside an application context as one unit of work: it commits once at
the end, or rolls back on error.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, has_app_context
from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.api import Huey

log = logging.getLogger(__name__)


class JobNotBound(RuntimeError):
    pass


class Job:
    """A declared task. ``enqueue`` hands it to the queue (call it after commit)."""

    def __init__(self, queue: JobQueue, fn: Callable, options: dict):
        self.queue = queue
        self.fn = fn
        self.name = f"{fn.__module__}.{fn.__qualname__}"
        self.options = options
        self.bound = None
        functools.update_wrapper(self, fn)

    def enqueue(self, *args: Any, **kwargs: Any):
        if self.bound is None:
            raise JobNotBound(f"{self.name}: the job queue has not been initialised")
        return self.bound(*args, **kwargs)

    def run_now(self, *args: Any, **kwargs: Any):
        """Run in this process, in the current application context."""
        return self.fn(*args, **kwargs)


class JobQueue:
    def __init__(self) -> None:
        self.huey: Huey | None = None
        self.app: Flask | None = None
        self._jobs: list[Job] = []
        self._periodic: list[tuple[Callable, Any]] = []

    def task(self, **options: Any) -> Callable[[Callable], Job]:
        def decorate(fn: Callable) -> Job:
            job = Job(self, fn, options)
            self._jobs.append(job)
            if self.huey is not None:
                self._bind(job)
            return job

        return decorate

    def init_app(self, app: Flask) -> None:
        settings = app.config["REFERRALS_SETTINGS"]
        if settings.jobs_immediate:
            self.huey = MemoryHuey("referrals", immediate=True)
        elif settings.redis_url:
            self.huey = RedisHuey("referrals", url=settings.redis_url)
        else:
            settings.instance_path.mkdir(parents=True, exist_ok=True)
            self.huey = SqliteHuey("referrals", filename=str(settings.instance_path / "jobs.db"))
        self.app = app
        for job in self._jobs:
            self._bind(job)
        app.extensions["referrals_jobs"] = self

    def _bind(self, job: Job) -> None:
        queue = self

        def run(*args: Any, **kwargs: Any):
            from referrals.core.transaction import unit_of_work

            if has_app_context() and current_app._get_current_object() is queue.app:
                with unit_of_work():
                    return job.fn(*args, **kwargs)
            with queue.app.app_context(), unit_of_work():
                return job.fn(*args, **kwargs)

        run.__name__ = job.fn.__name__
        run.__module__ = job.fn.__module__
        job.bound = self.huey.task(name=job.name, **job.options)(run)
