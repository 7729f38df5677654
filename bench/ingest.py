"""Part B: evidence ingest of a large file, its peak memory and throughput.

A file of random bytes is written to a temporary directory; then child processes
(``bench.ingest_child``) read it: three yardsticks (one hashlib.sha256 pass; a plain copy
with fsync, the disk's pace; the four primitives on two threads with the durable write, the
pace the ingest is held to), BlobStore.write, and the whole add_evidence service in an
app on a fresh SQLite database. The file is in the page cache for every one of them, so
they read it on the same footing; the ones that write fsync what they wrote.

The pipeline and add_evidence take turns ``rounds`` times and the best wall time of each
counts: both wait on the disk, which the machine's other users share, and a goal of 1.2×
between them is lost in a neighbour's write burst between two runs otherwise. Peak memory is
the highest of every round.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.children import app_environment, run_child
from bench.report import MB, Check, heading, progress, table

PEAK_RSS_LIMIT = 150 * MB
PIPELINE_RATIO_LIMIT = 1.2
PIPELINE = "two-thread pipeline + fsync"
APP = "add_evidence (app, SQLite)"
MIB = 1024 * 1024


@dataclass(frozen=True)
class IngestRun:
    name: str
    result: dict

    @property
    def measures_ingest(self) -> bool:
        """The yardsticks (hash, copy) have no goal; the two ingest paths do."""
        return self.name.startswith(("BlobStore", "add_evidence"))

    @property
    def throughput(self) -> float:
        """MB/s."""
        return self.result["bytes"] / self.result["seconds"] / MB


def run_ingest(size_mib: int, rounds: int = 2) -> list[IngestRun]:
    heading(f"Evidence ingest: a {size_mib:,} MiB file "
            f"(pipeline and add_evidence: best of {rounds} round(s))")
    work = Path(tempfile.mkdtemp(prefix="referrals-bench-ingest-"))
    try:
        source = work / "evidence.bin"
        _write_random_file(source, size_mib)
        runs = [
            IngestRun("hashlib.sha256 (one pass)", run_child("bench.ingest_child", "sha256",
                                                             str(source))),
            IngestRun("copy + fsync (the disk)", run_child("bench.ingest_child", "copy",
                                                           str(source), str(work / "copy.bin"))),
            IngestRun("BlobStore.write", run_child("bench.ingest_child", "blobstore",
                                                   str(source), str(work / "store"))),
        ]
        taken: dict[str, list[dict]] = {PIPELINE: [], APP: []}
        for number in range(1, rounds + 1):
            taken[PIPELINE].append(run_child("bench.ingest_child", "pipeline", str(source),
                                             str(work / "pipeline.bin")))
            taken[APP].append(_through_app(source, work / f"instance-{number}"))
            progress(f"round {number}: {PIPELINE} {_timing(taken[PIPELINE][-1])}, "
                     f"{APP} {_timing(taken[APP][-1])}")
        runs[2:2] = [IngestRun(name, _best(each)) for name, each in taken.items()]
    finally:
        shutil.rmtree(work, ignore_errors=True)
        progress(f"removed {work}")
    print(ingest_table(runs), flush=True)
    return runs


def _through_app(source: Path, instance: Path) -> dict:
    """add_evidence in a fresh app (its own database and store, removed afterwards: a GiB
    each round)."""
    env = app_environment(instance, f"sqlite:///{instance / 'referrals.db'}")
    try:
        made = run_child("bench.ingest_child", "prepare_app", "-", env=env)
        return run_child("bench.ingest_child", "add_evidence", str(source),
                         str(made["user_id"]), str(made["case_id"]), env=env)
    finally:
        shutil.rmtree(instance, ignore_errors=True)


def _timing(result: dict) -> str:
    return (f"{result['seconds']:.2f} s (CPU user {result['user']:.2f} s, "
            f"system {result['system']:.2f} s)")


def _best(results: list[dict]) -> dict:
    """The fastest round's time, with the highest peak memory of them all."""
    best = min(results, key=lambda result: result["seconds"])
    return {**best, "peak_rss": max(result["peak_rss"] for result in results),
            "baseline_rss": max(result["baseline_rss"] for result in results)}


def _write_random_file(path: Path, size_mib: int) -> None:
    started = time.perf_counter()
    with open(path, "wb") as handle:
        for _ in range(size_mib):
            handle.write(os.urandom(MIB))
        # On disk before timing starts: BlobStore.write fsyncs, and would otherwise wait
        # behind this file's writeback.
        handle.flush()
        os.fsync(handle.fileno())
    progress(f"wrote {size_mib:,} MiB of random bytes in {time.perf_counter() - started:.1f} s")


def ingest_table(runs: list[IngestRun]) -> str:
    yardstick = runs[0].throughput
    rows = [(run.name, f"{run.result['bytes'] / MB:,.0f}", f"{run.result['seconds']:.2f}",
             f"{run.throughput:,.0f}", f"{run.throughput / yardstick:.2f}",
             f"{run.result['user']:.2f}", f"{run.result['system']:.2f}",
             f"{run.result['baseline_rss'] / MB:.0f}", f"{run.result['peak_rss'] / MB:.0f}")
            for run in runs]
    headers = ("path", "MB", "seconds", "MB/s", "× sha256", "CPU user s", "CPU system s",
               "RSS before MB", "peak RSS MB")
    return table(headers, rows)


def ingest_checks(runs: list[IngestRun]) -> list[Check]:
    yardstick = runs[0].throughput
    by_name = {run.name: run for run in runs}
    pipeline = by_name[PIPELINE].result["seconds"]
    service = by_name[APP].result["seconds"]
    ratio = service / pipeline
    return [Check(f"add_evidence within {PIPELINE_RATIO_LIMIT}× of the {PIPELINE}",
                  f"{service:.2f} s vs {pipeline:.2f} s ({ratio:.2f}×)",
                  ratio <= PIPELINE_RATIO_LIMIT)] + [Check(f"{run.name}: peak memory under {PEAK_RSS_LIMIT // MB} MB",
                  f"{run.result['peak_rss'] / MB:.0f} MB; {run.throughput:,.0f} MB/s "
                  f"({run.throughput / yardstick:.2f} × sha256's {yardstick:,.0f} MB/s)",
                  run.result["peak_rss"] < PEAK_RSS_LIMIT)
            for run in runs if run.measures_ingest]
