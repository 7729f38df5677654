"""Part C: building an evidence package of a large file, beside ``age -r`` on the same
plaintext (issue 13's goals: within 1.5× of age's wall time, and under 64 MB of memory
above the process at rest).

The file is stored once as an encrypted blob; then ``age -r`` and the build take turns,
``--package-rounds`` times each (the best wall time of each is compared: on a shared
machine the slowest rounds measure the neighbours). Each run is a process of its own; CPU
seconds (user + system, the worker processes included) are shown beside the wall time.
A last table shows what one core spends on the work a build cannot avoid and age -r does
not do: that is why the build needs both cores to come near age's time.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.children import run_child
from bench.ingest import _write_random_file
from bench.report import MB, Check, heading, progress, table

WALL_RATIO_LIMIT = 1.5
PEAK_ABOVE_REST_LIMIT = 64 * MB
AGE = "age -r (yardstick)"
BUILD = "build_package"


def run_packages(size_mib: int, rounds: int = 3) -> dict[str, dict]:
    heading(f"Evidence package: a {size_mib:,} MiB file, best of {rounds} round(s)")
    work = Path(tempfile.mkdtemp(prefix="referrals-bench-package-"))
    try:
        source = work / "evidence.bin"
        _write_random_file(source, size_mib)
        run_child("bench.package_child", "store", str(source), str(work))
        runs: dict[str, list[dict]] = {AGE: [], BUILD: []}
        for number in range(1, rounds + 1):
            for name, mode in ((AGE, "age"), (BUILD, "build")):
                runs[name].append(run_child("bench.package_child", mode, str(source), str(work)))
                progress(f"round {number}: {name} {runs[name][-1]['seconds']:.2f} s")
        parts = run_child("bench.package_child", "parts", str(source), str(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        progress(f"removed {work}")
    results = {name: min(each, key=lambda r: r["seconds"]) for name, each in runs.items()}
    print(table(["run", "seconds", "MB/s", "CPU s", "peak above rest (MB)"], [
        [name, f"{r['seconds']:.2f}", f"{r['bytes'] / r['seconds'] / MB:.0f}", f"{r['cpu']:.2f}",
         f"{_above_rest(r) / MB:.0f}" if "peak_rss" in r else "—"]
        for name, r in results.items()]), flush=True)
    print(f"\nOne core's CPU seconds for {size_mib:,} MiB, the work each build must do:")
    print(table(["work", "CPU s"], [
        ["SHA-256, one pass (twice in a build: the intake re-check, the encrypted file)",
         f"{parts['sha256']:.2f}"],
        ["pyrage encrypt_io alone (age -r's whole CPU time is in the table above)",
         f"{parts['pyrage']:.2f}"],
    ]), flush=True)
    build, age = results[BUILD], results[AGE]
    workers = build["workers"]
    print(f"\nThe fastest build's CPU seconds, worker by worker (three busy processes share the "
          "two cores):")
    print(table(["worker", "CPU s"], [
        ["encrypting process: pyrage's encrypt_io (ring A to ring B)",
         f"{workers['pyrage']:.2f}"],
        ["writing process: hashes (.sha256) and writes the age file (O_DIRECT)",
         f"{workers['writing']:.2f}"],
        ["builder: the bag (store read, AES-GCM, intake SHA-256, tar, into ring A)",
         f"{workers['bag']:.2f}"],
        ["builder: the rest (starting, waiting, progress, fsync, publication)",
         f"{workers['rest']:.2f}"],
    ]), flush=True)
    print(f"\nThe build spends {build['cpu']:.2f} CPU s where age -r spends {age['cpu']:.2f} "
          f"({build['cpu'] / age['cpu']:.1f}×). On two idle cores it takes at least half of "
          f"that, {build['cpu'] / 2:.2f} s ({build['cpu'] / 2 / age['seconds']:.2f}× age's "
          "wall time here); on a busy machine every process waits its turn and the wall "
          "ratio moves toward the CPU ratio.", flush=True)
    return results


def _above_rest(result: dict) -> int:
    """The build process's peak above its level at rest, plus the whole of the encrypting
    process (which does not exist at rest)."""
    return result["peak_rss"] - result["baseline_rss"] + result["helper_rss"]


def package_checks(results: dict[str, dict]) -> list[Check]:
    build, yardstick = results[BUILD], results[AGE]
    ratio = build["seconds"] / yardstick["seconds"]
    above = _above_rest(build)
    return [
        Check(f"package build within {WALL_RATIO_LIMIT}× of age -r",
              f"{build['seconds']:.2f} s vs {yardstick['seconds']:.2f} s ({ratio:.2f}×)",
              ratio <= WALL_RATIO_LIMIT),
        Check(f"package build under {PEAK_ABOVE_REST_LIMIT // MB} MB above rest",
              f"{above / MB:.0f} MB (the worker processes' {build['helper_rss'] / MB:.0f} MB "
              "included)", above < PEAK_ABOVE_REST_LIMIT),
    ]
