"""Part L: object-storage ingest -- the same 1 GiB blob written through BlobStore into the local
backend (a directory, fsynced) and into an S3 bucket (multipart upload, part by part), in the
same run, each in its own process: wall time and peak memory.

The S3 server is moto's standalone server on loopback (the registries offer no production
S3 server); it keeps objects in its own memory, which is not ours: only the writing process
is measured. Goal: what the ingest adds to the process's memory (peak RSS during the write
less the RSS before it, imports and the S3 client included in "before") stays under
``GROWTH_LIMIT`` for both backends whatever the size: the sealing pipeline's few 1 MiB buffers,
and on S3 one 8 MiB part being filled and one being sent. The time ratio is reported, with no
goal (it says more about moto's HTTP server than about S3).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from bench.children import BenchError, run_child
from bench.ingest import _write_random_file
from bench.report import MB, Check, heading, progress, table

GROWTH_LIMIT = 64 * MB
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench-key", "AWS_SECRET_ACCESS_KEY": "bench-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_moto(log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                               str(port)], stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
            return server, url
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise BenchError("moto's S3 server did not start: " + log.read_text()[-2000:])
            time.sleep(0.1)


def run_objectstore(size_mib: int) -> dict[str, dict]:
    heading(f"Object-storage ingest: a {size_mib:,} MiB blob, local directory and S3 (moto)")
    work = Path(tempfile.mkdtemp(prefix="referrals-bench-objectstore-"))
    env = {**os.environ, **CREDENTIALS}
    server = None
    try:
        source = work / "evidence.bin"
        _write_random_file(source, size_mib)
        results = {"local": run_child("bench.objectstore_child", "local", str(source),
                                      str(work / "store"), env=env)}
        shutil.rmtree(work / "store", ignore_errors=True)
        server, url = _start_moto(work / "moto.log")
        import boto3

        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=url, **{
            "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "region_name": CREDENTIALS["AWS_DEFAULT_REGION"]}).create_bucket(Bucket=bucket)
        results["s3"] = run_child("bench.objectstore_child", "s3", str(source), url, bucket,
                                  env=env)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
        progress(f"removed {work}")
    rows = [(name, f"{r['bytes'] / MB:,.0f}", f"{r['seconds']:.2f}",
             f"{r['bytes'] / r['seconds'] / MB:,.0f}", f"{r['baseline_rss'] / MB:.0f}",
             f"{r['peak_rss'] / MB:.0f}", f"{_growth(r) / MB:.0f}")
            for name, r in results.items()]
    print(table(("backend", "MB", "seconds", "MB/s", "RSS before MB", "peak RSS MB",
                 "added MB"), rows), flush=True)
    return results


def _growth(result: dict) -> int:
    return result["peak_rss"] - result["baseline_rss"]


def objectstore_checks(results: dict[str, dict]) -> list[Check]:
    local, s3 = results["local"], results["s3"]
    ratio = s3["seconds"] / local["seconds"]
    return [Check(f"object storage, {name}: the ingest adds under {GROWTH_LIMIT // MB} MB",
                  f"{_growth(r) / MB:.0f} MB added (peak {r['peak_rss'] / MB:.0f} MB); "
                  f"{r['bytes'] / MB:,.0f} MB in {r['seconds']:.1f} s"
                  + (f", {ratio:.2f}× the local directory's time" if name == "s3" else ""),
                  _growth(r) < GROWTH_LIMIT)
            for name, r in (("local directory", local), ("S3 (moto)", s3))]
