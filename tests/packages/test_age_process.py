"""The encrypting process's output: pyrage's pieces are hashed and written by a thread of
their own, beside the encryption (which holds the GIL), in order, and a failed write
reaches the encrypting thread instead of being lost."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from referrals.packages import age_process
from referrals.packages.age_process import BATCH, WrittenBehind


def test_pieces_are_hashed_and_written_in_order_by_another_thread(tmp_path, monkeypatch):
    writers = set()
    write = os.write

    def spy(fd, data):
        writers.add(threading.get_ident())
        return write(fd, data)

    monkeypatch.setattr(age_process.os, "write", spy)
    pieces = [os.urandom(size) for size in (234, *[65552] * 100, 3408, 1, 0, 70000)]
    with open(tmp_path / "out.age", "wb", buffering=0) as out:
        output = WrittenBehind(out.fileno())
        for piece in pieces:
            assert output.write(piece) == len(piece)
        output.close()
    written = (tmp_path / "out.age").read_bytes()
    assert written == b"".join(pieces)
    assert output.size == len(written) > 2 * BATCH
    assert output.sha256.hexdigest() == hashlib.sha256(written).hexdigest()
    assert writers and threading.get_ident() not in writers


def test_a_failed_write_is_raised_in_the_encrypting_thread(tmp_path):
    (tmp_path / "read-only").write_bytes(b"")
    with open(tmp_path / "read-only", "rb") as out:
        output = WrittenBehind(out.fileno())
        with pytest.raises(OSError):
            for _ in range(100 * BATCH // 65552):  # more than the queue holds
                output.write(b"x" * 65552)
            output.close()
