"""``audit verify`` beside a plain loop, in a process of its own.

``python -m bench.audit_verify_child EVENTS`` with REFERRALS_INSTANCE_PATH and DATABASE_URL
naming an empty database: migrate, append EVENTS synthetic events to the chain in bulk (the
audit package's own ``record_events_in_bulk``, so the hashes are the real ones), then time

- ``verify_chain()``: what ``flask --app referrals audit verify`` runs (less the signed
  checkpoints, which it looks up in a dict): SHA-256 over the canonical text the database
  writes (``referrals.audit.canonical_sql``), and the chaining check;
- the yardstick: a plain loop over the same rows from the driver's cursor doing the
  canonical encoding in Python (``json.dumps`` with sorted keys, as the chain was written)
  and SHA-256, and the chaining check.

Prints one JSON line: events, seconds of each, and whether both found the chain intact.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from datetime import UTC, datetime, timedelta

from flask_migrate import upgrade

from bench.children import emit
from bench.report import progress
from referrals import create_app
from referrals.audit.services import record_events_in_bulk, verify_chain
from referrals.core.identity import system_identity
from referrals.core.transaction import unit_of_work
from referrals.extensions import db

COLUMNS = ("seq", "occurred_at", "actor_kind", "actor_id", "actor_label", "action",
           "object_type", "object_id", "agency_id", "before", "after", "ip", "user_agent",
           "request_id", "prev_hash", "hash")


def seed(events: int) -> None:
    upgrade()
    started = time.perf_counter()
    moment = datetime.now(UTC) - timedelta(days=1)
    rows = ({"action": "case.viewed", "object_type": "case", "object_id": n % 100_000,
             "after": {"page": "cases.detail"}, "occurred_at": moment + timedelta(microseconds=n)}
            for n in range(events))
    with unit_of_work():
        record_events_in_bulk(system_identity("bench"), rows, batch=20_000)
    progress(f"appended {events:,} events in {time.perf_counter() - started:.0f} s")


def plain_loop(connection) -> tuple[int, bool]:
    """The yardstick: rows straight from the cursor, the canonical JSON, SHA-256, chained."""
    prev = "0" * 64
    checked, intact = 0, True
    cursor = connection.exec_driver_sql(
        f"SELECT {', '.join(COLUMNS)} FROM audit_events ORDER BY seq")
    for row in cursor:
        fields = dict(zip(COLUMNS[:-1], row[:-1]))
        moment = fields["occurred_at"]
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        fields["occurred_at"] = moment.isoformat(timespec="microseconds")
        encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256(encoded.encode("utf-8")).hexdigest()
        intact = intact and digest == row[-1] and fields["prev_hash"] == prev
        prev = row[-1]
        checked += 1
    return checked, intact


def main() -> None:
    events = int(sys.argv[1])
    app = create_app()
    with app.app_context():
        seed(events)
        with db.engine.connect() as connection:
            started = time.perf_counter()
            checked, intact = plain_loop(connection)
            plain_seconds = time.perf_counter() - started
        progress(f"plain loop: {checked:,} events in {plain_seconds:.1f} s")
        started = time.perf_counter()
        report = verify_chain()
        verify_seconds = time.perf_counter() - started
        db.session.rollback()
        progress(f"verify_chain: {report.checked:,} events in {verify_seconds:.1f} s")
    emit({"events": events, "verify_seconds": verify_seconds, "verify_checked": report.checked,
          "verify_ok": report.ok, "plain_seconds": plain_seconds, "plain_checked": checked,
          "plain_ok": intact})


if __name__ == "__main__":
    main()
