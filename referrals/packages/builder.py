"""Build one package file: bag → tar → age → disk, as one stream, crash-safe.

Three workers share the two cores, joined by pipes, so memory does not grow with the
package:

- a thread writes the bag (tar): each item's plaintext comes from the evidence store
  (decrypted as it goes) and is hashed against its intake SHA-256;
- a process of its own (``age_process.py``) age-encrypts it with pyrage, which holds the
  GIL while it encrypts and so cannot share a process with the rest;
- the calling thread takes the encrypted bytes, hashes them for the ``.sha256`` and writes
  them to a temporary name beside the final one, reporting progress on the way.

Hashing and file I/O let go of the GIL, so the two threads overlap; all pieces are 1 MiB.
Only a complete, fsynced file is renamed to its final name, with its ``.sha256`` and that
file's SSH signature beside it. A build that fails or is killed leaves only a ``.partial``
file, which ``remove_partial_packages`` (and the next build) clears; the encrypting process
ends with it (a broken pipe) and writes nothing anywhere.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from referrals.core.objectstore import fsync_directory
from referrals.core.signing import PlatformSigner
from referrals.packages.bag import (PACKAGE_NAMESPACE, SIGNER_PRINCIPAL, BagProgress,
                                    PackageContents, write_bag)
from referrals.packages.recipients import parse_recipient

AGE_PROCESS = Path(__file__).with_name("age_process.py")
CHUNK = 1024 * 1024
PARTIAL = ".partial"
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux


class PackageBuildError(Exception):
    """The encryption could not be done (the message says why); nothing was published."""


@dataclass(frozen=True)
class BuiltPackage:
    path: Path  # <label>.tar.age
    checksum_path: Path  # <label>.tar.age.sha256
    signature_path: Path  # <label>.tar.age.sha256.sig
    sha256: str
    size: int


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _PipeWriter:
    """The bag's output: the encrypting process's standard input."""

    def __init__(self, fd: int):
        self.fd = fd

    def write(self, data) -> int:
        _write_all(self.fd, data)
        return len(data)


def _widen(fd: int) -> None:
    """1 MiB pipes (64 KiB by default): fewer hand-overs between the three workers."""
    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, CHUNK)
    except OSError:  # not Linux, or above the system's limit: the default works, slower
        pass


def _start_encryption(recipients: list[str]) -> subprocess.Popen:
    # -P: the script's folder is not put on the path (only pyrage and the standard library
    # are imported). close_fds (the default) matters: a pipe of another build inherited
    # here would never see its end.
    process = subprocess.Popen([sys.executable, "-P", str(AGE_PROCESS), *recipients],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, bufsize=0)
    _widen(process.stdin.fileno())
    _widen(process.stdout.fileno())
    return process


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}{PARTIAL}")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def remove_partial_packages(directory: Path, older_than: float = 0) -> list[Path]:
    """Leftovers of builds that did not finish (crash, kill, refusal). ``older_than``
    (seconds): spare the files a build still running may be writing."""
    removed = []
    if not directory.is_dir():
        return removed
    limit = time.time() - older_than
    for path in directory.glob(f".*{PARTIAL}"):
        try:
            if older_than and path.stat().st_mtime > limit:
                continue
        except FileNotFoundError:
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def build_package(contents: PackageContents, recipients: list[str], directory: Path,
                  signer: PlatformSigner, *,
                  on_progress: Callable[[BagProgress], None] | None = None,
                  progress_every: float = 1.0,
                  before_publish: Callable[[], None] | None = None) -> BuiltPackage:
    """Write ``<label>.tar.age`` (+ ``.sha256`` and its ``.sig``) into ``directory``.

    ``on_progress`` is called in this thread with how far the payload got, at most every
    ``progress_every`` seconds, while the payload moves on. ``before_publish`` is called once
    the file is whole and fsynced, just before it takes its final name: raising there (the
    build was withdrawn, or its job taken over) publishes nothing."""
    if not recipients:
        raise ValueError("a package needs at least one recipient")
    for recipient in recipients:
        parse_recipient(recipient)  # a plain refusal before anything starts
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{contents.label}.tar.age"
    temporary = directory / f".{final.name}.{uuid.uuid4().hex}{PARTIAL}"
    progress = BagProgress(files=len(contents.files),
                           total_bytes=sum(item.size for item in contents.files))
    failure: list[BaseException] = []
    encryption = _start_encryption(recipients)

    def produce() -> None:
        try:
            write_bag(_PipeWriter(encryption.stdin.fileno()), contents,
                      sign=lambda data: signer.sign(data, PACKAGE_NAMESPACE),
                      allowed_signers=signer.allowed_signers(SIGNER_PRINCIPAL),
                      progress=progress)
        except BaseException as error:  # handed to the building thread, which raises it
            failure.append(error)
            _stop(encryption)  # before its input ends: a cut tar is never encrypted whole
        finally:
            encryption.stdin.close()

    producer = threading.Thread(target=produce, name=f"package {contents.label}", daemon=True)
    try:
        with open(temporary, "wb", buffering=0) as handle:
            producer.start()
            digest, size = _take_encrypted(encryption, handle, progress, on_progress,
                                           progress_every)
            producer.join()
            ended = encryption.wait()
            # The bag's own failure first; a broken pipe only says the encryption ended early.
            if failure and not isinstance(failure[0], BrokenPipeError):
                raise failure[0]
            if ended != 0:
                reason = encryption.stderr.read().decode(errors="replace").strip()
                raise PackageBuildError("The package could not be encrypted"
                                        + (f": {reason.splitlines()[-1]}" if reason else "."))
            if failure:
                raise failure[0]
            os.fsync(handle.fileno())
        if before_publish is not None:
            before_publish()
        os.replace(temporary, final)
    except BaseException:
        _stop(encryption)  # its output is not wanted; the producer's writes end with it
        if producer.is_alive():
            producer.join(timeout=60)
        temporary.unlink(missing_ok=True)
        raise
    finally:
        encryption.stdin.close()
        encryption.stdout.close()
        encryption.stderr.close()
    checksum = f"{digest}  {final.name}\n".encode()
    checksum_path = final.with_name(final.name + ".sha256")
    signature_path = checksum_path.with_name(checksum_path.name + ".sig")
    _write_atomically(checksum_path, checksum)
    _write_atomically(signature_path, signer.sign(checksum, PACKAGE_NAMESPACE).encode())
    fsync_directory(directory)
    return BuiltPackage(final, checksum_path, signature_path, digest, size)


def _take_encrypted(encryption: subprocess.Popen, handle, progress: BagProgress,
                    on_progress: Callable[[BagProgress], None] | None,
                    every: float) -> tuple[str, int]:
    """Copy the encrypted bytes to ``handle`` until the encryption ends, hashing them, in one
    reused buffer. Returns (SHA-256, size).

    Progress is told from the plaintext side (the encryption hands its output on a MiB at a
    time, so a slow source would show nothing for long), at most every ``every`` seconds and
    only when the payload moved on: a build that stalls stops its heartbeat, and its job's
    lease runs out as it should."""
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    source = encryption.stdout
    waiting = select.poll()
    waiting.register(source.fileno(), select.POLLIN)
    size, told = 0, -1
    next_report = time.monotonic() + every
    while True:
        if waiting.poll(max(1, int(every * 1000))):
            count = source.readinto(buffer)
            if not count:
                break
            piece = view[:count]
            digest.update(piece)  # hashlib lets the bag's thread run meanwhile
            _write_all(handle.fileno(), piece)
            size += count
        if (on_progress is not None and time.monotonic() >= next_report
                and progress.done_bytes != told):
            told = progress.done_bytes
            on_progress(progress)
            next_report = time.monotonic() + every
    return digest.hexdigest(), size
