"""One object-storage ingest in its own process, so its peak RSS is the ingest's alone.

``python -m bench.objectstore_child local FILE DIRECTORY``: BlobStore.write into the local
backend (a directory).
``python -m bench.objectstore_child s3 FILE ENDPOINT BUCKET``: BlobStore.write into an S3
bucket (credentials from the environment, as in production).

Prints one JSON line: bytes, seconds, peak RSS before the ingest and at the end (bytes).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench.children import emit
from bench.ingest_child import peak_rss
from referrals.core.objectstore import LocalObjects
from referrals.core.s3store import S3Objects
from referrals.core.storage import BlobStore

KEYS = {1: bytes(range(32))}


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[1] not in ("local", "s3"):
        raise SystemExit(__doc__)
    mode, path = sys.argv[1], Path(sys.argv[2])
    if mode == "local":
        objects = LocalObjects(Path(sys.argv[3]))
    else:
        objects = S3Objects.connect(sys.argv[4], endpoint_url=sys.argv[3], path_style=True)
        objects.check()  # the client and its connection made before "before"
    store = BlobStore(objects, KEYS)
    baseline = peak_rss()
    started = time.perf_counter()
    with open(path, "rb") as handle:
        written = store.write(handle)
    seconds = time.perf_counter() - started
    emit({"bytes": written.size, "seconds": seconds, "baseline_rss": baseline,
          "peak_rss": peak_rss()})


if __name__ == "__main__":
    main()
