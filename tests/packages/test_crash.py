"""A build killed (SIGKILL, a real process) at random moments, many times: afterwards no
package is marked ready without a complete, verifiable file, no file under a final name is
incomplete, and the leftovers go when a worker starts."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyrage

from referrals.core.signing import PlatformSigner
from referrals.packages.builder import PARTIAL, remove_partial_packages
from referrals.packages.verify import verify_package

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("crash_build.py")
KILLS = 10
WRITING_PAUSE = 0.5  # crash_build.WRITING_PAUSE


def _environment(instance: Path) -> dict[str, str]:
    """The builds' own SQLite database (the invariant is read from it), whatever database
    the suite runs on."""
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return dict(environ, REFERRALS_ENV="test", REFERRALS_INSTANCE_PATH=str(instance),
                REFERRALS_JOBS_IMMEDIATE="false", PYTHONPATH=str(ROOT),
                DATABASE_URL=f"sqlite:///{instance / 'referrals.db'}")


def _start(environ, *arguments) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), *arguments], env=environ, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _build(environ, reference, user_id, recipient, kill_after: float | None,
           phase: str = "building") -> float:
    """Start a build; once its job reaches ``phase`` ("building": the job starts; "writing":
    the file is being written), kill it after ``kill_after`` seconds (None: let it finish).
    Returns how long the phase lasted."""
    process = _start(environ, "build", reference, user_id, recipient)
    assert process.stdout.readline().strip() == "building"
    if phase == "writing":
        assert process.stdout.readline().strip() == "writing"
    started = time.monotonic()
    if kill_after is None:
        if phase == "building":
            assert process.stdout.readline().strip() == "writing"
        assert process.stdout.readline().strip() == "built"
        assert process.wait(timeout=120) == 0
    else:
        time.sleep(kill_after)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    process.stdout.close()
    return time.monotonic() - started


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _check(instance: Path, identity, signer) -> tuple[int, int]:
    """The invariant. Returns (packages ready, partial files present)."""
    directory = instance / "packages"
    with sqlite3.connect(instance / "referrals.db") as database:
        rows = database.execute("SELECT label, status, sha256, size FROM evidence_packages").fetchall()
    ready = 0
    for label, status, sha256, size in rows:
        if status != "ready":
            continue
        ready += 1
        path = directory / f"{label}.tar.age"
        assert path.is_file() and path.stat().st_size == size and _sha256(path) == sha256, label
        checks = [c.name for c in verify_package(path, str(identity), signer)]
        assert checks[-1] == "bag signature"
    # A file under a final name is always whole: it decrypts to the end.
    for path in directory.glob("*.tar.age"):
        with open(path, "rb") as encrypted, open(os.devnull, "wb") as out:
            pyrage.decrypt_io(encrypted, out, [identity])
    return ready, len(list(directory.glob(f".*{PARTIAL}")))


def test_builds_killed_at_random_never_leave_a_ready_package_without_its_file(tmp_path):
    environ = _environment(tmp_path)
    setup = _start(environ, "setup")
    reference, user_id = setup.stdout.readline().split()
    assert setup.wait(timeout=300) == 0
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())

    # Whole builds, to know how long the job and its file take.
    job = _build(environ, reference, user_id, recipient, None)
    _build(environ, reference, user_id, recipient, None, "writing")
    signer = PlatformSigner.from_file(tmp_path / "signing-key")
    assert _check(tmp_path, identity, signer)[0] == 2

    chance = random.Random(time.time())
    partial_seen = 0
    for n in range(KILLS):
        # Half anywhere in the job (the cover letter, the file, the records), half while
        # the file is written.
        if n % 2:  # within the pause crash_build makes once the file has its first bytes
            _build(environ, reference, user_id, recipient,
                   chance.uniform(0, WRITING_PAUSE * 0.8), "writing")
        else:
            _build(environ, reference, user_id, recipient, chance.uniform(0, job * 1.1))
        ready, partial = _check(tmp_path, identity, signer)
        partial_seen += partial > 0
    assert partial_seen >= 1, "no kill landed while a file was being written"

    # A worker starting removes what the killed builds left.
    remove_partial_packages(tmp_path / "packages")
    assert not list((tmp_path / "packages").glob(f".*{PARTIAL}"))
    _build(environ, reference, user_id, recipient, None)
    assert _check(tmp_path, identity, signer)[0] >= 3
