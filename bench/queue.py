"""Part A: the case queue and identifier search, on SQLite and PostgreSQL, at two sizes.

Each (database, size) gets a fresh database (a file in a temporary instance directory,
or a PostgreSQL database created for the run and dropped after it) and a child process
(``bench.queue_child``) that migrates, seeds, signs in and times the pages.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.children import BenchError, app_environment, run_child
from bench.report import Check, heading, progress, table

QUERY_LIMIT = 10
MEDIAN_LIMIT_MS = 50.0
DEFAULT_POSTGRES_URL = "postgresql+psycopg://referrals:referrals@127.0.0.1:5432/referrals_test"
BENCH_DATABASE = "referrals_bench"
LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@dataclass(frozen=True)
class QueueRun:
    database: str  # sqlite | postgresql
    cases: int
    result: dict | None  # None when it could not run
    error: str = ""


def run_queue(databases: list[str], sizes: list[int], *, postgres_url: str, repeat: int,
              analyze: bool) -> list[QueueRun]:
    runs = []
    for database in databases:
        for cases in sizes:
            heading(f"Queue: {LABELS[database]}, {cases:,} cases")
            try:
                result = _run_one(database, cases, postgres_url=postgres_url, repeat=repeat,
                                  analyze=analyze)
            except BenchError as error:  # the other runs still tell us something
                runs.append(QueueRun(database, cases, None, str(error)))
                print(f"Could not run: {error}", flush=True)
                continue
            runs.append(QueueRun(database, cases, result))
            print(_page_table(result), flush=True)
    return runs


def _run_one(database: str, cases: int, *, postgres_url: str, repeat: int,
             analyze: bool) -> dict:
    instance = Path(tempfile.mkdtemp(prefix="referrals-bench-queue-"))
    url = None
    try:
        if database == "sqlite":
            url = f"sqlite:///{instance / 'referrals.db'}"
        else:
            url = _create_postgres_database(postgres_url)
        args = ["--cases", str(cases), "--repeat", str(repeat)] + (["--analyze"] if analyze else [])
        return run_child("bench.queue_child", *args, env=app_environment(instance, url))
    finally:
        if database == "postgresql" and url:
            _drop_postgres_database(postgres_url)
        shutil.rmtree(instance, ignore_errors=True)


def _server(url: str):
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def _create_postgres_database(server_url: str, name: str = BENCH_DATABASE) -> str:
    """A fresh ``referrals_bench`` on the server that ``server_url`` names."""
    engine = _server(server_url)
    try:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        reason = str(error).splitlines()[0]
        raise BenchError(f"cannot create the database {name}: {reason}") from error
    finally:
        engine.dispose()
    progress(f"created the PostgreSQL database {name}")
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(server_url: str, name: str = BENCH_DATABASE) -> None:
    engine = _server(server_url)
    try:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        progress(f"dropped {name}")
    except Exception as error:  # the run's own result or error matters more than this
        progress(f"could not drop {name}: {str(error).splitlines()[0]}")
    finally:
        engine.dispose()


@contextmanager
def fresh_database(database: str, instance: Path, postgres_url: str,
                   name: str = BENCH_DATABASE) -> Iterator[str]:
    """The URL of a fresh database of kind ``database``: a file in ``instance`` for SQLite,
    ``name`` created on the server for PostgreSQL (dropped again on the way out)."""
    url = None
    try:
        url = (f"sqlite:///{instance / 'referrals.db'}" if database == "sqlite"
               else _create_postgres_database(postgres_url, name))
        yield url
    finally:
        if database == "postgresql" and url:
            _drop_postgres_database(postgres_url, name)


def run_on_each(databases: list[str], title: Callable[[str], str], name: str,
                postgres_url: str, child: str, args: list[str],
                show: Callable[[dict], str], extra_env: dict[str, str] | None = None,
                ) -> dict[str, dict | str]:
    """For each database: a heading, a fresh database (``name`` on PostgreSQL) in a temporary
    instance, the ``child`` module run on it with ``args``, and what ``show`` prints of its
    result; the result by database, or why it could not run."""
    results: dict[str, dict | str] = {}
    for database in databases:
        heading(title(LABELS[database]))
        instance = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        try:
            with fresh_database(database, instance, postgres_url, name) as url:
                env = {**app_environment(instance, url), **(extra_env or {})}
                result = run_child(child, *args, env=env)
        except BenchError as error:
            results[database] = str(error)
            print(f"Could not run: {error}", flush=True)
            continue
        finally:
            shutil.rmtree(instance, ignore_errors=True)
        results[database] = result
        print(show(result), flush=True)
    return results


def _page_table(result: dict) -> str:
    sizes = (f"{result['cases']:,} cases ({result['open_cases']:,} open), "
             f"{result['identifiers']:,} identifiers, {result['audit_events']:,} audit events; "
             f"seeded in {result['seed_seconds']:.1f} s by {result['seeded_by']}")
    rows = [(page["page"], page["status"], page["rows"], page["queries"],
             f"{page['median_ms']:.1f}", f"{page['p95_ms']:.1f}") for page in result["pages"]]
    headers = ("page", "status", "rows", "queries", "median ms", "p95 ms")
    return f"{sizes}\n\n{table(headers, rows)}"


def summary_table(runs: list[QueueRun]) -> str:
    """Every page of every run in one table, for the end of the report."""
    rows = [(LABELS[run.database], f"{run.cases:,}", page["page"], page["queries"],
             f"{page['median_ms']:.1f}", f"{page['p95_ms']:.1f}")
            for run in runs if run.result for page in run.result["pages"]]
    return table(("database", "cases", "page", "queries", "median ms", "p95 ms"), rows)


def queue_checks(runs: list[QueueRun], full_size: int) -> list[Check]:
    checks = []
    for run in runs:
        where = f"{LABELS[run.database]}, {run.cases:,} cases"
        if run.result is None:
            checks.append(Check(f"the queue benchmark runs, {where}", run.error, False))
            continue
        for page in run.result["pages"]:
            answered = page["status"] == 200
            checks.append(Check(
                f"{page['page']}: at most {QUERY_LIMIT} SQL queries, {where}",
                f"{page['queries']} queries" if answered else f"HTTP {page['status']}",
                answered and page["queries"] <= QUERY_LIMIT))
            if run.cases == full_size:
                checks.append(Check(
                    f"{page['page']}: median under {MEDIAN_LIMIT_MS:.0f} ms, {where}",
                    f"{page['median_ms']:.1f} ms (p95 {page['p95_ms']:.1f})",
                    page["median_ms"] < MEDIAN_LIMIT_MS))
    checks.extend(_growth_checks(runs))
    return checks


def _growth_checks(runs: list[QueueRun]) -> list[Check]:
    """The query count does not grow with the data: the largest run needs no more than
    the smallest."""
    checks = []
    for database in LABELS:
        mine = sorted((run for run in runs if run.database == database and run.result),
                      key=lambda run: run.cases)
        if len(mine) < 2:
            continue
        small, large = mine[0], mine[-1]
        for before, after in zip(small.result["pages"], large.result["pages"]):
            checks.append(Check(
                f"{before['page']}: queries do not grow from {small.cases:,} to "
                f"{large.cases:,} cases, {LABELS[database]}",
                f"{before['queries']} → {after['queries']}",
                after["queries"] <= before["queries"]))
    return checks
