"""Part H: ``audit verify`` on a long chain, beside a plain loop doing the same canonical
encoding and SHA-256 over the same rows (issue 17: at least 100,000 events per second on
1,000,000 events). A fresh SQLite database in a child process (``bench.audit_verify_child``)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.children import app_environment, run_child
from bench.report import Check, heading, table

EVENTS_PER_SECOND_GOAL = 100_000


def run_audit_verify(events: int) -> dict:
    heading(f"Audit verify: {events:,} events (SQLite)")
    instance = Path(tempfile.mkdtemp(prefix="referrals-bench-audit-"))
    try:
        result = run_child("bench.audit_verify_child", str(events),
                           env=app_environment(instance, f"sqlite:///{instance / 'r.db'}"))
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    print(table(("walk", "events", "seconds", "events/s", "chain intact"), [
        ("plain loop (yardstick)", f"{result['plain_checked']:,}", f"{result['plain_seconds']:.2f}",
         f"{result['plain_checked'] / result['plain_seconds']:,.0f}", result["plain_ok"]),
        ("verify_chain (audit verify)", f"{result['verify_checked']:,}",
         f"{result['verify_seconds']:.2f}",
         f"{result['verify_checked'] / result['verify_seconds']:,.0f}", result["verify_ok"]),
    ]), flush=True)
    return result


def audit_verify_checks(result: dict) -> list[Check]:
    rate = result["verify_checked"] / result["verify_seconds"]
    plain = result["plain_checked"] / result["plain_seconds"]
    return [Check(f"audit verify at least {EVENTS_PER_SECOND_GOAL:,} events/s on "
                  f"{result['events']:,} events",
                  f"{rate:,.0f} events/s ({rate / plain:.2f} × the plain loop's {plain:,.0f}); "
                  f"intact: {result['verify_ok']}",
                  rate >= EVENTS_PER_SECOND_GOAL and result["verify_ok"]
                  and result["verify_checked"] == result["events"])]
