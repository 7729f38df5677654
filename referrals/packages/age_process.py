"""The package's two worker processes, and the shared memory they are handed bytes through.

A build is three busy processes on the two cores, each single-minded, none waiting for
another's GIL:

1. the builder's bag thread writes the tar (store → AES-GCM → intake SHA-256 → tar) into
   ring A;
2. ``age_process.py encrypt`` age-encrypts ring A into ring B with pyrage's ``encrypt_io``;
3. ``age_process.py write`` hashes ring B (for the outer ``.sha256``) and writes it to its
   standard output: the package's temporary file (on a directory shelf, with ``O_DIRECT``
   where the file system takes it) or a pipe back to the builder (S3). Its last line on
   standard error, once all is written, is ``REPORT`` with the output's SHA-256 and size.

Why processes: pyrage's ``encrypt_io`` holds the GIL for the whole encryption (it calls back
into Python to read and write, and never lets go in between), so no other thread of its
process can run Python code while it works. Measured with a hashing and writing thread
beside it in one process (before this layout): the two took turns for the GIL and the
process alone took 1.8 s for 1 GiB where its busier thread needed 1.35 CPU s.

Why rings and not pipes: a pipe allocates, copies, copies and frees a page for every 4 KiB,
0.7 CPU s per GiB between two processes, and each hop costs it. A ring (``Ring``) is a memfd
of ``SLOTS`` slots of ``SLOT`` bytes mapped by both sides: the writer fills a slot, sends a
4-byte record (how much of it is filled) on a pipe, and the reader gives the slot back with
one byte on another pipe. Two small system calls a MiB; one copy in, and none out where the
reader can use the slot where it lies (hashing, ``O_DIRECT``). The plaintext is never written
to a file: a memfd is memory. The side that writes a ring seals it against every other writer
once it has mapped it (``F_SEAL_FUTURE_WRITE``): a process of the same user that opened it
through ``/proc/<pid>/fd`` could read the bytes (as it could read the processes' memory) but
not change them after their intake hash was checked. Like any process memory, its pages may
go to swap where swap is configured.

Why ``O_DIRECT`` for the file: written through the page cache, each GiB costs the writer
0.4 s of system CPU in fresh pages, and the builder 0.2 s more sending them to the disk and
dropping them (``core.drop_behind``). From a ring slot (page-aligned, 1 MiB long) the
disk reads the bytes itself.

Lanes, on a machine (or a cgroup) of exactly two CPUs: the builder hands the two workers
the CPUs as ``LANES`` and each busy thread keeps to one, so that each CPU gets the same work:
the encryption and the writing thread on the first (1.3-1.4 + 0.2 CPU s per GiB), the bag
and the hashing thread on the second (1.0 + 0.65). Left to itself the scheduler gave the
encryption, never idle, a CPU of its own and the three others the second one: that CPU's
work was the build's wall time (1.8 s where the lanes take 1.55-1.65, measured side by side
on the quiet machine). With one CPU, or three and more, there are no lanes (``-``).

Run by the builder as ``python -P age_process.py encrypt|write …`` (so they start in a few
milliseconds: only the standard library and pyrage are loaded); the builder
imports this module for ``Ring``, ``RingWriter`` and ``REPORT``. Ends: when the builder dies,
its end of ring A's records closes: the encryption ends its (cut) tar, the writer writes it
under the ``.partial`` name, which nothing renames and the package sweep removes. When a
process ends early, the one before it finds the slots never given back (end of file on the
"emptied" pipe) and stops with ``BrokenPipeError``.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import mmap
import os
import queue
import stat
import sys
import threading
from collections import deque

import pyrage

SLOT = 1024 * 1024
SLOTS = 4
RECORD = 4  # a record: how many bytes of the next slot are filled, big-endian
# The report's first word; the builder reads ``REPORT <sha256 hex> <size>``.
REPORT = "encrypted"
# memfd_create's MFD_NOEXEC_SEAL (Linux 6.3) and F_SEAL_FUTURE_WRITE (Linux 5.1), which
# Python 3.11 does not name.
MFD_NOEXEC_SEAL = getattr(os, "MFD_NOEXEC_SEAL", 0x0008)
F_SEAL_FUTURE_WRITE = getattr(fcntl, "F_SEAL_FUTURE_WRITE", 0x0010)
# O_DIRECT writes must start, end and lie in memory on this boundary (a page: a multiple of
# every logical block size in use).
ALIGN = 4096


class Ring:
    """The shared memory of one hand-over: created by the builder (``Ring.create``), whose
    children map it again from the descriptor they inherit (``Ring.open``)."""

    def __init__(self, fd: int, size: int, *, writable: bool):
        self.fd = fd
        self.size = size
        self.map = mmap.mmap(fd, size, prot=mmap.PROT_READ | (mmap.PROT_WRITE if writable
                                                               else 0))
        self.view = memoryview(self.map)

    @staticmethod
    def new_fd(name: str) -> int:
        """A memfd the size of a ring, closed on exec (a child gets it through pass_fds),
        never executable (sealed so where the kernel can: some refuse a memfd otherwise),
        open to the writer's seal (``seal_writes``)."""
        flags = os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING
        try:
            fd = os.memfd_create(name, flags | MFD_NOEXEC_SEAL)
        except OSError as error:
            if error.errno != errno.EINVAL:  # a kernel before 6.3 does not know the flag
                raise
            fd = os.memfd_create(name, flags)
        try:
            os.ftruncate(fd, SLOTS * SLOT)
        except BaseException:
            os.close(fd)
            raise
        return fd

    @classmethod
    def create(cls, name: str) -> Ring:
        """A new ring, mapped to be written here (and sealed against any other writer)."""
        fd = cls.new_fd(name)
        try:
            ring = cls(fd, os.fstat(fd).st_size, writable=True)
        except BaseException:
            os.close(fd)
            raise
        ring.seal_writes()
        return ring

    @classmethod
    def open(cls, fd: int, *, writable: bool) -> Ring:
        """Map the ring a parent passed (to be written here: then sealed against any other
        writer), then close the descriptor (the mapping stays)."""
        ring = cls(fd, os.fstat(fd).st_size, writable=writable)
        if writable:
            ring.seal_writes()
        ring.close_fd()
        return ring

    def seal_writes(self) -> None:
        """From now on, no write and no writable mapping through any descriptor of this
        memfd: only the mapping already made here writes it. Best effort (a kernel before
        5.1 does not know the seal; the ring works the same without it)."""
        try:
            fcntl.fcntl(self.fd, fcntl.F_ADD_SEALS,
                        F_SEAL_FUTURE_WRITE | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
        except OSError:
            pass

    def close_fd(self) -> None:
        """Close the descriptor; the mapping stays usable until ``close``."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def slot(self, number: int) -> memoryview:
        start = (number % (self.size // SLOT)) * SLOT
        return self.view[start:start + SLOT]

    def close(self) -> None:
        """Unmap (every slot view handed out must have been released) and close the fd."""
        self.view.release()
        self.map.close()
        self.close_fd()


class WorkerGone(BrokenPipeError):
    """The process after this one ended: nothing more can be handed on."""


class RingWriter:
    """The writing end: ``write`` fills the slots in turn, each handed on with a record on
    ``records`` once full; ``finish`` hands on the last one. Waits on ``emptied`` for a slot
    given back when all are in use; its end there means the reader is gone."""

    def __init__(self, ring: Ring, records: int, emptied: int):
        self._ring = ring
        self._records, self._emptied = records, emptied
        self._free = ring.size // SLOT
        self._handed = 0  # slots handed on so far
        self._slot: memoryview | None = None
        self._fill = 0  # bytes in it

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        size = len(view)
        while view:
            if self._slot is None:
                self._take_slot()
            count = min(len(view), SLOT - self._fill)
            self._slot[self._fill:self._fill + count] = view[:count]
            self._fill += count
            view = view[count:]
            if self._fill == SLOT:
                self._hand_on()
        return size

    def flush(self) -> None:
        """Nothing to do: slots go on as they fill, the last one at ``finish``."""

    def finish(self) -> None:
        if self._fill:
            self._hand_on()
        self.release()

    def release(self) -> None:
        """Let go of the slot being filled, handed on or not (before the ring is closed)."""
        if self._slot is not None:
            self._slot.release()
            self._slot, self._fill = None, 0

    def _take_slot(self) -> None:
        while self._free == 0:
            returned = os.read(self._emptied, 64)
            if not returned:
                raise WorkerGone(errno.EPIPE, "the next process of the build ended")
            self._free += len(returned)
        self._slot = self._ring.slot(self._handed)
        self._free -= 1

    def _hand_on(self) -> None:
        try:
            _write_all(self._records, self._fill.to_bytes(RECORD, "big"))
        except BrokenPipeError as error:
            raise WorkerGone(errno.EPIPE, "the next process of the build ended") from error
        self._slot.release()
        self._slot, self._fill = None, 0
        self._handed += 1


class RingReader:
    """The reading end: ``take`` is the next filled slot, as a view of the ring where it lies
    (None at the end of ``records``); ``give_back`` returns the oldest slot taken to the
    writer (a byte on ``emptied``), after which its view is no longer readable. Taking and
    giving back may be done by two threads (in order, each by one)."""

    def __init__(self, ring: Ring, records: int, emptied: int):
        self._ring = ring
        self._records, self._emptied = records, emptied
        self._taken = 0
        self._held: deque[tuple[memoryview, memoryview]] = deque()

    def take(self) -> memoryview | None:
        record = _read_exactly(self._records, RECORD)
        if not record:
            return None
        length = int.from_bytes(record, "big") if len(record) == RECORD else 0
        if not 0 < length <= SLOT:
            raise OSError("age_process: the hand-over before this process is not readable")
        slot = self._ring.slot(self._taken)
        self._taken += 1
        piece = slot[:length]
        self._held.append((slot, piece))
        return piece

    def give_back(self) -> None:
        for view in self._held.popleft():
            view.release()
        if self._emptied < 0:
            return
        try:
            os.write(self._emptied, b"\0")
        except BrokenPipeError:
            pass  # the writing side has ended: it needs no slot back

    def stop_giving_back(self) -> None:
        """Close this end of ``emptied``: the writer, waiting for a slot, finds its end."""
        if self._emptied >= 0:
            os.close(self._emptied)
            self._emptied = -1

    def close(self) -> None:
        """Let go of the slots still held (not given back: their writer is gone or done)."""
        while self._held:
            for view in self._held.popleft():
                view.release()


class RingInput(io.RawIOBase):
    """A ``RingReader`` as a raw file, for a ``BufferedReader`` of SLOT bytes (pyrage reads
    8 KiB at a time: from the buffer, each is a copy, not a call into this class). Each slot
    is given back as soon as it is copied out."""

    def __init__(self, reader: RingReader):
        self._reader = reader
        self._slot: memoryview | None = None
        self._at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._slot is None:
            self._slot, self._at = self._reader.take(), 0
            if self._slot is None:
                return 0  # the end
        count = min(len(buffer), len(self._slot) - self._at)
        buffer[:count] = self._slot[self._at:self._at + count]
        self._at += count
        if self._at == len(self._slot):
            self._slot = None
            self._reader.give_back()
        return count


def _read_exactly(fd: int, count: int) -> bytes:
    data = b""
    while len(data) < count:
        piece = os.read(fd, count - len(data))
        if not piece:
            break
        data += piece
    return data


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def lanes_of(text: str) -> tuple[int, int] | None:
    """``LANES`` on the command line: ``FIRST,SECOND`` (CPU numbers) or ``-`` (none)."""
    if text == "-":
        return None
    first, second = (int(part) for part in text.split(","))
    return first, second


def pin(cpu: int | None) -> None:
    """Keep the calling thread on ``cpu`` (None: wherever the scheduler likes). Best effort:
    a CPU taken away meanwhile (a cgroup's cpuset changed) leaves the thread unpinned."""
    if cpu is None:
        return
    try:
        os.sched_setaffinity(0, {cpu})  # 0: the calling thread, on Linux
    except (OSError, AttributeError):
        pass


def _recipient(text: str):
    if text.startswith("age1"):
        return pyrage.x25519.Recipient.from_str(text)
    return pyrage.ssh.Recipient.from_str(text)


def encrypt(lanes: tuple[int, int] | None, ring_in: int, emptied_in: int, ring_out: int,
            emptied_out: int, recipient_texts: list[str]) -> int:
    """Ring A (records on standard input) → pyrage → ring B (records on standard output)."""
    pin(lanes[0] if lanes else None)
    try:
        recipients = [_recipient(text) for text in recipient_texts]
    except pyrage.RecipientError as error:
        sys.stderr.write(f"age_process: a recipient is not valid ({error})\n")
        return 2
    source, target = Ring.open(ring_in, writable=False), Ring.open(ring_out, writable=True)
    output = RingWriter(target, 1, emptied_out)
    with io.BufferedReader(RingInput(RingReader(source, 0, emptied_in)),
                           buffer_size=SLOT) as plaintext:
        pyrage.encrypt_io(plaintext, output, recipients)
    output.finish()
    return 0


class DirectWriter:
    """Writes whole slots to ``fd`` with ``O_DIRECT`` when ``fd`` is a regular file that
    takes it (the disk reads the slot itself; nothing enters the page cache), the plain way
    otherwise: a pipe, a file system that refuses it, the unaligned end of the file."""

    def __init__(self, fd: int):
        self.fd = fd
        self.direct = False
        if stat.S_ISREG(os.fstat(fd).st_mode):  # never on a pipe: there it means packets
            try:
                fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_DIRECT)
                self.direct = True
            except OSError:
                pass

    def write(self, view: memoryview) -> None:
        if self.direct:
            aligned = len(view) - len(view) % ALIGN
            done = 0
            while done < aligned:
                try:
                    done += os.write(self.fd, view[done:aligned])
                except OSError as error:
                    if error.errno != errno.EINVAL:
                        raise
                    # Refused (the file system, or a short write that left the file
                    # unaligned): nothing of this call was written; the plain way from here.
                    break
            view = view[done:]
            if view:
                self.plain()
        _write_all(self.fd, view)

    def plain(self) -> None:
        """Writes the plain way from here (``O_DIRECT`` off)."""
        if self.direct:
            fcntl.fcntl(self.fd, fcntl.F_SETFL,
                        fcntl.fcntl(self.fd, fcntl.F_GETFL) & ~os.O_DIRECT)
            self.direct = False


def write(lanes: tuple[int, int] | None, ring_in: int, emptied_in: int) -> int:
    """Ring B (records on standard input) → SHA-256 → standard output; then the report.

    This thread hashes; a second one writes, in order, and gives each slot back once it is
    written, so that hashing the next slot is not held up by the disk (an ``O_DIRECT`` write
    returns once the device has taken the bytes; they are durable only after the fsync at
    publication, as before). Both let go of the GIL while they work."""
    reader = RingReader(Ring.open(ring_in, writable=False), 0, emptied_in)
    out = DirectWriter(1)
    written = WrittenInOrder(out, reader, lanes[0] if lanes else None)  # starts unpinned
    pin(lanes[1] if lanes else None)
    digest = hashlib.sha256()
    size = 0
    try:
        while (slot := reader.take()) is not None:
            digest.update(slot)
            size += len(slot)
            written.put(slot)
    finally:
        written.close()
    if written.failure is not None:
        failure = written.failure
        sys.stderr.write(f"age_process: the package file could not be written "
                         f"({failure or type(failure).__name__})\n")
        return 1
    out.plain()  # the file's description is the builder's too: leave it as it came
    # Only now, all of it written: the report.
    sys.stderr.write(f"{REPORT} {digest.hexdigest()} {size}\n")
    return 0


class WrittenInOrder:
    """Writes the slots ``put`` here, in order, on a thread of its own, giving each back to
    ``reader`` once written. A failed write is kept in ``failure``; the slots are then no
    longer given back, and the writer's end of ``emptied`` is closed, so that the process
    before this one stops (its wait for a slot ends) and this one's input ends with it."""

    def __init__(self, out: DirectWriter, reader: RingReader, cpu: int | None = None):
        self._out, self._reader, self._cpu = out, reader, cpu
        self.failure: BaseException | None = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="written in order")
        self._thread.start()

    def put(self, slot: memoryview) -> None:
        self._queue.put(slot)

    def close(self) -> None:
        """Wait for every slot put to be written (or the failure)."""
        self._queue.put(None)
        self._thread.join()
        self._reader.close()

    def _run(self) -> None:
        pin(self._cpu)
        while (slot := self._queue.get()) is not None:
            if self.failure is not None:
                continue
            try:
                self._out.write(slot)
                self._reader.give_back()
            except BaseException as error:  # noqa: BLE001 -- told by the process, then
                self.failure = error        # the chain stops (nothing waits for a slot)
                self._reader.stop_giving_back()


def main(arguments: list[str]) -> int:
    role, *rest = arguments or [""]
    try:
        if role == "encrypt" and len(rest) >= 6:
            return encrypt(lanes_of(rest[0]), *(int(fd) for fd in rest[1:5]), rest[5:])
        if role == "write" and len(rest) == 3:
            return write(lanes_of(rest[0]), *(int(fd) for fd in rest[1:]))
    except ValueError:
        pass
    sys.stderr.write("age_process: usage: age_process.py encrypt LANES RING_IN EMPTIED_IN "
                     "RING_OUT EMPTIED_OUT RECIPIENT… | write LANES RING_IN EMPTIED_IN\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
