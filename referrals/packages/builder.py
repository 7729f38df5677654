"""Build one package file: bag → tar → age → its shelf (a directory, or the S3 bucket:
``referrals.packages.shelf``), as one stream, crash-safe.

One stream through small buffers, so memory does not grow with the package; three busy
workers share the two cores, each in a process (or thread) of its own, handing bytes on
through shared memory (``age_process.Ring``: 4 slots of 1 MiB), never through a pipe:

- a thread of the builder writes the bag (tar) into ring A: each item's plaintext comes
  from the evidence store (decrypted as it goes) and is hashed against its intake SHA-256;
- the encrypting process (``age_process.py encrypt``) age-encrypts ring A into ring B
  with pyrage, which holds its process's GIL while it works and so has one to itself;
- the writing process (``age_process.py write``) hashes ring B for the ``.sha256``
  (reported on its standard error when it is done) and writes it: on a directory shelf to
  the age file itself (its standard output, the temporary name beside the final one),
  with ``O_DIRECT`` where the file system takes it;
- the calling thread mostly waits, reporting progress on the way. On a directory shelf it
  tells ``core.drop_behind`` how far the file got (which matters where ``O_DIRECT`` was
  refused: ``_await_encryption``); a shelf that is not a local file (S3) gets the bytes
  through a pipe (``_take_encrypted``). The size that reached the shelf must be the size
  the writing process reports having hashed.

Only a complete, fsynced file is renamed to its final name (on S3: a completed multipart
upload), with its ``.sha256`` and that file's SSH signature beside it. A build that fails or
is killed leaves only a ``.partial`` file (an incomplete upload), which the package sweep
clears. If the builder dies, the worker processes end too: killed, or at the end of their
input (what they then write stays under the ``.partial`` name, which nothing renames).
"""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from referrals.core.drop_behind import DropBehind
from referrals.core.signing import PlatformSigner
from referrals.packages.age_process import REPORT, Ring, RingWriter, WorkerGone, pin
from referrals.packages.bag import (PACKAGE_NAMESPACE, SIGNER_PRINCIPAL, BagProgress,
                                    PackageContents, write_bag)
from referrals.packages.recipients import parse_recipient
from referrals.packages.shelf import PARTIAL, DirectoryShelf, Shelf, remove_partial_packages

__all__ = ["PARTIAL", "BuiltPackage", "PackageBuildError", "build_package",
           "remove_partial_packages"]

AGE_PROCESS = Path(__file__).with_name("age_process.py")
CHUNK = 1024 * 1024
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux
# While the writing process writes the age file, how often the builder looks at how far it
# got (milliseconds): to send the written pages to the disk, and to tell progress.
WAKE_MS = 10


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


