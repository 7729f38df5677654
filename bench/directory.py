"""Part J: the agency directory (issue 18). Loading CISA's .gov registry file, 16,539 rows
(goal: under 10 s), loading it again (nothing changes), a registration's domain lookup
(goal: one indexed query) and the look-alike search (one indexed query on the key index;
its time per domain, over real near-misses)."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.report import Check, heading, table
from flask_migrate import upgrade
from referrals import create_app
from referrals.core.identity import system_identity
from referrals.core.transaction import unit_of_work
from referrals.directory.lookup import find_lookalikes, listing_of
from referrals.directory.registry import import_registry, read_registry_file
from referrals.extensions import db

IMPORT_LIMIT = 10.0
LOOKUP_NAMES = ("police.29palms.gov", "rnetropolisil.gov", "29pa1ms-gov.com",
                "sheriff.made-up-county.example", "xn--29plms-5nf.gov")


def registry_file() -> Path:
    """shared/data/dotgov beside the repository (REFERRALS_DOTGOV_FILE names another)."""
    named = os.environ.get("REFERRALS_DOTGOV_FILE")
    if named:
        return Path(named)
    # The repository's parent holds shared/ (a clone in /work/main); a worktree is one deeper.
    for parent in Path(__file__).resolve().parents[1:4]:
        candidate = parent / "shared" / "data" / "dotgov" / "current-full.csv"
        if candidate.exists():
            return candidate
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "dotgov" / "current-full.csv"


def _statements(engine, action):
    from sqlalchemy import event  # noqa: PLC0415  (only when this part runs)

    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return [s for s in seen if not s.startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]


def run_directory() -> dict:
    heading("Agency directory: the .gov registry file")
    path = registry_file()
    instance = tempfile.mkdtemp(prefix="referrals-bench-directory-")
    os.environ.setdefault("REFERRALS_ENV", "development")
    os.environ["REFERRALS_INSTANCE_PATH"] = instance
    os.environ["DATABASE_URL"] = f"sqlite:///{instance}/bench.db"


    app = create_app()
    result: dict = {}
    with app.app_context():
        upgrade()
        operator = system_identity("bench: directory")
        started = time.perf_counter()
        text_, sha256 = read_registry_file(path)
        with unit_of_work():
            report = import_registry(operator, text_, sha256=sha256)
        result["first"] = time.perf_counter() - started
        result["rows"] = report.rows
        started = time.perf_counter()
        with unit_of_work():
            again = import_registry(operator, text_, sha256=sha256)
        result["again"] = time.perf_counter() - started
        result["again_changed"] = len(again.added) + len(again.updated) + len(again.removed)
        engine = db.engine
        lookup = _statements(engine, lambda: listing_of("police.29palms.gov"))
        result["lookup_statements"] = len(lookup)
        timings = []
        for name in LOOKUP_NAMES * 20:
            started = time.perf_counter()
            listing_of(name)
            find_lookalikes(name)
            timings.append((time.perf_counter() - started) * 1000)
        result["signal_ms"] = statistics.median(timings)
        likes = _statements(engine, lambda: find_lookalikes("29pa1ms-gov.com"))
        result["lookalike_index_statements"] = sum("directory_lookalike_keys" in s for s in likes)
    print(table(["run", "seconds", "rows", "changed"], [
        ["first load", f"{result['first']:.2f}", result["rows"], result["rows"]],
        ["same file again", f"{result['again']:.2f}", result["rows"], result["again_changed"]],
    ]), flush=True)
    for statement in lookup:
        print("  lookup:", " ".join(statement.split())[:160], flush=True)
    print(f"registration lookup: {result['lookup_statements']} statement(s); look-alike search: "
          f"{result['lookalike_index_statements']} on the key index; median "
          f"{result['signal_ms']:.1f} ms for both per domain", flush=True)
    return result


def directory_checks(result: dict) -> list[Check]:
    return [
        Check(f"importing the {result['rows']:,}-row .gov file under {IMPORT_LIMIT:.0f} s",
              f"{result['first']:.2f} s", result["rows"] >= 16_000
              and result["first"] < IMPORT_LIMIT),
        Check("loading the same file again changes nothing", f"{result['again_changed']} changed",
              result["again_changed"] == 0),
        Check("a domain lookup on registration is a single query",
              f"{result['lookup_statements']} statement(s)", result["lookup_statements"] == 1),
        Check("the look-alike search is one query on the key index",
              f"{result['lookalike_index_statements']} statement(s)",
              result["lookalike_index_statements"] == 1),
    ]
