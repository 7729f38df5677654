"""Part H: ``audit verify`` on a long chain, beside a plain loop doing the same canonical
encoding and SHA-256 in Python over the same rows (issue 17: at least 100,000 events per
second on 1,000,000 events). A fresh database of each kind chosen (``--database``: SQLite,
and PostgreSQL when asked), in a child process (``bench.audit_verify_child``).

``verify_chain`` hashes the canonical text the database writes (``referrals.audit.
canonical_sql``; on PostgreSQL the server does that on the other core), so it runs faster
than the yardstick, which encodes each row in Python as the chain was written."""

from __future__ import annotations

from bench.queue import LABELS, run_on_each
from bench.report import Check, table

EVENTS_PER_SECOND_GOAL = 100_000
DATABASE = "referrals_bench_audit_verify"


def run_audit_verify(events: int, databases: list[str], *,
                     postgres_url: str) -> dict[str, dict | str]:
    return run_on_each(databases, lambda label: f"Audit verify: {events:,} events ({label})",
                       DATABASE, postgres_url, "bench.audit_verify_child", [str(events)],
                       _walks_table)


def _walks_table(result: dict) -> str:
    return table(("walk", "events", "seconds", "events/s", "chain intact"), [
        ("plain loop (yardstick)", f"{result['plain_checked']:,}",
         f"{result['plain_seconds']:.2f}",
         f"{result['plain_checked'] / result['plain_seconds']:,.0f}", result["plain_ok"]),
        ("verify_chain (audit verify)", f"{result['verify_checked']:,}",
         f"{result['verify_seconds']:.2f}",
         f"{result['verify_checked'] / result['verify_seconds']:,.0f}", result["verify_ok"]),
    ])


def audit_verify_checks(results: dict[str, dict | str]) -> list[Check]:
    checks = []
    for database, result in results.items():
        goal = f"{LABELS[database]}: audit verify at least {EVENTS_PER_SECOND_GOAL:,} events/s"
        if isinstance(result, str):
            checks.append(Check(goal, f"could not run: {result}", False))
            continue
        rate = result["verify_checked"] / result["verify_seconds"]
        plain = result["plain_checked"] / result["plain_seconds"]
        checks.append(Check(
            f"{goal} on {result['events']:,} events",
            f"{rate:,.0f} events/s ({rate / plain:.2f} × the plain loop's {plain:,.0f}); "
            f"intact: {result['verify_ok']}",
            rate >= EVENTS_PER_SECOND_GOAL and result["verify_ok"]
            and result["verify_checked"] == result["events"]))
    return checks
