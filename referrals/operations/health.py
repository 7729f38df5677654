"""``/healthz`` (the process answers) and ``/readyz`` (it can do its work: the database, the
job queue and the evidence store are reachable, and every master key that blobs' data keys are
wrapped with is configured). A load balancer sends traffic only to a
server whose ``/readyz`` says 200; an orchestrator restarts one whose ``/healthz`` does not
answer. Neither needs a signed-in user, and neither says more than which check failed."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, current_app, jsonify
from sqlalchemy import text

from referrals.core.storage import StorageError, get_store
from referrals.extensions import db, jobs
from referrals.operations.storage_keys import missing_master_keys

log = logging.getLogger(__name__)


def _database() -> None:
    db.session.execute(text("SELECT 1"))


def _job_queue() -> None:
    # Redis: a round trip to the server; SQLite: a read of the queue's table.
    jobs.huey_for(current_app).pending_count()


def _storage() -> None:
    # The local directory: writable; an S3 bucket: reachable (HeadBucket).
    get_store().objects.check()


def _storage_keys() -> None:
    missing = missing_master_keys(get_store())
    if missing:
        raise StorageError(f"master key(s) {', '.join(map(str, missing))} wrap stored data "
                           "keys but are not in REFERRALS_STORAGE_KEYS")


CHECKS: dict[str, Callable[[], None]] = {
    "database": _database,
    "job_queue": _job_queue,
    "storage": _storage,
    "storage_keys": _storage_keys,
}


def readiness() -> tuple[bool, dict[str, str]]:
    """Each check's outcome ("ok" or "failed"); the reason goes to the log, not the answer."""
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception:  # noqa: BLE001 (any failure means not ready; logged with its cause)
            log.exception("readiness check %s failed", name)
            results[name] = "failed"
    return all(value == "ok" for value in results.values()), results


def health():
    return jsonify(status="ok")


def ready():
    ok, checks = readiness()
    return jsonify(status="ready" if ok else "not ready", checks=checks), 200 if ok else 503


def init_health(app: Flask) -> None:
    """``health`` and ``ready`` are endpoints of the app itself (public: core.guards)."""
    app.add_url_rule("/healthz", "health", health)
    app.add_url_rule("/readyz", "ready", ready)
