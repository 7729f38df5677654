"""The package's age encryption, in a process of its own: plaintext on standard input,
the age file on standard output, the recipients as arguments. It also hashes what it
writes: its last line on standard error, once all is written, is ``REPORT`` with the
output's SHA-256 and size (what the builder puts in the ``.sha256``).

Why a process: pyrage's ``encrypt_io`` holds the GIL for the whole encryption (it calls
back into Python to read and write, and never lets go in between), so no thread of the
building process can hash, decrypt or write while it runs: the two cores took turns and a
1 GiB build took 3.7 times as long as ``age -r``. In a process of its own it has a core to
itself while the builder's thread (store, intake hash, tar) runs on the other.

Why the output's hash is taken here and not by the builder reading the file back: a
second thread in the builder, hashing beside the one that writes the tar, made the two
take turns for the GIL and three busy workers share two cores (a 1 GiB build took 3.0-3.4 s
beside age's 1.7). Here the bytes are at hand anyway: pyrage's pieces are collected into
batches that a thread of this process joins, hashes and writes (``WrittenBehind``). Those
three let go of the GIL, so they run on the other core while pyrage encrypts the next
batch; hashing and writing in pyrage's own thread made it the slowest worker of the build
(2.3 CPU s per GiB, against 1.4 now).

Run by the builder as ``python -P age_process.py RECIPIENT…`` (so it starts in a few
milliseconds: only pyrage and the standard library are loaded); the builder imports it
only to read ``REPORT``. The recipients were checked by ``recipients.parse_recipient``
before; the same two constructors read them here. Nothing is written anywhere but standard
output, which is the package's temporary file (on a directory shelf) or a pipe back to the
builder, and the report on standard error. A builder that dies closes this process's
input: it ends, on a broken pipe, or having encrypted a cut tar into a temporary file that
nothing will rename and the package sweep removes.
"""

from __future__ import annotations

import hashlib
import os
import queue
import sys
import threading

import pyrage

# pyrage reads 8 KiB at a time: from a 1 MiB buffer, each read is a copy, not a system call.
BUFFER = 1024 * 1024
# Its 64 KiB encrypted chunks are handed to the writing thread in batches of this size, at
# most QUEUED batches waiting: about 2 + 2 × 2 MiB held.
BATCH = 2 * 1024 * 1024
QUEUED = 2
# The report's first word; the builder reads ``REPORT <sha256 hex> <size>``.
REPORT = "encrypted"


class WrittenBehind:
    """What pyrage writes to. Its pieces are collected into batches, which a thread of their
    own joins, hashes and writes to ``fd``: all three let go of the GIL, which pyrage holds
    while it encrypts, so they run on the other core, beside the encryption, not after it.
    The GIL changes hands once a batch (and when pyrage reads its input), not once a piece.

    ``close()`` when pyrage is done: it waits for the last batch to be written. A failed
    write (a full disk, the builder gone) is raised by the next ``write`` or by ``close``."""

    def __init__(self, fd: int):
        self.fd = fd
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._batch: list = []
        self._batched = 0
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUED)
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._write_batches, name="written behind",
                                        daemon=True)
        self._thread.start()

    def write(self, data) -> int:
        self._batch.append(bytes(data))  # its own copy only if pyrage lends a buffer
        self._batched += len(data)
        if self._batched >= BATCH:
            self._hand_on()
        return len(data)

    def flush(self) -> None:
        """Nothing to do: the batches go out as they fill, the last one at ``close``."""

    def close(self) -> None:
        if self._batch:
            self._hand_on()
        self._queue.put(None)
        self._thread.join()
        if self._failure is not None:
            raise self._failure

    def _hand_on(self) -> None:
        if self._failure is not None:
            raise self._failure
        self._queue.put(self._batch)
        self._batch, self._batched = [], 0

    def _write_batches(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._failure is not None:
                continue  # failed: take what comes, so that write and close never wait
            try:
                data = b"".join(batch)  # a large join lets go of the GIL while it copies
                self.sha256.update(data)
                view = memoryview(data)
                while view:
                    view = view[os.write(self.fd, view):]
                self.size += len(data)
            except BaseException as error:  # noqa: BLE001 -- raised in the encrypting thread
                self._failure = error


def _recipient(text: str):
    if text.startswith("age1"):
        return pyrage.x25519.Recipient.from_str(text)
    return pyrage.ssh.Recipient.from_str(text)


def main(arguments: list[str]) -> int:
    if not arguments:
        sys.stderr.write("age_process: no recipient given\n")
        return 2
    try:
        recipients = [_recipient(text) for text in arguments]
    except pyrage.RecipientError as error:
        sys.stderr.write(f"age_process: a recipient is not valid ({error})\n")
        return 2
    output = WrittenBehind(1)
    with open(0, "rb", buffering=BUFFER, closefd=False) as plaintext:
        pyrage.encrypt_io(plaintext, output, recipients)
    output.close()
    # Only now, all of it written: the report.
    sys.stderr.write(f"{REPORT} {output.sha256.hexdigest()} {output.size}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
