"""The case page's server CPU per request, robust while others use the machine (issues 16/17).

``python -m bench.case_page_cpu [--database sqlite|postgresql] [--cases N] [--repeat R]``

Seeds a fresh database (``flask demo seed --cases N``, a SQLite file in a temporary instance
or a PostgreSQL database created for the run and dropped after it; ``--keep DIR`` keeps a
SQLite instance and reuses it on the next run), signs the demo supervisor in through the real
pages, and requests two case pages in-process R times each: the first case of the open
queue (the one parts G and K time) and the demo case with the most evidence, subjects,
content and events. For each it prints the CPU milliseconds per request (``time.process_time``,
which other processes' load does not inflate, unlike wall time), the SQL statements per
request with their text, and a cProfile top list.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import shutil
import sys
import tempfile
import time
from html import unescape
from pathlib import Path

from sqlalchemy import event, func, select

from bench.children import app_environment
from bench.queue import DEFAULT_POSTGRES_URL, fresh_database
from bench.queue_child import migrate, seed, signed_in_client
from bench.report import percentile

CHILD = "REFERRALS_CASE_PAGE_CPU_CHILD"
CASE_LINK = re.compile(r'href="(/cases/CASE-\d{4}-\d{6})"')
SEEDED = "case-page-cpu.seeded"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.case_page_cpu")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("DATABASE_URL", "")
                        if "postgresql" in os.environ.get("DATABASE_URL", "")
                        else DEFAULT_POSTGRES_URL)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--profile-top", type=int, default=30,
                        help="functions shown in the profile (0: no profile)")
    parser.add_argument("--keep", type=Path,
                        help="SQLite only: an instance directory kept and reused (seeded once)")
    options = parser.parse_args()
    if os.environ.get(CHILD):
        measure(options)
        return
    if options.keep and options.database == "sqlite":
        options.keep.mkdir(parents=True, exist_ok=True)
        _run_self(app_environment(options.keep, f"sqlite:///{options.keep / 'referrals.db'}"))
        return
    instance = Path(tempfile.mkdtemp(prefix="referrals-case-page-cpu-"))
    try:
        with fresh_database(options.database, instance, options.postgres_url,
                            "referrals_case_page_cpu") as url:
            _run_self(app_environment(instance, url))
    finally:
        shutil.rmtree(instance, ignore_errors=True)


def _run_self(env: dict[str, str]) -> None:
    import subprocess

    env = {**env, CHILD: "1"}
    completed = subprocess.run([sys.executable, "-m", "bench.case_page_cpu", *sys.argv[1:]],
                               env=env, cwd=Path(__file__).resolve().parent.parent)
    raise SystemExit(completed.returncode)


def measure(options: argparse.Namespace) -> None:
    from referrals import create_app

    app = create_app()
    app.config["PREFERRED_URL_SCHEME"] = "https"
    marker = Path(os.environ["REFERRALS_INSTANCE_PATH"]) / SEEDED
    with app.app_context():
        if not marker.exists():
            migrate()
            seed(options.cases)
            marker.write_text(str(options.cases))
        richest = _richest_demo_case()
        from referrals.extensions import db

        engine = db.engine
    client = signed_in_client(app)
    queue = client.get("/cases/?view=open")
    first = CASE_LINK.search(queue.text)
    if queue.status_code != 200 or not first:
        raise SystemExit(f"the queue answered {queue.status_code} with no case link")
    pages = [("first case of the open queue (parts G, K)", unescape(first.group(1))),
             ("richest demo case", f"/cases/{richest}")]
    print(f"{engine.dialect.name}, {options.repeat} requests per page, "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    for name, path in pages:
        _measure_page(client, engine, name, path, options.repeat, options.profile_top)


def _richest_demo_case() -> str:
    """The case with the most evidence, subjects, reported content and events."""
    from referrals.cases.models import Case, CaseEvent, ReportedContent, Subject
    from referrals.evidence.models import EvidenceItem
    from referrals.extensions import db

    def per_case(model):
        return select(model.case_id, func.count().label("n")).group_by(model.case_id).subquery()

    counts = [per_case(m) for m in (EvidenceItem, Subject, ReportedContent, CaseEvent)]
    weight = sum((func.coalesce(c.c.n, 0) for c in counts), start=0)
    query = select(Case.reference)
    for c in counts:
        query = query.outerjoin(c, c.c.case_id == Case.id)
    # The evidence count first: the bulk cases have none.
    return db.session.scalar(query.order_by(func.coalesce(counts[0].c.n, 0).desc(),
                                            weight.desc()).limit(1))


def _measure_page(client, engine, name: str, path: str, repeat: int, top: int) -> None:
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        statements.append(statement)

    for _ in range(5):  # warm-up: templates compiled, caches filled
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
    cpu, counts = [], []
    for _ in range(repeat):
        statements.clear()
        event.listen(engine, "before_cursor_execute", note)
        started = time.process_time()
        client.get(path)
        cpu.append((time.process_time() - started) * 1000)
        event.remove(engine, "before_cursor_execute", note)
        counts.append(len(statements))
    print(f"\n== {name}: {path}, {len(response.data):,} bytes")
    print(f"CPU per request: p10 {percentile(cpu, 0.1):.2f} ms, median {percentile(cpu, 0.5):.2f} ms, p90 "
          f"{percentile(cpu, 0.9):.2f} ms, mean {sum(cpu) / len(cpu):.2f} ms")
    print(f"SQL statements per request: {min(counts)}..{max(counts)}")
    for n, text in enumerate(statements, start=1):
        print(f"  {n:2}. {' '.join(text.split())[:220]}")
    if top:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(repeat):
            client.get(path)
        profile.disable()
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).strip_dirs()
        # Unlike time, the number of Python calls does not move with the machine's load.
        print(f"Python function calls per request (cProfile): {stats.total_calls / repeat:,.0f}")
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)
        print(out.getvalue())
    sys.stdout.flush()


if __name__ == "__main__":
    main()
