"""Part C: building an evidence package of a large file, beside ``age -r`` on the same
plaintext (issue 13's goals: within 1.5× of age's wall time, and under 64 MB of memory
above the process at rest)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.children import run_child
from bench.ingest import _write_random_file
from bench.report import MB, Check, heading, progress, table

WALL_RATIO_LIMIT = 1.5
PEAK_ABOVE_REST_LIMIT = 64 * MB


def run_packages(size_mib: int) -> dict[str, dict]:
    heading(f"Evidence package: a {size_mib:,} MiB file")
    work = Path(tempfile.mkdtemp(prefix="referrals-bench-package-"))
    try:
        source = work / "evidence.bin"
        _write_random_file(source, size_mib)
        results = {
            "age -r (yardstick)": run_child("bench.package_child", "age", str(source), str(work)),
            "build_package": run_child("bench.package_child", "build", str(source), str(work)),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
        progress(f"removed {work}")
    print(table(["run", "seconds", "MB/s", "peak above rest (MB)"], [
        [name, f"{r['seconds']:.2f}", f"{r['bytes'] / r['seconds'] / MB:.0f}",
         f"{(r['peak_rss'] - r['baseline_rss']) / MB:.0f}" if r["peak_rss"] else "—"]
        for name, r in results.items()]), flush=True)
    return results


def package_checks(results: dict[str, dict]) -> list[Check]:
    build, yardstick = results["build_package"], results["age -r (yardstick)"]
    ratio = build["seconds"] / yardstick["seconds"]
    above = build["peak_rss"] - build["baseline_rss"]
    return [
        Check(f"package build within {WALL_RATIO_LIMIT}× of age -r",
              f"{build['seconds']:.2f} s vs {yardstick['seconds']:.2f} s ({ratio:.2f}×)",
              ratio <= WALL_RATIO_LIMIT),
        Check(f"package build under {PEAK_ABOVE_REST_LIMIT // MB} MB above rest",
              f"{above / MB:.0f} MB", above < PEAK_ABOVE_REST_LIMIT),
    ]
