"""Part K: mixed traffic against the production server, beside its static-file floor
(issue 16).

For each database a fresh one (a file in a temporary instance directory; on PostgreSQL a
``referrals_bench_mixed`` database created and dropped) is seeded with ``demo seed --cases N``
and served by gunicorn with ``deploy/gunicorn.conf.py`` (``bench.mixed_child``). Over the same
connections, one after another: the static stylesheet (the floor), the case queue alone, then
the mix -- the case queue, a case page, an officer's request page in the portal and an API
escalation (each a new case) all at once. Goals: every kind's p99 under 300 ms in the mix, no
errors, and the queue alone within 5x the floor (its throughput at least a fifth of the
static file's: a queue page costs the server at most five static files).
"""

from __future__ import annotations

from bench.concurrency import run_served
from bench.queue import LABELS
from bench.report import Check, table

P99_LIMIT_MS = 300.0
FLOOR_FACTOR = 5.0
DATABASE = "referrals_bench_mixed"  # its own: other parts' may be in use on the same server


def run_mixed(databases: list[str], *, cases: int, connections: int, requests: int,
              workers: int | None, postgres_url: str) -> dict[str, dict | str]:
    return run_served("Mixed traffic", "bench.mixed_child", DATABASE, mixed_table, databases,
                      cases=cases, connections=connections, requests=requests,
                      workers=workers, postgres_url=postgres_url)


def mixed_table(result: dict) -> str:
    rows = [(r["kind"], "mix" if r["mixed"] else "alone", r["requests"], f"{r['rps']:.0f}",
             f"{r['p50_ms']:.0f}", f"{r['p99_ms']:.0f}", r["errors"],
             f"{r['server_cpu_ms']:.1f}", f"{r['client_cpu_ms']:.1f}") for r in result["results"]]
    return table(("requests", "run", "count", "req/s", "p50 ms", "p99 ms", "errors",
                  "server CPU ms/req", "client CPU ms/req"), rows)


def _kind(result: dict, kind: str) -> dict:
    return next(r for r in result["results"] if r["kind"] == kind)


def mixed_checks(results: dict[str, dict | str]) -> list[Check]:
    checks = []
    for database, result in results.items():
        label = LABELS[database]
        if isinstance(result, str):
            checks.append(Check(f"{label}: the mixed-traffic benchmark runs", result, False))
            continue
        mixed = [r for r in result["results"] if r["mixed"] and r["kind"] != "all of the mix"]
        slowest = max(mixed, key=lambda r: r["p99_ms"])
        checks.append(Check(
            f"{label}: mixed traffic, every kind's p99 under {P99_LIMIT_MS:.0f} ms",
            "; ".join(f"{r['kind']} {r['p99_ms']:.0f} ms" for r in mixed),
            slowest["p99_ms"] < P99_LIMIT_MS))
        errors = sum(r["errors"] for r in result["results"] if r["kind"] != "all of the mix")
        checks.append(Check(
            f"{label}: mixed traffic, no errors",
            f"{errors} of {sum(r['requests'] for r in mixed)} mixed requests and the alone runs"
            + "".join(f"; {r['kind']} {r['errors']}" for r in result["results"]
                      if r["errors"] and r["kind"] != "all of the mix"),
            errors == 0))
        floor, queue = _kind(result, "static file (floor)"), _kind(result, "queue alone")
        checks.append(Check(
            f"{label}: the queue within {FLOOR_FACTOR:g}x the static floor "
            f"({result['connections']} connections)",
            f"queue {queue['rps']:.0f} req/s, static {floor['rps']:.0f} req/s: "
            f"{floor['rps'] / queue['rps']:.1f}x (p50 {queue['p50_ms']:.0f} ms against "
            f"{floor['p50_ms']:.0f} ms; server CPU {queue['server_cpu_ms']:.1f} ms against "
            f"{floor['server_cpu_ms']:.1f} ms per request)",
            queue["rps"] * FLOOR_FACTOR >= floor["rps"]))
    return checks
