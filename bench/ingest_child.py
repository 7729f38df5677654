"""One ingest measurement in its own process, so its peak RSS is the ingest's alone.

``python -m bench.ingest_child sha256 FILE``: one hashlib.sha256 pass, 1 MiB reads.
``python -m bench.ingest_child copy FILE TARGET``: a plain copy with fsync (the disk's pace).
``python -m bench.ingest_child pipeline FILE TARGET``: the yardstick of the ingest: the same
four primitives (MD5; SHA-1, SHA-256 and AES-256-GCM) on two threads, with the durable write
(fsync), in the plainest code that does it.
``python -m bench.ingest_child blobstore FILE STORE_DIR``: BlobStore.write over the file.
``python -m bench.ingest_child prepare_app -``: migrate a fresh SQLite database
(REFERRALS_INSTANCE_PATH, DATABASE_URL from the environment), make an agent, a case and an
``evidence:write`` token.
``python -m bench.ingest_child add_evidence FILE USER_ID CASE_ID``: the whole service
path in that app.

Prints one JSON line: bytes, seconds, peak RSS before the ingest and at the end (bytes).
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import sys
import time
from pathlib import Path

from bench.children import emit

CHUNK = 1024 * 1024
MODES = ("sha256", "copy", "pipeline", "blobstore", "prepare_app", "add_evidence")
AGENT = "agent@bench.example"


def peak_rss() -> int:
    """This process's peak resident set so far, in bytes.

    Linux's VmHWM, not ``ru_maxrss``: a child started with vfork+exec (as subprocess
    does) inherits its parent's ``ru_maxrss``, so a large parent would be reported as
    the child's peak. ``ru_maxrss`` (KiB on Linux) only where there is no /proc.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) * 1024


def cpu_since(before: os.times_result) -> dict:
    """User and system CPU seconds of this process (all its threads) since ``before``."""
    after = os.times()
    return {"user": after.user - before.user, "system": after.system - before.system}


def hash_file(path: Path) -> int:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size


def copy_file(path: Path, target: Path) -> int:
    """A plain copy, fsynced like a blob: what the disk alone allows."""
    size = 0
    with open(path, "rb") as handle, open(target, "wb") as out:
        while chunk := handle.read(CHUNK):
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return size


def two_thread_pipeline(path: Path, target: Path) -> int:
    """Read 1 MiB chunks; one thread runs MD5, the other SHA-1, SHA-256 and AES-GCM and
    writes; fsync at the end. Chunks are handed over through bounded queues."""
    import queue
    import threading

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead, prefix = AESGCM(os.urandom(32)), os.urandom(8)
    inboxes = [queue.Queue(maxsize=4), queue.Queue(maxsize=4)]
    md5, sha1, sha256 = hashlib.md5(), hashlib.sha1(), hashlib.sha256()

    def first():
        while (chunk := inboxes[0].get()) is not None:
            md5.update(chunk)

    def second(out):
        index = 0
        while (chunk := inboxes[1].get()) is not None:
            sha1.update(chunk)
            sha256.update(chunk)
            sealed = aead.encrypt(prefix + index.to_bytes(4, "big"), chunk, b"aad")
            out.write(len(sealed).to_bytes(4, "big"))
            out.write(sealed)
            index += 1

    size = 0
    with open(path, "rb") as handle, open(target, "wb") as out:
        threads = [threading.Thread(target=first), threading.Thread(target=second, args=(out,))]
        for thread in threads:
            thread.start()
        while chunk := handle.read(CHUNK):
            size += len(chunk)
            for inbox in inboxes:
                inbox.put(chunk)
        for inbox in inboxes:
            inbox.put(None)
        for thread in threads:
            thread.join()
        out.flush()
        os.fsync(out.fileno())
    return size


def write_blob(path: Path, store_dir: Path) -> int:
    from referrals.core.storage import BlobStore  # imported already: see main()

    store = BlobStore(store_dir, {1: os.urandom(32)})
    with open(path, "rb") as handle:
        return store.write(handle).size


def prepare_app_case() -> dict:
    """Migrate a fresh database and make an agent and a case to ingest into.

    A process of its own: hashing the agent's password (argon2, 64 MiB) would
    otherwise set the ingest process's peak memory.
    """
    from flask_migrate import upgrade

    from referrals import create_app
    from referrals.accounts.services import create_staff_user, ensure_roles
    from referrals.cases.services import open_case
    from referrals.core.identity import Identity, system_identity
    from referrals.core.transaction import unit_of_work
    from referrals.tokens.services import create_token

    app = create_app()
    with app.app_context(), unit_of_work():
        upgrade()
        ensure_roles()
        user, _ = create_staff_user(system_identity("bench"), email=AGENT, full_name="Bench Agent",
                                    roles=["agent"], password="bench-agent-passphrase-42")
        case = open_case(Identity.for_user(user), title="Ingest benchmark", category="other")
        # For the concurrent uploads (bench.upload_child), which go through the API.
        _, token = create_token(system_identity("bench"), user, scopes=["evidence:write"],
                                name="bench uploads")
        return {"user_id": user.id, "case_id": case.id, "reference": case.reference,
                "token": token}


def add_evidence_through_app(path: Path, user_id: int, case_id: int) -> dict:
    """Start the app, load the agent and the case, then time add_evidence and its commit."""
    from referrals import create_app
    from referrals.accounts.models import User
    from referrals.cases.models import Case
    from referrals.core.identity import Identity
    from referrals.core.transaction import unit_of_work
    from referrals.evidence.services import add_evidence
    from referrals.extensions import db

    app = create_app()
    with app.app_context():
        agent = Identity.for_user(db.session.get(User, user_id))
        case = db.session.get(Case, case_id)
        baseline = peak_rss()
        started, cpu = time.perf_counter(), os.times()
        with unit_of_work(), open(path, "rb") as handle:
            item = add_evidence(agent, case, handle, original_name=path.name)
        seconds = time.perf_counter() - started
        return {"bytes": item.size, "seconds": seconds, **cpu_since(cpu),
                "baseline_rss": baseline, "peak_rss": peak_rss()}


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] not in MODES:
        raise SystemExit(__doc__)
    mode, path = sys.argv[1], Path(sys.argv[2])
    if mode == "prepare_app":
        emit(prepare_app_case())
        return
    if mode == "add_evidence":
        emit(add_evidence_through_app(path, int(sys.argv[3]), int(sys.argv[4])))
        return
    if mode == "blobstore":
        # Importing the referrals package costs ~35 MB; "before" should include it, so
        # that the difference is the ingest's own memory.
        import referrals.core.storage  # noqa: F401
    baseline = peak_rss()
    started, cpu = time.perf_counter(), os.times()
    if mode == "sha256":
        size = hash_file(path)
    elif mode == "copy":
        size = copy_file(path, Path(sys.argv[3]))
    elif mode == "pipeline":
        size = two_thread_pipeline(path, Path(sys.argv[3]))
    else:
        size = write_blob(path, Path(sys.argv[3]))
    seconds = time.perf_counter() - started
    emit({"bytes": size, "seconds": seconds, **cpu_since(cpu), "baseline_rss": baseline,
          "peak_rss": peak_rss()})


if __name__ == "__main__":
    main()
