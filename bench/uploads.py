"""Part C: two large evidence uploads at once overlap instead of queueing (issue 9).

Each upload is a whole API request in a process of its own (``bench.upload_child``) on one
SQLite database, like two web workers, its body arriving at a network link's pace (default
25 MiB/s, about 200 Mbit/s: a request holds whatever it holds for as long as its body takes to
arrive, and on a shared two-core machine an unthrottled pair mostly measures the competition
for the cores). First each file is uploaded alone, then both together,
started at the same moment, twice over (the best time of each is kept). Hashing, encrypting and writing a blob happen before the request's
transaction writes, so the two only queue for their short transactions: the pair's wall time
is well under the sum of the single times. Were the blob written inside the transaction, the
second request would wait for the first's whole upload (SQLite's write lock, PostgreSQL's audit
chain head) and the wall time would be the sum. Both requests use the same API token: its last
use is bookkeeping written after the request's transaction, so it locks nothing while a body
streams in.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.children import ROOT, BenchError, app_environment, run_child
from bench.report import MB, Check, heading, progress, table

MIB = 1024 * 1024
OVERLAP_GOAL = 0.75  # the pair's wall time at most this share of the two single times
SAME_TOKEN_GOAL = 1.3  # the pair (one token) at most this many times the slower single upload
ROUNDS = 2


def run_uploads(size_mib: int, mib_per_s: float) -> dict:
    link = f"arriving at {mib_per_s:g} MiB/s" if mib_per_s else "unthrottled"
    heading(f"Concurrent evidence uploads: two {size_mib:,} MiB files through the API "
            f"(SQLite, bodies {link})")
    work = Path(tempfile.mkdtemp(prefix="referrals-bench-uploads-"))
    try:
        # Fresh random bytes for every upload: the same bytes twice would be stored once.
        files = [work / "first.bin", work / "second.bin"]
        env = app_environment(work / "instance", f"sqlite:///{work / 'instance' / 'referrals.db'}")
        made = run_child("bench.ingest_child", "prepare_app", "-", env=env)
        # The best of ROUNDS for each: other work on the machine only ever slows a run down.
        singles, wall, pair = [float("inf")] * len(files), float("inf"), []
        for round_ in range(1, ROUNDS + 1):
            for n, path in enumerate(files):
                _random_file(path, size_mib)
                [result] = _uploads([path], made, env, work, mib_per_s)
                singles[n] = min(singles[n], result["finished"] - result["started"])
                progress(f"round {round_}: {path.name} alone: "
                         f"{result['finished'] - result['started']:.2f} s")
            for path in files:
                _random_file(path, size_mib)
            both = _uploads(files, made, env, work, mib_per_s)
            both_wall = max(r["finished"] for r in both) - min(r["started"] for r in both)
            progress(f"round {round_}: both at once: {both_wall:.2f} s")
            if both_wall < wall:
                wall, pair = both_wall, both
    finally:
        shutil.rmtree(work, ignore_errors=True)
        progress(f"removed {work}")
    result = {"mib": size_mib, "rate": mib_per_s, "singles": singles, "pair": [r["finished"] - r["started"]
                                                           for r in pair], "wall": wall}
    print(uploads_table(result), flush=True)
    return result


def _uploads(paths: list[Path], made: dict, env: dict, work: Path,
             mib_per_s: float) -> list[dict]:
    """Start one process per file, let them all get ready, then say go at once."""
    go = work / f"go-{time.monotonic_ns()}"
    children = [subprocess.Popen(
        [sys.executable, "-m", "bench.upload_child", "upload", str(path), made["reference"],
         made["token"], str(go), str(mib_per_s)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True) for path in paths]
    deadline = time.monotonic() + 300
    while len(list(work.glob(f"{go.name}.ready-*"))) < len(paths):
        if time.monotonic() > deadline or any(c.poll() is not None for c in children):
            break
        time.sleep(0.01)
    go.touch()
    results = []
    for child in children:
        output, errors = child.communicate(timeout=900)
        lines = [line for line in output.splitlines() if line.strip()]
        if child.returncode != 0 or not lines:
            sys.stderr.write(errors[-4000:])
            raise BenchError(f"an upload failed (exit {child.returncode})")
        results.append(json.loads(lines[-1]))
    return results


def _random_file(path: Path, size_mib: int) -> None:
    with open(path, "wb") as handle:
        for _ in range(size_mib):
            handle.write(os.urandom(MIB))
        handle.flush()
        os.fsync(handle.fileno())


def uploads_table(result: dict) -> str:
    size = result["mib"] * MIB / MB
    rows = [("first file alone", f"{result['singles'][0]:.2f}"),
            ("second file alone", f"{result['singles'][1]:.2f}"),
            ("sum of the two", f"{sum(result['singles']):.2f}"),
            ("both at once: first request", f"{result['pair'][0]:.2f}"),
            ("both at once: second request", f"{result['pair'][1]:.2f}"),
            ("both at once: wall time", f"{result['wall']:.2f}")]
    return table((f"upload of {size:,.0f} MB", "seconds"), rows)


def upload_checks(result: dict) -> list[Check]:
    total = sum(result["singles"])
    share = result["wall"] / total
    single = max(result["singles"])
    ratio = result["wall"] / single
    return [Check(f"two {result['mib']} MiB uploads with the same token overlap: wall under "
                  f"{SAME_TOKEN_GOAL}× one upload",
                  f"wall {result['wall']:.2f} s vs one {single:.2f} s ({ratio:.2f}×)",
                  ratio < SAME_TOKEN_GOAL),
            Check(f"overlap: two concurrent {result['mib']} MiB uploads take under "
                  f"{OVERLAP_GOAL:.0%} of the sum of their single times",
                  f"wall {result['wall']:.2f} s vs sum {total:.2f} s ({share:.0%})",
                  share < OVERLAP_GOAL)]
