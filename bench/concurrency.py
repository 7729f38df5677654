"""Part G: the queue and a case page under concurrent connections, through gunicorn, on SQLite
and PostgreSQL, beside the same server's static-file floor (issue 17).

Each database gets a fresh one (a file in a temporary instance directory; on PostgreSQL a
``referrals_bench_concurrency`` database created and dropped) and a child process
(``bench.concurrency_child``) that seeds it, starts gunicorn and sends the requests. The static
file touches no database: its rate is what the server and this machine allow at all, the
ceiling the pages are compared against. Goals: p99 under 150 ms (PostgreSQL) or 300 ms
(SQLite) at 8 connections; throughput at least twice the 154 requests/s measured before
(issue 17), or the floor beside it says why not.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from bench.queue import LABELS, run_on_each
from bench.report import Check, table

P99_LIMIT_MS = {"postgresql": 150.0, "sqlite": 300.0}
BEFORE_RPS = 154.0  # issue 17: four workers served no more database pages than one
THROUGHPUT_FACTOR = 2.0
# Issue 17: "at least 2x today's 154 req/s, or the reason it cannot be, measured". The reason
# measured here: the CPU a page costs. When the server's and the load generator's CPU per
# request do not allow 2x on these cores, the rate must come within this share of what they
# allow -- then the page's own cost is the limit, not requests waiting on each other (before
# the fixes four workers served no more database pages than one).
CPU_BOUND_SHARE = 0.75
PAGES = ("queue", "case page")
DATABASE = "referrals_bench_concurrency"  # its own: part A's may be in use on the same server


def run_concurrency(databases: list[str], *, cases: int, connections: int, requests: int,
                    workers: int | None, postgres_url: str) -> dict[str, dict | str]:
    """``workers``: gunicorn's worker processes (default: what deploy/gunicorn.conf.py
    chooses, as production runs it)."""
    return run_served("Concurrency", "bench.concurrency_child", DATABASE, concurrency_table,
                      databases, cases=cases, connections=connections, requests=requests,
                      workers=workers, postgres_url=postgres_url)


def run_served(title: str, child: str, name: str, show: Callable[[dict], str],
               databases: list[str], *, cases: int, connections: int, requests: int,
               workers: int | None, postgres_url: str) -> dict[str, dict | str]:
    """For each database: ``child`` seeding a fresh one, starting gunicorn as production
    does and sending the load; its result, or why it could not run."""
    return run_on_each(
        databases, lambda label: (f"{title}: {label}, {cases:,} cases, gunicorn "
                                  f"(deploy/gunicorn.conf.py), {connections} connections"),
        name, postgres_url, child,
        ["--cases", str(cases), "--connections", str(connections), "--requests", str(requests)],
        lambda result: f"gunicorn: {server_description(result)}\n{show(result)}",
        {"REFERRALS_WEB_WORKERS": str(workers)} if workers else None)


def server_description(result: dict) -> str:
    threads = f" x {result['threads']} threads" if result["worker_class"] == "gthread" else ""
    return f"{result['workers']} {result['worker_class']} workers{threads}"


def concurrency_table(result: dict) -> str:
    rows = [(r["page"], r["connections"], r["requests"], f"{r['rps']:.0f}",
             f"{r['p50_ms']:.0f}", f"{r['p99_ms']:.0f}", r["errors"],
             f"{r['server_cpu_ms']:.1f}", f"{r['client_cpu_ms']:.1f}") for r in result["pages"]]
    return table(("page", "connections", "requests", "req/s", "p50 ms", "p99 ms", "errors",
                  "server CPU ms/req", "client CPU ms/req"), rows)


def cpu_allows(measured: dict) -> float:
    """The rate at which the server and the load generator together would use every core,
    from their CPU time per request (PostgreSQL's own processes are not counted: on
    PostgreSQL the true ceiling is lower still)."""
    each = measured["server_cpu_ms"] + measured["client_cpu_ms"]
    return (os.cpu_count() or 1) * 1000 / each


def cpu_ceiling(measured: dict, database: str) -> str:
    """``cpu_allows`` in words."""
    uncounted = ", PostgreSQL's own CPU not counted" if database == "postgresql" else ""
    return (f"server CPU {measured['server_cpu_ms']:.1f} ms/request + load generator "
            f"{measured['client_cpu_ms']:.1f} ms: {os.cpu_count() or 1} cores allow at most "
            f"{cpu_allows(measured):.0f} req/s{uncounted}")


def _at(result: dict, page: str, connections: int) -> dict:
    return next(r for r in result["pages"]
                if r["page"].startswith(page) and r["connections"] == connections)


def concurrency_checks(results: dict[str, dict | str]) -> list[Check]:
    checks = []
    for database, result in results.items():
        label = LABELS[database]
        if isinstance(result, str):
            checks.append(Check(f"{label}: the concurrency benchmark runs", result, False))
            continue
        many = result["connections"]
        floor = _at(result, "static", many)
        limit = P99_LIMIT_MS[database]
        for page in PAGES:
            measured, alone = _at(result, page, many), _at(result, page, 1)
            checks.append(Check(
                f"{label}: {page} p99 under {limit:.0f} ms at {many} connections",
                f"p99 {measured['p99_ms']:.0f} ms, p50 {measured['p50_ms']:.0f} ms "
                f"(static floor p99 {floor['p99_ms']:.0f} ms); {measured['errors']} errors",
                measured["p99_ms"] < limit and measured["errors"] == 0))
            wanted = THROUGHPUT_FACTOR * BEFORE_RPS
            allowed = cpu_allows(measured)
            bound = allowed < wanted
            reason = (f" -- below {wanted:.0f} because the page's CPU allows no more; "
                      f"{measured['rps'] / allowed:.0%} of what it allows"
                      if bound else "")
            checks.append(Check(
                f"{label}: {page} at least {wanted:.0f} req/s at {many} connections, or, "
                f"where its CPU per request cannot allow that, within "
                f"{CPU_BOUND_SHARE:.0%} of what it allows",
                f"{measured['rps']:.0f} req/s; one connection {alone['rps']:.0f} req/s; "
                f"static floor {floor['rps']:.0f} req/s "
                f"({measured['rps'] / floor['rps']:.0%} of it); "
                f"{cpu_ceiling(measured, database)}{reason}",
                measured["rps"] >= wanted
                or (bound and measured["rps"] >= CPU_BOUND_SHARE * allowed)))
    return checks
