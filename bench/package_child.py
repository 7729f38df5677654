"""One package build in its own process, so its peak RSS is the build's alone.

``python -m bench.package_child build FILE WORK_DIR``: store FILE as an encrypted blob
(not timed), then time build_package of it: decrypt from storage, hash, tar, age-encrypt,
write and fsync. ``python -m bench.package_child age FILE WORK_DIR``: ``age -r`` over the
same plaintext, the yardstick. Prints one JSON line: bytes, seconds, peak RSS before the
build and at the end.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.children import emit
from bench.ingest_child import peak_rss
from referrals.core.signing import PlatformSigner
from referrals.core.storage import BlobStore
from referrals.packages.bag import PackageContents, PackageFile
from referrals.packages.builder import build_package
from referrals.packages.recipients import one_time_identity

CHUNK = 1024 * 1024


def _digests(path: Path) -> dict[str, str]:
    digests = {name: hashlib.new(name) for name in ("sha256", "sha1", "md5")}
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            for digest in digests.values():
                digest.update(chunk)
    return {name: digest.hexdigest() for name, digest in digests.items()}


def build(path: Path, work: Path) -> dict:
    store = BlobStore(work / "store", {1: os.urandom(32)})
    with open(path, "rb") as handle:
        blob = store.write(handle)
    item = PackageFile(item_id=1, file_name=path.name, size=blob.size,
                       chunks=lambda: store.read(blob.name), **_digests(path))
    contents = PackageContents(label="BENCH-P1", files=[item], custody=[],
                               report_pdf=b"%PDF-1.7 bench", bag_info={"Source-Organization": "bench"})
    signer = PlatformSigner.generate()
    recipient = one_time_identity().recipient
    baseline = peak_rss()
    started = time.perf_counter()
    built = build_package(contents, [recipient], work / "packages", signer)
    seconds = time.perf_counter() - started
    return {"bytes": built.size, "seconds": seconds, "baseline_rss": baseline,
            "peak_rss": peak_rss()}


def age(path: Path, work: Path) -> dict:
    recipient = one_time_identity().recipient
    out = work / "age-out.age"
    started = time.perf_counter()
    subprocess.run(["age", "-r", recipient, "-o", str(out), str(path)], check=True)
    with open(out, "rb") as handle:  # fsynced like the package, to compare like with like
        os.fsync(handle.fileno())
    seconds = time.perf_counter() - started
    return {"bytes": out.stat().st_size, "seconds": seconds, "baseline_rss": 0, "peak_rss": 0}


if __name__ == "__main__":
    mode, file, work_dir = sys.argv[1:4]
    emit({"build": build, "age": age}[mode](Path(file), Path(work_dir)))
