"""CPU per request of the pages every signed-in user pays for (issues 16 and 17): the case
queue, a case page and the static stylesheet, measured in one process through the app.

    python -m bench.page_cpu [--cases 20000] [--database sqlite|postgresql]
                             [--requests 200] [--profile 25] [--instance DIR]

Seeds a fresh database with ``flask demo seed --cases N`` (on PostgreSQL a database
``referrals_bench_page_cpu``, created and dropped), signs the demo supervisor in through the
real pages, then requests each page N times through the app (Flask's test client, the
production settings but for the demo seed's ``development``) and reports, per page, the CPU
time per request of this process (``time.process_time``: robust while others use the
machine, unlike wall time), the SQL statements per request, and with ``--profile K`` cProfile's
top K functions by cumulative and by own time (and the Python calls per request, a count
that the machine's load does not move). ``--statements`` prints each page's SQL.

"case page" is the first case of the open queue (the one parts G and K time: a bulk case
with three identifiers); "rich case page" the demo case with the most evidence, subjects,
reported content and events.

``--instance DIR`` keeps the seeded SQLite database in DIR and reuses it next time (seeding
20,000 cases takes a minute or two): for measuring before and after a change.

The wall-clock goals (part K: the queue within 5x the static floor; part G: p99 under 8
connections) follow from this number: on two cores a page that costs the server C ms of CPU
is served at most about 2000 / C times a second.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, event, text

from bench.children import ROOT
from bench.concurrency_child import CASE_LINK
from bench.queue import DEFAULT_POSTGRES_URL, fresh_database
from bench.queue_child import counting, signed_in_client
from bench.report import progress, table
from referrals import create_app
from referrals.extensions import db

DATABASE = "referrals_bench_page_cpu"
PAGES = ("static file", "queue", "case page", "rich case page")
ROUNDS = 10


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.page_cpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--requests", type=int, default=200, help="requests of each page")
    parser.add_argument("--profile", type=int, default=0, metavar="K",
                        help="print cProfile's top K functions of each page")
    parser.add_argument("--pages", nargs="+", choices=PAGES, default=list(PAGES),
                        help="which pages to measure (default: all)")
    parser.add_argument("--served", action="store_true",
                        help="measure gunicorn with the production configuration instead "
                             "(its processes' CPU from /proc, over --connections)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--statements", action="store_true",
                        help="print the SQL statements of each page's last request")
    parser.add_argument("--instance", type=Path,
                        help="keep (and reuse) the seeded SQLite instance in this directory")
    options = parser.parse_args(argv)

    if options.instance and options.database == "sqlite":
        options.instance.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{options.instance.resolve() / 'referrals.db'}"
        if not (options.instance / "referrals.db").exists():
            seed(options.instance, url, options.cases)
        print(run(options, options.instance, url))
        return
    instance = Path(tempfile.mkdtemp(prefix="referrals-page-cpu-"))
    with fresh_database(options.database, instance, options.postgres_url, DATABASE) as url:
        seed(instance, url, options.cases)
        print(run(options, instance, url))


def run(options: argparse.Namespace, instance: Path, url: str) -> str:
    if options.served:
        return measure_served(instance, url, options.requests, options.connections,
                              options.pages)
    return measure(instance, url, options.requests, options.profile, options.pages,
                   options.statements)


def environment(instance: Path, url: str) -> dict[str, str]:
    return {**os.environ, "REFERRALS_ENV": "development", "REFERRALS_INSTANCE_PATH": str(instance),
            "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}


def seed(instance: Path, url: str, cases: int) -> None:
    started = time.perf_counter()
    for args in (["db", "upgrade"], ["demo", "seed", "--cases", str(cases)]):
        subprocess.run([sys.executable, "-m", "flask", "--app", "referrals", *args], cwd=ROOT,
                       env=environment(instance, url), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
    progress(f"migrated and seeded {cases:,} cases in {time.perf_counter() - started:.0f} s")


def richest_case(url: str) -> str:
    """The reference of the case with the most evidence, then subjects, reported content
    and timeline events (a demo case: the bulk cases have no evidence)."""
    engine = create_engine(url)
    counts = {table_: f"(SELECT count(*) FROM {table_} t WHERE t.case_id = c.id)"
              for table_ in ("evidence_items", "subjects", "reported_content", "case_events")}
    try:
        with engine.connect() as connection:
            return connection.execute(text(
                f"SELECT c.reference FROM cases c ORDER BY {counts['evidence_items']} DESC, "
                f"{' + '.join(counts.values())} DESC, c.id LIMIT 1")).scalar_one()
    finally:
        engine.dispose()


def measure(instance: Path, url: str, requests: int, profile: int,
            pages: list[str] = PAGES, show_statements: bool = False) -> str:
    """The pages' CPU per request in this process, as a table (and profiles if asked)."""
    os.environ.update(environment(instance, url))  # create_app reads the settings from it
    app = create_app()
    app.config["PREFERRED_URL_SCHEME"] = "https"  # the test client speaks https, like production
    client = _signed_in(lambda: signed_in_client(app))
    queue = "/cases/?view=open"
    found = CASE_LINK.search(client.get(queue).text)
    if not found:
        raise SystemExit("the queue shows no case")
    paths = {"static file": "/static/app.css", "queue": queue, "case page": found.group(1),
             "rich case page": f"/cases/{richest_case(url)}"}
    with app.app_context():
        engine = db.engine
    rows, profiles, statement_lists = [], [], []
    for name in pages:
        path = paths[name]
        for _ in range(10):  # warm-up: templates compiled, caches filled
            check(client.get(path), path)
        # In rounds, and the median round: a round that another process's burst slowed
        # (caches, the CPU's clock) does not move the number much.
        rounds, each = ROUNDS, max(1, requests // ROUNDS)
        per_round = []
        with counting(engine) as counted:
            for _ in range(rounds):
                began = time.process_time()
                for _ in range(each):
                    check(client.get(path), path)
                per_round.append((time.process_time() - began) * 1000 / each)
        cpu_ms, statements = statistics.median(per_round), counted[0] / (rounds * each)
        rows.append((name, path, f"{cpu_ms:.2f}", f"{min(per_round):.2f}", f"{statements:.1f}"))
        if show_statements:
            statement_lists.append(statements_of(client, engine, name, path))
        progress(f"{name}: {cpu_ms:.2f} ms CPU (best round {min(per_round):.2f}), "
                 f"{statements:.1f} statements")
        if profile:
            profiles.append(profiled(client, name, path, min(requests, 100), profile))
    result = table(("page", "path", "CPU ms/request", "best round", "statements/request"),
                   rows)
    return "\n\n".join([result, *statement_lists, *profiles])


def statements_of(client, engine, name: str, path: str) -> str:
    """The SQL of one request of the page, one line each (the first 200 characters)."""
    seen: list[str] = []

    def remember(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.split())[:200])

    event.listen(engine, "before_cursor_execute", remember)
    try:
        check(client.get(path), path)
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    return "\n".join([f"== {name} ({path}): {len(seen)} statements",
                      *(f"{n:3}. {line}" for n, line in enumerate(seen, start=1))])


