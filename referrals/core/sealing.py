"""The ingest pipeline: a stream hashed (MD5, SHA-1, SHA-256) and sealed (AES-256-GCM, chunk by
chunk) on two cores, into the stored blob layout ``referrals.core.storage`` describes.

Three threads share a few 1 MiB buffers, reused for the whole stream (a fresh buffer per chunk
would cost a page fault per 4 KiB, about 257,000 per GiB):

- the caller's thread reads the stream into a free buffer (``readinto``), looking one chunk
  ahead to know which is the last, and hands each chunk to both workers;
- one worker feeds MD5 (the slowest of the four primitives alone);
- the other feeds SHA-1 and SHA-256, seals the chunk into its own reused output buffer and
  writes it.

hashlib and the cipher let go of the GIL while they work on a chunk, so the two workers run at
once. A buffer goes back to the reader when both workers are done with it: memory stays at
``BUFFERS`` chunks whatever the size of the stream. The bytes written are exactly those of
the one-thread loop this replaced (same nonces, additional data and layout): every existing
reader reads them.
"""

from __future__ import annotations

import hashlib
import queue
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CHUNK = 1024 * 1024
BUFFERS = 4
HEAD_BYTES = 8192
TAG = 16
_STOP = None


@dataclass(frozen=True)
class Sealed:
    size: int
    md5: str
    sha1: str
    sha256: str
    head: bytes


def chunk_aad(header: bytes, index: int, last: bool) -> bytes:
    """The additional data of chunk ``index``: the file's header, the index, whether last."""
    return header + struct.pack(">I?", index, last)


class TooLong(Exception):
    """The stream went past ``max_bytes``."""


def seal_stream(stream: BinaryIO, out: BinaryIO, *, key: bytes, header: bytes, prefix: bytes,
                max_bytes: int | None = None) -> Sealed:
    """Read ``stream`` to its end; write every sealed chunk to ``out`` (after the header the
    caller wrote); return the size, the three digests and the first bytes. Raises ``TooLong``
    past ``max_bytes``, and whatever reading or writing raised."""
    buffers = [bytearray(CHUNK) for _ in range(BUFFERS)]
    free: queue.Queue[int] = queue.Queue()
    for number in range(BUFFERS):
        free.put(number)
    holders = [0] * BUFFERS
    lock = threading.Lock()
    errors: list[BaseException] = []

    def done_with(number: int) -> None:
        with lock:
            holders[number] -= 1
            if holders[number] == 0:
                free.put(number)

    md5, sha1, sha256 = hashlib.md5(), hashlib.sha1(), hashlib.sha256()
    sealed = bytearray(4 + CHUNK + 64)  # length | ciphertext | tag, reused for every chunk
    sealed_view = memoryview(sealed)
    algorithm = algorithms.AES(key)

    def hash_md5(view: memoryview, index: int, last: bool) -> None:
        md5.update(view)

    def hash_and_seal(view: memoryview, index: int, last: bool) -> None:
        sha1.update(view)
        sha256.update(view)
        encryptor = Cipher(algorithm, modes.GCM(prefix + struct.pack(">I", index))).encryptor()
        encryptor.authenticate_additional_data(chunk_aad(header, index, last))
        written = encryptor.update_into(view, sealed_view[4:])
        rest = encryptor.finalize()  # GCM keeps nothing back; were it to, it goes here
        sealed_view[4 + written:4 + written + len(rest)] = rest
        written += len(rest)
        struct.pack_into(">I", sealed, 0, written + TAG)
        sealed_view[4 + written:4 + written + TAG] = encryptor.tag
        out.write(sealed_view[:4 + written + TAG])

    def worker(inbox: queue.Queue, work: Callable[[memoryview, int, bool], None]) -> None:
        while (item := inbox.get()) is not _STOP:
            number, length, index, last = item
            try:
                if not errors:
                    work(memoryview(buffers[number])[:length], index, last)
            except BaseException as error:  # noqa: BLE001 (raised in the caller's thread)
                errors.append(error)
            finally:
                done_with(number)

    inboxes = [queue.Queue(), queue.Queue()]
    threads = [threading.Thread(target=worker, args=(inboxes[0], hash_md5), daemon=True),
               threading.Thread(target=worker, args=(inboxes[1], hash_and_seal), daemon=True)]
    for thread in threads:
        thread.start()
    size, index, head = 0, 0, b""
    try:
        current = _fill(stream, buffers, free)
        while True:
            number, length = current
            following = _fill(stream, buffers, free) if length == CHUNK else None
            last = following is None or following[1] == 0
            if following is not None and last:
                free.put(following[0])  # an empty read: nothing to hand over
            size += length
            if max_bytes is not None and size > max_bytes:
                free.put(number)
                raise TooLong()
            if len(head) < HEAD_BYTES:
                head += bytes(buffers[number][:min(length, HEAD_BYTES - len(head))])
            with lock:
                holders[number] = 2
            for inbox in inboxes:
                inbox.put((number, length, index, last))
            if errors or last:
                break
            current, index = following, index + 1
    finally:
        for inbox in inboxes:
            inbox.put(_STOP)
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return Sealed(size, md5.hexdigest(), sha1.hexdigest(), sha256.hexdigest(), head)


def _fill(stream: BinaryIO, buffers: list[bytearray], free: queue.Queue) -> tuple[int, int]:
    """A free buffer filled from the stream: exactly CHUNK bytes unless the stream ends
    (streams may return short reads). Returns the buffer's number and how much it holds."""
    number = free.get()
    view = memoryview(buffers[number])
    filled = 0
    reader = getattr(stream, "readinto", None)
    while filled < CHUNK:
        if reader is not None:
            got = reader(view[filled:])
        else:
            part = stream.read(CHUNK - filled)
            got = len(part)
            view[filled:filled + got] = part
        if not got:
            break
        filled += got
    return number, filled