class _Workers:
    """The build's two worker processes (``age_process.py``) and the rings between them:
    the bag goes into ring A (``hand_over``), the encrypting process takes it to ring B, the
    writing process hashes that and writes it to ``output`` (the descriptor of the file
    being built) as its standard output, or, with None, to a pipe (``encrypted``)."""

    def __init__(self, recipients: list[str], output: int | None,
                 lanes: tuple[int, int] | None):
        self.lanes = lanes
        lanes_text = "-" if lanes is None else f"{lanes[0]},{lanes[1]}"
        self.processes: list[subprocess.Popen] = []
        self.ring = Ring.create("referrals-package-plaintext")
        passed: list[int] = []  # the children's ends, closed here once they have them
        try:
            emptied_a, returned_a = os.pipe()  # slots of ring A given back to this process
            self._emptied = emptied_a
            passed.append(returned_a)
            ring_out = Ring.new_fd("referrals-package-encrypted")
            passed.append(ring_out)
            emptied_b, returned_b = os.pipe()  # slots of ring B given back to the encryption
            passed += [emptied_b, returned_b]
            # The encrypting process's standard error goes to a file, read once it has ended:
            # a pipe nobody reads while it runs would stop it at its 64 KiB, ring B's records
            # still open.
            self._encrypting_said = tempfile.TemporaryFile()
            encrypting = _start("encrypt", lanes_text,
                                (self.ring.fd, returned_a, ring_out, emptied_b), recipients,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=self._encrypting_said)
            self.processes.append(encrypting)
            writing = _start("write", lanes_text, (ring_out, returned_b), [],
                             stdin=encrypting.stdout,
                             stdout=subprocess.PIPE if output is None else output,
                             stderr=subprocess.PIPE)
            self.processes.append(writing)
        except BaseException:
            self.stop()
            if self.processes:
                self.end_input()
            self.close()
            self.release()
            raise
        finally:
            for fd in passed:
                os.close(fd)
        self.ring.close_fd()  # the encrypting process has its own; the mapping stays here
        encrypting.stdout.close()  # the writing process's now
        self.hand_over = RingWriter(self.ring, encrypting.stdin.fileno(), emptied_a)
        self.encrypted = writing.stdout
        if self.encrypted is not None:
            _widen(self.encrypted.fileno())
        self.report = writing.stderr  # ends when the writing process ends

    def end_input(self) -> None:
        """The end of the bag (or of a failed one, after ``stop``)."""
        self.processes[0].stdin.close()

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            process.wait()

    def failure(self, written_said: bytes) -> str | None:
        """Wait for both. None if both ended well, else why not, in the words of the process
        that failed first in the chain's order of causes: the writing one (a full disk ends
        the encryption on a broken pipe), else the encrypting one (a refused recipient ends
        it before the writing process has anything to do)."""
        for process in self.processes:
            process.wait()
        encrypting, writing = self.processes
        self._encrypting_said.seek(0)
        for name, process, said in (("writing", writing, written_said),
                                    ("encrypting", encrypting, self._encrypting_said.read())):
            if process.returncode < 0:
                return f"the {name} process was stopped (signal {-process.returncode})"
            if process.returncode != 0:
                reason = said.decode(errors="replace").strip()
                return reason.splitlines()[-1] if reason else ""
        return None

    def close(self) -> None:
        """The pipes from the processes. (The records pipe into the encryption and the ring
        are the bag thread's, which may outlive a failed build: ``end_input``, ``release``.)"""
        for process in self.processes:
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()
        if self._encrypting_said is not None:
            self._encrypting_said.close()

    def release(self) -> None:
        """The ring's memory and the pipe its slots come back on, once the bag is done with
        them (called by the bag thread as it ends, or here if it never started)."""
        if self._emptied is not None:
            os.close(self._emptied)
            self._emptied = None
        if self.hand_over is not None:
            self.hand_over.release()
        self.ring.close()

    _emptied: int | None = None
    _encrypting_said = None
    hand_over: RingWriter | None = None


def _start(role: str, lanes: str, fds: tuple[int, ...], arguments: list[str],
           **pipes) -> subprocess.Popen:
    """``age_process.py ROLE LANES FD… ARGUMENT…``, given those descriptors and no other.

    -P: the script's folder is not put on the path (only pyrage and the standard library
    are imported). close_fds (the default) matters: a pipe of another build inherited here
    would never see its end."""
    return subprocess.Popen([sys.executable, "-P", str(AGE_PROCESS), role, lanes,
                             *(str(fd) for fd in fds), *arguments],
                            bufsize=0, pass_fds=fds, **pipes)


def _widen(fd: int) -> None:
    """1 MiB pipes (64 KiB by default): fewer hand-overs on the way back to an S3 shelf."""
    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, CHUNK)
    except OSError:  # not Linux, or above the system's limit: the default works, slower
        pass


