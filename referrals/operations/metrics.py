"""``/metrics`` in Prometheus's text format.

Two kinds of numbers:
- measured in each process as requests pass: ``referrals_http_request_duration_seconds``
  (a histogram by method, endpoint and status class). Under gunicorn with several worker
  processes, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared by the workers
  (prometheus_client's multiprocess mode) so that every scrape sees all of them;
- read from the shared database and job queue at scrape time, so any server gives the same
  answer: jobs waiting and how old the oldest is, jobs failed for good, emergencies waiting,
  deadlines overdue by kind, and the age of the latest signed audit checkpoint.

The numbers say how much urgent work waits, which is not for everyone: the endpoint answers
only a bearer token equal to ``REFERRALS_METRICS_TOKEN``, and is off (404) without one.
"""

from __future__ import annotations

import hmac
import os
import time

from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from referrals.audit.checkpoints import WRITTEN
from referrals.audit.models import AuditEvent
from referrals.core.clock import as_utc, now
from referrals.core.outbox import OutboxEntry
from referrals.dashboard.work import overdue_counts
from referrals.extensions import db, jobs
from referrals.requests.models import DisclosureRequest
from referrals.requests.rules import CLOCK_STOPPED_STATUSES

REQUEST_SECONDS = Histogram(
    "referrals_http_request_duration_seconds", "Time to answer an HTTP request",
    ["method", "endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


class StateCollector:
    """Gauges read at scrape time from the database and the job queue."""

    def collect(self):
        at = now()
        queue = GaugeMetricFamily("referrals_job_queue_depth", "Jobs waiting in the job queue")
        queue.add_metric([], jobs.huey_for(current_app).pending_count())
        yield queue

        by_state = dict(db.session.execute(
            select(OutboxEntry.state, func.count()).group_by(OutboxEntry.state)).all())
        outbox = GaugeMetricFamily("referrals_outbox_entries",
                                   "Durable jobs by state (pending, running, done, failed)",
                                   labels=["state"])
        for state in ("pending", "running", "failed"):
            outbox.add_metric([state], by_state.get(state, 0))
        yield outbox
        oldest = db.session.scalar(select(func.min(OutboxEntry.created_at))
                                   .where(OutboxEntry.state.in_(("pending", "running"))))
        age = GaugeMetricFamily("referrals_outbox_oldest_waiting_seconds",
                                "Age of the oldest durable job not yet done (0: none)")
        age.add_metric([], (at - as_utc(oldest)).total_seconds() if oldest else 0.0)
        yield age
        failed = GaugeMetricFamily("referrals_jobs_failed", "Durable jobs that failed for good")
        failed.add_metric([], by_state.get("failed", 0))
        yield failed

        waiting = db.session.scalar(select(func.count()).select_from(DisclosureRequest).where(
            DisclosureRequest.is_open.is_(True), DisclosureRequest.emergency.is_(True),
            DisclosureRequest.status.not_in(CLOCK_STOPPED_STATUSES)))
        emergencies = GaugeMetricFamily("referrals_emergencies_waiting",
                                        "Open emergency requests whose clock runs")
        emergencies.add_metric([], waiting or 0)
        yield emergencies

        overdue = GaugeMetricFamily("referrals_deadlines_overdue",
                                    "Open work past its deadline", labels=["kind"])
        for kind, count in overdue_counts(at).items():
            overdue.add_metric([kind], count)
        yield overdue

        latest = db.session.scalar(select(func.max(AuditEvent.occurred_at))
                                   .where(AuditEvent.action == WRITTEN))
        checkpoint = GaugeMetricFamily(
            "referrals_audit_checkpoint_age_seconds",
            "Seconds since the latest signed audit checkpoint (-1: none yet)")
        checkpoint.add_metric([], (at - as_utc(latest)).total_seconds() if latest else -1.0)
        yield checkpoint


def _start_timer() -> None:
    g.referrals_started = time.perf_counter()


def _observe(response):
    started = g.pop("referrals_started", None)
    if started is not None:
        REQUEST_SECONDS.labels(request.method, request.endpoint or "none",
                               f"{response.status_code // 100}xx").observe(
            time.perf_counter() - started)
    return response


def metrics():
    token = current_app.config["REFERRALS_SETTINGS"].metrics_token
    if not token:
        return Response("Metrics are off: set REFERRALS_METRICS_TOKEN to turn them on.\n",
                        404, mimetype="text/plain")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response("The metrics need the bearer token the operators were given.\n", 401,
                        mimetype="text/plain", headers={"WWW-Authenticate": "Bearer"})
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ProcessHistogram())
    registry.register(StateCollector())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


class _ProcessHistogram:
    """This process's request histogram (one process: no multiprocess directory)."""

    def collect(self):
        return REQUEST_SECONDS.collect()


def init_metrics(app: Flask) -> None:
    app.before_request(_start_timer)
    app.after_request(_observe)
    app.add_url_rule("/metrics", "metrics", metrics)
