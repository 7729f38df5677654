"""One package measurement in its own process, so its peak memory is the build's alone.

``python -m bench.package_child MODE FILE WORK_DIR``, MODE one of:

- ``store``: store FILE as an encrypted blob in WORK_DIR/store (not timed; done once).
- ``build``: time build_package of that blob: decrypt from storage, hash, tar (the
  builder's bag thread), age-encrypt (the encrypting process), hash, write (the writing
  process) and fsync. Peak memory: this process's VmHWM above its level before the build,
  plus the two worker processes' own VmHWM (sampled while they run; the rings they share
  are counted in each that maps them). CPU of each busy worker (``workers``): the
  encrypting process's, the writing process's, the bag thread's; ``rest`` is the remainder
  (starting them, the waiting thread, the publication, this sampling).
- ``age``: ``age -r`` over the same plaintext into a file, fsynced: the yardstick.
- ``parts``: what a build cannot avoid, one at a time on one core: a SHA-256 pass over the
  plaintext (the intake hash re-checked; the encrypted file's hash costs as much) and
  pyrage's ``encrypt_io`` alone (plaintext from the page cache, output thrown away).

Prints one JSON line: bytes, seconds (wall), cpu (user + system, children included), and
the peaks.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyrage

from bench.children import emit
from bench.ingest_child import peak_rss
from referrals.core.blob_keys import MemoryKeyRows
from referrals.core.signing import PlatformSigner
from referrals.core.storage import BlobStore
from referrals.packages import builder
from referrals.packages.bag import PackageContents, PackageFile
from referrals.packages.recipients import one_time_identity, parse_recipient

CHUNK = 1024 * 1024
TICKS = os.sysconf("SC_CLK_TCK")


def _digests(path: Path) -> dict[str, str]:
    digests = {name: hashlib.new(name) for name in ("sha256", "sha1", "md5")}
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            for digest in digests.values():
                digest.update(chunk)
    return {name: digest.hexdigest() for name, digest in digests.items()}


def _cpu() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _thread_cpu(process: int | str, thread: int) -> float | None:
    """User + system CPU seconds of one thread (None once it has ended)."""
    try:
        stat = Path(f"/proc/{process}/task/{thread}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _threads_cpu(pid: int) -> dict[int, float]:
    """User + system CPU seconds of each thread of process ``pid``."""
    seconds = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        if (cpu := _thread_cpu(pid, int(tid))) is not None:
            seconds[int(tid)] = cpu
    return seconds


class _HelperPeak:
    """The worker processes' VmHWM, read every 20 ms while they live (their memory is
    allocated at start and stays flat, so the last reading is the peak), and the CPU of the
    build's busy workers: the two processes and the builder's bag thread (each one's last
    reading, so one that ends early is counted whole)."""

    def __init__(self):
        self.peak = 0
        self.pyrage = self.writing = self.bag = 0.0
        self._started = builder._start_workers

    def __enter__(self):
        def start(*args):
            workers = self._started(*args)
            threading.Thread(target=self._watch, args=[p.pid for p in workers.processes],
                             daemon=True).start()
            return workers
        builder._start_workers = start
        return self

    def _watch(self, encrypting: int, writing: int) -> None:
        peaks = {encrypting: 0, writing: 0}
        bag = None  # the builder's bag thread (its native id)
        while True:
            try:
                for pid in peaks:
                    status = Path(f"/proc/{pid}/status").read_text()
                    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
                    if match:
                        peaks[pid] = max(peaks[pid], int(match.group(1)) * 1024)
                self.pyrage = max(self.pyrage, sum(_threads_cpu(encrypting).values()))
                self.writing = max(self.writing, sum(_threads_cpu(writing).values()))
            except OSError:
                return
            self.peak = sum(peaks.values())
            if bag is None:
                bag = next((thread.native_id for thread in threading.enumerate()
                            if thread.name.startswith("package ")), None)
            if bag is not None:
                self.bag = max(self.bag, _thread_cpu("self", bag) or 0.0)
            time.sleep(0.02)

    def __exit__(self, *exc):
        builder._start_workers = self._started


def store(path: Path, work: Path) -> dict:
    key = os.urandom(32)
    with open(path, "rb") as handle:
        blob = BlobStore(work / "store", {1: key}).write(handle)
    stored = {"name": blob.name, "size": blob.size, "key": key.hex(),
              "wrapped_key": blob.wrapped_key.hex(), **_digests(path)}
    (work / "stored.json").write_text(json.dumps(stored))
    return {"bytes": blob.size}


def build(path: Path, work: Path) -> dict:
    stored = json.loads((work / "stored.json").read_text())
    rows = MemoryKeyRows({stored["name"]: (1, bytes.fromhex(stored["wrapped_key"]))})
    blob_store = BlobStore(work / "store", {1: bytes.fromhex(stored["key"])}, rows)
    item = PackageFile(item_id=1, file_name=path.name, size=stored["size"],
                       chunks=lambda: blob_store.read(stored["name"]),
                       **{name: stored[name] for name in ("sha256", "sha1", "md5")})
    contents = PackageContents(label="BENCH-P1", files=[item], custody=[],
                               report_pdf=b"%PDF-1.7 bench", bag_info={"Source-Organization": "bench"})
    signer = PlatformSigner.generate()
    recipient = one_time_identity().recipient
    baseline = peak_rss()
    with _HelperPeak() as helper:
        cpu, started = _cpu(), time.perf_counter()
        built = builder.build_package(contents, [recipient], work / "packages", signer)
        seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    built.path.unlink()
    workers = {"pyrage": helper.pyrage, "writing": helper.writing, "bag": helper.bag}
    workers["rest"] = max(0.0, cpu - sum(workers.values()))
    return {"bytes": built.size, "seconds": seconds, "cpu": cpu, "baseline_rss": baseline,
            "peak_rss": peak_rss(), "helper_rss": helper.peak, "workers": workers}


def age(path: Path, work: Path) -> dict:
    recipient = one_time_identity().recipient
    out = work / "age-out.age"
    cpu, started = _cpu(), time.perf_counter()
    subprocess.run(["age", "-r", recipient, "-o", str(out), str(path)], check=True)
    with open(out, "rb") as handle:  # fsynced like the package, to compare like with like
        os.fsync(handle.fileno())
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    size = out.stat().st_size
    out.unlink()
    return {"bytes": size, "seconds": seconds, "cpu": cpu}


def parts(path: Path, work: Path) -> dict:
    timed = {}
    cpu = _cpu()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    timed["sha256"], cpu = _cpu() - cpu, _cpu()
    with open(path, "rb", buffering=CHUNK) as plaintext, open(os.devnull, "wb") as nowhere:
        pyrage.encrypt_io(plaintext, nowhere, [parse_recipient(one_time_identity().recipient)])
    timed["pyrage"] = _cpu() - cpu
    return {"bytes": path.stat().st_size, **timed}


if __name__ == "__main__":
    mode, file, work_dir = sys.argv[1:4]
    emit({"store": store, "build": build, "age": age, "parts": parts}[mode](Path(file), Path(work_dir)))
