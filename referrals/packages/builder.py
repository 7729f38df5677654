"""Build one package file: bag → tar → age → its shelf (a directory, or the S3 bucket:
``referrals.packages.shelf``), as one stream, crash-safe.

Three workers share the two cores, joined by pipes, so memory does not grow with the
package:

- a thread writes the bag (tar): each item's plaintext comes from the evidence store
  (decrypted as it goes) and is hashed against its intake SHA-256;
- a process of its own (``age_process.py``) age-encrypts it with pyrage, which holds the
  GIL while it encrypts and so cannot share a process with the rest;
- the calling thread takes the encrypted bytes, hashes them for the ``.sha256`` and writes
  them to a temporary name beside the final one, reporting progress on the way.

Hashing and file I/O let go of the GIL, so the two threads overlap; all pieces are 1 MiB.
Only a complete, fsynced file is renamed to its final name (on S3: a completed multipart
upload), with its ``.sha256`` and that file's SSH signature beside it. A build that fails or
is killed leaves only a ``.partial`` file (an incomplete upload), which the package sweep
clears; the encrypting process
ends with it (a broken pipe) and writes nothing anywhere.
"""

from __future__ import annotations

import fcntl
import hashlib
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from referrals.core.signing import PlatformSigner
from referrals.packages.bag import (PACKAGE_NAMESPACE, SIGNER_PRINCIPAL, BagProgress,
                                    PackageContents, write_bag)
from referrals.packages.recipients import parse_recipient
from referrals.packages.shelf import (PARTIAL, DirectoryShelf, Shelf, remove_partial_packages,
                                      write_all)

__all__ = ["PARTIAL", "BuiltPackage", "PackageBuildError", "build_package",
           "remove_partial_packages"]

AGE_PROCESS = Path(__file__).with_name("age_process.py")
CHUNK = 1024 * 1024
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux


class PackageBuildError(Exception):
    """The encryption could not be done (the message says why); nothing was published."""


@dataclass(frozen=True)
class BuiltPackage:
    # Where each file is: a path in a directory shelf, the object's key on a bucket shelf.
    path: PurePosixPath  # <label>.tar.age
    checksum_path: PurePosixPath  # <label>.tar.age.sha256
    signature_path: PurePosixPath  # <label>.tar.age.sha256.sig
    sha256: str
    size: int


class _PipeWriter:
    """The bag's output: the encrypting process's standard input."""

    def __init__(self, fd: int):
        self.fd = fd

    def write(self, data) -> int:
        write_all(self.fd, data)
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


def build_package(contents: PackageContents, recipients: list[str], directory: Path | Shelf,
                  signer: PlatformSigner, *,
                  on_progress: Callable[[BagProgress], None] | None = None,
                  progress_every: float = 1.0,
                  before_publish: Callable[[], None] | None = None) -> BuiltPackage:
    """Write ``<label>.tar.age`` (+ ``.sha256`` and its ``.sig``) into ``directory`` (or onto
    the shelf given: ``referrals.packages.shelf``).

    ``on_progress`` is called in this thread with how far the payload got, at most every
    ``progress_every`` seconds, while the payload moves on. ``before_publish`` is called once
    the file is whole and fsynced, just before it takes its final name: raising there (the
    build was withdrawn, or its job taken over) publishes nothing."""
    if not recipients:
        raise ValueError("a package needs at least one recipient")
    for recipient in recipients:
        parse_recipient(recipient)  # a plain refusal before anything starts
    shelf = DirectoryShelf(directory) if isinstance(directory, Path) else directory
    final = f"{contents.label}.tar.age"
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
    handle = shelf.start(final)
    try:
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
        handle.publish(before_publish)  # durable under its final name, whole
    except BaseException:
        _stop(encryption)  # its output is not wanted; the producer's writes end with it
        if producer.is_alive():
            producer.join(timeout=60)
        handle.discard()
        raise
    finally:
        encryption.stdin.close()
        encryption.stdout.close()
        encryption.stderr.close()
    checksum = f"{digest}  {final}\n".encode()
    shelf.put(final + ".sha256", checksum)
    shelf.put(final + ".sha256.sig", signer.sign(checksum, PACKAGE_NAMESPACE).encode())
    shelf.settle()
    return BuiltPackage(shelf.where(final), shelf.where(final + ".sha256"),
                        shelf.where(final + ".sha256.sig"), digest, size)


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
            handle.write(piece)
            size += count
        if (on_progress is not None and time.monotonic() >= next_report
                and progress.done_bytes != told):
            told = progress.done_bytes
            on_progress(progress)
            next_report = time.monotonic() + every
    return digest.hexdigest(), size
