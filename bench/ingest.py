"""Part B: evidence ingest of a large file, its peak memory and throughput.

A file of random bytes is written to a temporary directory; then child processes
(``bench.ingest_child``) read it: three yardsticks (one hashlib.sha256 pass; a plain copy
with fsync, the disk's pace; the four primitives on two threads with the durable write, the
pace the ingest is held to), BlobStore.write, and the whole add_evidence service in an
app on a fresh SQLite database. The file is in the page cache for every one of them, so
they read it on the same footing; the two that write fsync what they wrote.
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


def run_ingest(size_mib: int) -> list[IngestRun]:
    heading(f"Evidence ingest: a {size_mib:,} MiB file")
    work = Path(tempfile.mkdtemp(prefix="referrals-bench-ingest-"))
    try:
        source = work / "evidence.bin"
        _write_random_file(source, size_mib)
        runs = [
            IngestRun("hashlib.sha256 (one pass)", run_child("bench.ingest_child", "sha256",
                                                             str(source))),
            IngestRun("copy + fsync (the disk)", run_child("bench.ingest_child", "copy",
                                                           str(source), str(work / "copy.bin"))),
            IngestRun(PIPELINE, run_child("bench.ingest_child", "pipeline", str(source),
                                          str(work / "pipeline.bin"))),
            IngestRun("BlobStore.write", run_child("bench.ingest_child", "blobstore",
                                                   str(source), str(work / "store"))),
            IngestRun("add_evidence (app, SQLite)", _through_app(source, work / "instance")),
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
        progress(f"removed {work}")
    print(ingest_table(runs), flush=True)
    return runs


def _through_app(source: Path, instance: Path) -> dict:
    env = app_environment(instance, f"sqlite:///{instance / 'referrals.db'}")
    made = run_child("bench.ingest_child", "prepare_app", "-", env=env)
    return run_child("bench.ingest_child", "add_evidence", str(source), str(made["user_id"]),
                     str(made["case_id"]), env=env)


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
             f"{run.result['baseline_rss'] / MB:.0f}", f"{run.result['peak_rss'] / MB:.0f}")
            for run in runs]
    headers = ("path", "MB", "seconds", "MB/s", "× sha256", "RSS before MB", "peak RSS MB")
    return table(headers, rows)


def ingest_checks(runs: list[IngestRun]) -> list[Check]:
    yardstick = runs[0].throughput
    by_name = {run.name: run for run in runs}
    pipeline = by_name[PIPELINE].result["seconds"]
    service = next(run for run in runs if run.name.startswith("add_evidence")).result["seconds"]
    ratio = service / pipeline
    return [Check(f"add_evidence within {PIPELINE_RATIO_LIMIT}× of the {PIPELINE}",
                  f"{service:.2f} s vs {pipeline:.2f} s ({ratio:.2f}×)",
                  ratio <= PIPELINE_RATIO_LIMIT)] + [Check(f"{run.name}: peak memory under {PEAK_RSS_LIMIT // MB} MB",
                  f"{run.result['peak_rss'] / MB:.0f} MB; {run.throughput:,.0f} MB/s "
                  f"({run.throughput / yardstick:.2f} × sha256's {yardstick:,.0f} MB/s)",
                  run.result["peak_rss"] < PEAK_RSS_LIMIT)
            for run in runs if run.measures_ingest]
