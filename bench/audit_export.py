"""Part I: exporting the whole audit log as CSV (issue 15: 1,000,000 events stream in
bounded memory), and the log's filtered pages at that size (keyset pages on indexes)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.children import app_environment, run_child
from bench.report import MB, Check, heading, progress, table

EVENTS = 1_000_000
GROWTH_LIMIT = 100 * MB  # peak resident set above the process at rest, before the export
PAGE_LIMIT_MS = 50.0


def run_audit_export(events: int = EVENTS) -> dict:
    heading(f"Audit log: {events:,} events, exported as CSV (SQLite)")
    work = Path(tempfile.mkdtemp(prefix="referrals-bench-audit-"))
    try:
        env = app_environment(work / "instance", f"sqlite:///{work / 'referrals.db'}")
        seeded = run_child("bench.audit_export_child", "seed", str(events), env=env)
        progress(f"seeded {seeded['events']:,} events in {seeded['seconds']:.0f} s")
        result = run_child("bench.audit_export_child", "export", env=env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        progress(f"removed {work}")
    growth = result["peak_rss"] - result["rest_rss"]
    print(table(["rows", "CSV", "seconds", "rows/s", "RSS at rest", "peak RSS", "growth"], [[
        f"{result['rows']:,}", f"{result['bytes'] / MB:,.0f} MB", f"{result['seconds']:.1f}",
        f"{result['rows'] / result['seconds']:,.0f}", f"{result['rest_rss'] / MB:.0f} MB",
        f"{result['peak_rss'] / MB:.0f} MB", f"{growth / MB:.1f} MB"]]), flush=True)
    print(table(["filtered page (50 events)", "median"],
                [[name, f"{ms:.1f} ms"] for name, ms in result["pages_ms"].items()]), flush=True)
    return dict(result, events=events)


def audit_export_checks(result: dict) -> list[Check]:
    growth = result["peak_rss"] - result["rest_rss"]
    slowest = max(result["pages_ms"], key=result["pages_ms"].get)
    return [
        Check(f"audit CSV export of {result['events']:,} events has every row",
              f"{result['rows']:,} rows", result["rows"] >= result["events"]),
        Check(f"audit CSV export peak memory under {GROWTH_LIMIT // MB} MB above rest",
              f"{growth / MB:.1f} MB above {result['rest_rss'] / MB:.0f} MB",
              growth < GROWTH_LIMIT),
        Check(f"every filtered audit page under {PAGE_LIMIT_MS:.0f} ms at "
              f"{result['events']:,} events", f"slowest {result['pages_ms'][slowest]:.1f} ms "
              f"({slowest})", result["pages_ms"][slowest] < PAGE_LIMIT_MS),
    ]