def _lanes() -> tuple[int, int] | None:
    """The two CPUs of the build's lanes (``age_process``: each busy worker keeps to one,
    so that both get the same work), when this process may run on exactly two; else None."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return None
    return (cpus[0], cpus[1]) if len(cpus) == 2 else None


def _start_workers(recipients: list[str], output: int | None) -> _Workers:
    return _Workers(recipients, output, _lanes())


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
    handle = shelf.start(final)
    file = handle.local_file()  # a directory shelf's file: the writing process writes it
    try:
        workers = _start_workers(recipients, file)
    except BaseException:
        handle.discard()
        raise

    def produce() -> None:
        pin(workers.lanes[1] if workers.lanes else None)  # beside the output's hashing
        try:
            write_bag(workers.hand_over, contents,
                      sign=lambda data: signer.sign(data, PACKAGE_NAMESPACE),
                      allowed_signers=signer.allowed_signers(SIGNER_PRINCIPAL),
                      progress=progress)
            workers.hand_over.finish()
        except BaseException as error:  # handed to the building thread, which raises it
            failure.append(error)
            if not isinstance(error, WorkerGone):  # (then the workers ended on their own)
                workers.stop()  # before its input ends: a cut tar is never encrypted whole
        finally:
            workers.end_input()
            workers.release()

    producer = threading.Thread(target=produce, name=f"package {contents.label}", daemon=True)
    try:
        producer.start()
        if file is None:
            size, said = _take_encrypted(workers, handle, progress, on_progress,
                                         progress_every)
        else:
            size, said = _await_encryption(workers, file, progress, on_progress,
                                           progress_every)
        producer.join()
        reason = workers.failure(said)
        # The bag's own failure first; a worker gone only says the chain ended early.
        if failure and not isinstance(failure[0], WorkerGone):
            raise failure[0]
        if reason is not None:
            raise PackageBuildError("The package could not be built"
                                    + (f": {reason}" if reason else "."))
        if failure:
            raise failure[0]
        digest = _reported_sha256(said, size)
        handle.publish(before_publish)  # durable under its final name, whole (on a directory
        # shelf the fsync is short: the file was written past the page cache)
    except BaseException:
        workers.stop()  # its output is not wanted; the producer's writes end with it
        if producer.is_alive():
            producer.join(timeout=60)
        handle.discard()
        raise
    finally:
        if producer.ident is None:  # never started: its input and ring are closed here
            workers.end_input()
            workers.release()
        workers.close()
    checksum = f"{digest}  {final}\n".encode()
    shelf.put(final + ".sha256", checksum)
    shelf.put(final + ".sha256.sig", signer.sign(checksum, PACKAGE_NAMESPACE).encode())
    shelf.settle()
    return BuiltPackage(shelf.where(final), shelf.where(final + ".sha256"),
                        shelf.where(final + ".sha256.sig"), digest, size)


def _take_encrypted(workers: _Workers, handle, progress: BagProgress,
                    on_progress: Callable[[BagProgress], None] | None,
                    every: float) -> tuple[int, bytes]:
    """Copy the encrypted bytes to ``handle`` until the writing process ends, in one reused
    buffer. Returns (size, what that process said on its standard error).

    Progress is told from the plaintext side (the encryption hands its output on in slots
    of a MiB, so a slow source would show nothing for long), at most every ``every`` seconds and
    only when the payload moved on: a build that stalls stops its heartbeat, and its job's
    lease runs out as it should."""
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    source = workers.encrypted
    waiting = select.poll()
    waiting.register(source.fileno(), select.POLLIN)
    size, told = 0, -1
    next_report = time.monotonic() + every
    while True:
        if waiting.poll(max(1, int(every * 1000))):
            count = source.readinto(buffer)
            if not count:
                break
            handle.write(view[:count])
            size += count
        if (on_progress is not None and time.monotonic() >= next_report
                and progress.done_bytes != told):
            told = progress.done_bytes
            on_progress(progress)
            next_report = time.monotonic() + every
    return size, workers.report.read()


def _await_encryption(workers: _Workers, fd: int, progress: BagProgress,
                      on_progress: Callable[[BagProgress], None] | None,
                      every: float) -> tuple[int, bytes]:
    """Wait for the writing process, which writes the age file to ``fd`` itself, to end.
    Returns (the file's size, what the process said on its standard error).

    Meanwhile, every ``WAKE_MS``, how far the file got is told to ``core.drop_behind``.
    Written with ``O_DIRECT`` (the usual case) the file has no pages in the cache and this
    costs a few system calls; where the file system refused it, the pages written are sent
    to the disk and, once there, let go of, so the closing fsync has little left to wait for,
    a large package does not push everything else out of memory, and the writing goes into
    pages the cache has just freed rather than fresh ones. Progress is told as in
    ``_take_encrypted``."""
    said = bytearray()
    errors = workers.report.fileno()
    waiting = select.poll()
    waiting.register(errors, select.POLLIN)
    behind = DropBehind(fd)
    told = -1
    next_report = time.monotonic() + every
    while True:
        ended = False
        if waiting.poll(WAKE_MS):
            piece = os.read(errors, 4096)
            said += piece
            ended = not piece  # its standard error closed: the process has ended
        size = os.fstat(fd).st_size
        behind.wrote(size - behind.position)
        if ended:
            return size, bytes(said)
        if (on_progress is not None and time.monotonic() >= next_report
                and progress.done_bytes != told):
            told = progress.done_bytes
            on_progress(progress)
            next_report = time.monotonic() + every


def _reported_sha256(said: bytes, size: int) -> str:
    """The encrypted output's SHA-256, from the writing process's report (its last line
    on standard error), checked against the ``size`` that reached the shelf."""
    lines = said.decode(errors="replace").strip().splitlines()
    words = lines[-1].split() if lines else []
    if (len(words) != 3 or words[0] != REPORT or len(words[1]) != 64
            or any(c not in "0123456789abcdef" for c in words[1]) or not words[2].isdigit()):
        raise PackageBuildError("The package could not be encrypted: the writing process "
                                "ended without saying what it wrote.")
    if int(words[2]) != size:
        raise PackageBuildError(f"The package could not be encrypted: the writing process "
                                f"wrote {words[2]} bytes, {size} arrived.")
    return words[1]

