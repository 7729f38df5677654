"""The audit export measured in processes of its own (``bench.audit_export``).

``python -m bench.audit_export_child seed N``: migrate a fresh database (DATABASE_URL,
REFERRALS_INSTANCE_PATH from the environment) and append N synthetic audit events to the
chain (bulk inserts, the same hashes as one by one), spread over a year, 40 agencies.
``python -m bench.audit_export_child export``: time a few filtered pages of the log, then
export every event as CSV through the service and the streamed response, counting bytes and
sampling the resident set as it goes.

Prints one JSON line.
"""

from __future__ import annotations

import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

from bench.children import emit
from bench.report import progress
from flask_migrate import upgrade
from referrals import create_app
from referrals.audit.services import record_events_in_bulk
from referrals.core.identity import system_identity
from referrals.core.transaction import unit_of_work
from referrals.audit.log import AuditFilters, event_page, export_events
from referrals.core.identity import Identity
from referrals.core.transaction import commit, rollback

ACTIONS = ("case.viewed", "request.viewed", "case.assigned", "request.status_changed",
           "hold.placed", "evidence.page_viewed", "sign_in.succeeded", "package.downloaded")
AGENCIES = 40
START = datetime(2026, 1, 1, tzinfo=UTC)
RARE_ACTOR = "rare.reviewer@bench.example"


def _status(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1)) * 1024


def _reset_peak() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM to the current resident set."""
    Path("/proc/self/clear_refs").write_text("5")


def seed(count: int) -> dict:


    app = create_app()
    step = timedelta(seconds=365 * 24 * 3600 / max(count, 1))
    started = time.perf_counter()
    with app.app_context():
        with unit_of_work():
            upgrade()
        with unit_of_work():  # a person who acts rarely, at the very start of the log
            record_events_in_bulk(system_identity(RARE_ACTOR), (
                {"action": "audit.exported", "occurred_at": START} for _ in range(3)))

        def events():
            for n in range(count):
                if n % 100_000 == 0:
                    progress(f"seeding audit events: {n:,} of {count:,}")
                action = ACTIONS[n % len(ACTIONS)]
                yield {"action": action, "object_type": action.partition(".")[0],
                       "object_id": f"REF-{n % 50_000:06d}", "agency_id": 1 + n % AGENCIES,
                       "before": {"status": "received"} if n % 4 == 3 else None,
                       "after": {"status": "verifying", "assignee_id": n % 30, "note": "=1+1"},
                       "occurred_at": START + step * n}

        with unit_of_work():
            made = record_events_in_bulk(system_identity("bench:seed"), events())
    return {"events": made + 3, "seconds": time.perf_counter() - started}


def _timed(call, repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return median(samples) * 1000


def export() -> dict:
    from flask import Response, stream_with_context


    app = create_app()
    reviewer = Identity(kind="staff", label="bench.reviewer@bench.example",
                        roles=frozenset({"compliance"}))
    pages = {}
    with app.test_request_context("/audit/export.csv"):
        mid = START + timedelta(days=180)
        filters = {
            "first page": AuditFilters(),
            "action starts with case.": AuditFilters(action="case."),
            "one agency": AuditFilters(agency_id=7),
            "one object": AuditFilters(object_type="case", object_id="REF-000008"),
            "a rare actor": AuditFilters(actor=RARE_ACTOR),
            "one day in June": AuditFilters(date_from=mid.date(), date_to=mid.date()),
        }
        for name, chosen in filters.items():
            pages[name] = _timed(lambda f=chosen: event_page(reviewer, f))
        pages["a page deep down (before #1,000)"] = _timed(
            lambda: event_page(reviewer, AuditFilters(), before=1000))
        rollback()

        rest = _status("VmRSS")
        _reset_peak()
        started = time.perf_counter()
        made = export_events(reviewer, AuditFilters(), "csv")
        commit()
        response = Response(stream_with_context(made.chunks), content_type=made.content_type)
        size = lines = 0
        highest = rest
        for chunk in response.response:
            size += len(chunk)
            lines += 1
            if lines % 100_000 == 0:
                highest = max(highest, _status("VmRSS"))
                progress(f"exported {lines - 1:,} events, {size / 1e6:,.0f} MB of CSV")
        seconds = time.perf_counter() - started
    return {"rows": lines - 1, "bytes": size, "seconds": seconds, "rest_rss": rest,
            "peak_rss": max(_status("VmHWM"), highest), "pages_ms": pages}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("seed", "export"):
        raise SystemExit(__doc__)
    emit(seed(int(sys.argv[2])) if sys.argv[1] == "seed" else export())


if __name__ == "__main__":
    main()