def measure_served(instance: Path, url: str, requests: int, connections: int,
                   pages: list[str] = PAGES) -> str:
    """The pages through gunicorn started as production starts it (``deploy/gunicorn.conf.py``),
    ``requests`` of each over ``connections`` at once: the server's CPU per request (its
    processes, from /proc), the load generator's, and the throughput."""
    os.environ.update(environment(instance, url))
    from bench.concurrency_child import first_case, free_port, sign_in
    from bench.http_load import Request, load, start_production_server, stop_server, \
        wait_until_up

    port = free_port()
    server, settings = start_production_server(port)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base)
        cookies = _signed_in(lambda: sign_in(base))
        queue = Request("GET", "/cases/?view=open", cookies=cookies)
        paths = {"static file": Request("GET", "/static/app.css", cookies=cookies),
                 "queue": queue,
                 "case page": Request("GET", first_case(base, queue), cookies=cookies),
                 "rich case page": Request("GET", f"/cases/{richest_case(url)}",
                                           cookies=cookies)}
        rows = []
        for name in pages:
            request = paths[name]
            measured = load(base, [request], connections, requests,
                            server=server.pid)[request.label]
            rows.append((name, request.path, f"{measured['server_cpu_ms']:.2f}",
                         f"{measured['client_cpu_ms']:.2f}", f"{measured['rps']:.0f}",
                         f"{measured['p99_ms']:.0f}", measured["errors"]))
            progress(f"{name}: server {measured['server_cpu_ms']:.2f} ms CPU per request, "
                     f"{measured['rps']:.0f} req/s")
    finally:
        stop_server(server)
    workers = f"{settings['workers']} x {settings['worker_class']} x {settings['threads']}"
    return (f"gunicorn {workers}, {connections} connections\n\n"
            + table(("page", "path", "server CPU ms/request", "client CPU ms/request",
                     "req/s", "p99 ms", "errors"), rows))


def _signed_in(sign_in):
    """Sign in; if the code was refused because the last run (same database) used this time
    step's code already (each is good once), once more with the next step's."""
    try:
        return sign_in()
    except SystemExit as refused:
        progress(f"{refused}: waiting for the next authenticator code")
        time.sleep(31 - time.time() % 30)
        return sign_in()


def check(response, path: str) -> None:
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code}")
    response.close()


def profiled(client, name: str, path: str, requests: int, top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        check(client.get(path), path)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs()
    out.write(f"== {name} ({path}), {requests} requests, "
              f"{stats.total_calls / requests:,.0f} Python calls per request: "
              "by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(top)
    out.write(f"== {name}: by own time\n")
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


if __name__ == "__main__":
    main()
