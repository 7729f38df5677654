"""The package's worker processes and the rings between them: bytes handed through shared
memory arrive whole and in order, whatever the sizes written; a writer waits for a slot given
back and stops when its reader is gone; the writing process hashes and writes in order on two
threads, past the page cache where it can, and a failed write stops the chain."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import os
import random
import stat
import threading

import pytest

from referrals.packages import age_process
from referrals.packages.age_process import (ALIGN, RECORD, SLOT, SLOTS, DirectWriter, Ring,
                                            RingInput, RingReader, RingWriter, WorkerGone,
                                            WrittenInOrder)
from referrals.packages.builder import _Workers
from referrals.packages.recipients import one_time_identity
from tests.core.test_drop_behind import cached_fraction
from tests.packages.test_package_format import pyrage_decrypt


class Hand:
    """A ring with its two pipes: ``writer`` in this thread, ``reader`` for another."""

    def __init__(self):
        self.ring = Ring.create("test-ring")
        self.records_r, self.records_w = os.pipe()
        self.emptied_r, self.emptied_w = os.pipe()
        self.writer = RingWriter(self.ring, self.records_w, self.emptied_r)
        self.reader = RingReader(Ring.open(self.ring.fd, writable=False), self.records_r,
                                 self.emptied_w)

    def end(self) -> None:
        self.writer.finish()
        os.close(self.records_w)


def _pieces(total: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    pieces, left = [], total
    while left:
        size = min(left, rng.choice([0, 1, 511, 512, 4096, 65552, SLOT - 1, SLOT, SLOT + 7,
                                     3 * SLOT]))
        pieces.append(rng.randbytes(size))
        left -= size
    return pieces


def test_bytes_cross_the_ring_whole_and_in_order_through_a_buffered_reader():
    hand = Hand()
    pieces = _pieces(3 * SLOTS * SLOT + 12345, seed=1)  # the ring is reused three times over
    received = []

    def read():
        with io.BufferedReader(RingInput(hand.reader), buffer_size=SLOT) as plaintext:
            while data := plaintext.read(8192):  # as pyrage reads
                received.append(data)

    reading = threading.Thread(target=read)
    reading.start()
    for piece in pieces:
        assert hand.writer.write(piece) == len(piece)
    hand.end()
    reading.join()
    assert b"".join(received) == b"".join(pieces)


def test_a_writer_waits_for_a_slot_given_back():
    hand = Hand()
    hand.writer.write(b"x" * (SLOTS * SLOT))  # every slot filled and handed on
    done = threading.Event()

    def one_more():
        hand.writer.write(b"y")
        hand.writer.finish()
        done.set()

    writing = threading.Thread(target=one_more)
    writing.start()
    assert not done.wait(0.2)  # no slot free
    first = hand.reader.take()
    assert bytes(first) == b"x" * SLOT
    hand.reader.give_back()
    assert done.wait(5)
    writing.join()
    for _ in range(SLOTS - 1):
        assert len(hand.reader.take()) == SLOT
    assert bytes(hand.reader.take()) == b"y"


def test_a_writer_whose_reader_is_gone_stops_with_a_broken_pipe():
    hand = Hand()
    hand.writer.write(b"x" * (SLOTS * SLOT))
    os.close(hand.emptied_w)  # the reading process ended without giving anything back
    with pytest.raises(BrokenPipeError):
        hand.writer.write(b"one byte too many")


@pytest.mark.parametrize("record", [(0).to_bytes(RECORD, "big"), (SLOT + 1).to_bytes(RECORD, "big"),
                                    b"\x00\x01"])
def test_an_unreadable_record_is_refused(record):
    hand = Hand()
    os.write(hand.records_w, record)
    os.close(hand.records_w)
    with pytest.raises(OSError, match="not readable"):
        hand.reader.take()


def test_the_writing_threads_write_in_order_and_give_each_slot_back_once_written(tmp_path):
    hand = Hand()
    pieces = _pieces(2 * SLOTS * SLOT + 999, seed=2)
    given_back, order = [], []
    give_back = hand.reader.give_back

    def spy():
        order.append(("given back", threading.get_ident()))
        given_back.append(threading.get_ident())
        give_back()

    hand.reader.give_back = spy
    with open(tmp_path / "out", "wb", buffering=0) as out:
        writer = DirectWriter(out.fileno())
        write = writer.write

        def spy_write(view):
            order.append(("written", threading.get_ident()))
            write(view)

        writer.write = spy_write
        written = WrittenInOrder(writer, hand.reader)

        def produce():
            for piece in pieces:
                hand.writer.write(piece)
            hand.end()

        producing = threading.Thread(target=produce)
        producing.start()
        digest = hashlib.sha256()
        while (slot := hand.reader.take()) is not None:
            digest.update(slot)
            written.put(slot)
        written.close()
        producing.join()
    data = b"".join(pieces)
    assert (tmp_path / "out").read_bytes() == data
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert written.failure is None
    assert set(given_back) == {written._thread.ident}  # not this (hashing) thread
    assert [kind for kind, _ in order] == ["written", "given back"] * (len(order) // 2)


class _Broken(DirectWriter):
    def write(self, view):
        raise MemoryError()


@pytest.mark.parametrize("writer, failure_kind", [(DirectWriter, OSError),
                                                  (_Broken, MemoryError)])
def test_a_failure_of_the_writing_thread_stops_giving_slots_back_so_the_writer_before_stops(
        tmp_path, writer, failure_kind):
    """A failed write (here, to a file opened read-only), or anything else that stops the
    writing thread: it stops giving slots back, so the process before this one ends
    instead of waiting for a slot for ever."""
    hand = Hand()
    (tmp_path / "read-only").write_bytes(b"")
    with open(tmp_path / "read-only", "rb") as out:
        written = WrittenInOrder(writer(out.fileno()), hand.reader)
        failure = []

        def produce():
            try:
                for _ in range(4 * SLOTS):
                    hand.writer.write(b"z" * SLOT)
            except WorkerGone as error:
                failure.append(error)
            finally:
                os.close(hand.records_w)

        producing = threading.Thread(target=produce)
        producing.start()
        while (slot := hand.reader.take()) is not None:
            written.put(slot)
        written.close()
        producing.join(10)
    assert isinstance(written.failure, failure_kind)
    assert failure and not producing.is_alive()


def test_whole_slots_go_to_a_file_past_the_page_cache_and_the_unaligned_end_the_plain_way(
        tmp_path):
    ring = Ring.create("test-direct")
    data = os.urandom(3 * SLOT + 1000)
    with open(tmp_path / "out", "wb", buffering=0) as out:
        writer = DirectWriter(out.fileno())
        if not writer.direct:
            pytest.fail("this file system refused O_DIRECT; the test needs one that takes it")
        assert fcntl.fcntl(out.fileno(), fcntl.F_GETFL) & os.O_DIRECT
        for start in range(0, len(data), SLOT):
            slot = ring.slot(0)
            piece = data[start:start + SLOT]
            slot[:len(piece)] = piece
            writer.write(slot[:len(piece)])
            slot.release()
        assert not writer.direct  # the last, unaligned piece turned it off
    assert (tmp_path / "out").read_bytes()[:len(data)] == data
    assert (tmp_path / "out").stat().st_size == len(data)
    ring.close()


def test_o_direct_leaves_nothing_in_the_page_cache(tmp_path):
    ring = Ring.create("test-cache")
    slot = ring.slot(0)
    slot[:] = os.urandom(SLOT)
    with open(tmp_path / "out", "wb", buffering=0) as out:
        writer = DirectWriter(out.fileno())
        for _ in range(8):
            writer.write(slot)
    slot.release()
    ring.close()
    assert cached_fraction(tmp_path / "out") == 0.0


def test_a_refused_o_direct_falls_back_to_the_plain_way(tmp_path, monkeypatch):
    write = os.write
    refused = []

    def refusing(fd, data):
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            refused.append(len(data))
            raise OSError(errno.EINVAL, "Invalid argument")
        return write(fd, data)

    monkeypatch.setattr(age_process.os, "write", refusing)
    data = os.urandom(2 * ALIGN * 64)
    with open(tmp_path / "out", "wb", buffering=0) as out:
        writer = DirectWriter(out.fileno())
        writer.write(memoryview(data))
        writer.write(memoryview(data))
        assert not writer.direct
    assert refused == [len(data)]
    assert (tmp_path / "out").read_bytes() == data + data


def test_o_direct_is_never_set_on_a_pipe():
    """On a pipe, O_DIRECT means packet mode: each write would become a message of its own."""
    read_end, write_end = os.pipe()
    writer = DirectWriter(write_end)
    assert not writer.direct
    assert not fcntl.fcntl(write_end, fcntl.F_GETFL) & os.O_DIRECT
    os.close(read_end)
    os.close(write_end)


def _run_chain(plaintext: bytes, recipient: str, output) -> tuple[str, str]:
    """The two processes as the builder starts them (``builder._Workers``), fed from this
    process. Returns what the writing and the encrypting process said."""
    workers = _Workers([recipient], output.fileno(), None)
    try:
        workers.hand_over.write(plaintext)
        workers.hand_over.finish()
    finally:
        workers.end_input()
    said = workers.report.read().decode()
    workers.failure(said.encode())  # waits for both
    workers._encrypting_said.seek(0)
    encrypting_said = workers._encrypting_said.read().decode()
    workers.close()
    workers.release()
    return said, encrypting_said


def test_the_two_processes_encrypt_hash_and_write_what_age_opens(tmp_path):
    key = one_time_identity()
    (tmp_path / "key.txt").write_text(key.secret)
    plaintext = os.urandom(5 * SLOT + 777)
    with open(tmp_path / "out.age", "wb") as out:
        said, _ = _run_chain(plaintext, key.recipient, out)
    written = (tmp_path / "out.age").read_bytes()
    assert said == f"encrypted {hashlib.sha256(written).hexdigest()} {len(written)}\n"
    assert pyrage_decrypt(tmp_path / "out.age", tmp_path / "key.txt") == plaintext
    assert stat.S_ISREG((tmp_path / "out.age").stat().st_mode)


def test_a_refused_recipient_ends_the_encryption_with_a_plain_message(tmp_path):
    with open(tmp_path / "out.age", "wb") as out:
        said, encrypting_said = _run_chain(b"", "age1notakey", out)
    assert "a recipient is not valid" in encrypting_said
    assert said == "encrypted e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0\n"


@pytest.mark.parametrize("arguments", [[], ["encrypt", "-", "3"], ["write"],
                                       ["write", "-", "x", "4"], ["write", "0", "3", "4"],
                                       ["write", "3", "4"], ["decrypt", "-", "3", "4"]])
def test_a_wrong_command_line_is_refused(arguments, capsys):
    assert age_process.main(arguments) == 2
    assert "usage" in capsys.readouterr().err


def test_a_short_o_direct_write_is_finished_the_plain_way_without_losing_or_repeating(
        tmp_path, monkeypatch):
    """A short write leaves the file unaligned: the next O_DIRECT write is refused, and the
    rest goes the plain way from where the short one stopped."""
    write = os.write
    calls = []

    def short_then_strict(fd, data):
        direct = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT
        calls.append(bool(direct))
        if direct and len(calls) == 1:  # as if it had stopped early, mid-block
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_DIRECT)
            try:
                return write(fd, bytes(data[:ALIGN * 3 + 100]))
            finally:
                fcntl.fcntl(fd, fcntl.F_SETFL, flags)
        if direct and (os.lseek(fd, 0, os.SEEK_CUR) % ALIGN):
            raise OSError(errno.EINVAL, "Invalid argument")
        return write(fd, data)

    ring = Ring.create("test-short")
    slot = ring.slot(0)
    data = os.urandom(SLOT)
    slot[:] = data
    with open(tmp_path / "out", "wb", buffering=0) as out:
        writer = DirectWriter(out.fileno())
        monkeypatch.setattr(age_process.os, "write", short_then_strict)
        writer.write(slot)
        writer.write(slot[:1000])
    slot.release()
    ring.close()
    assert (tmp_path / "out").read_bytes() == data + data[:1000]
    assert calls[0] is True and calls[-1] is False


def test_a_ring_opened_from_its_descriptor_keeps_no_descriptor_of_its_own():
    fd = Ring.new_fd("test-open")
    ring = Ring.open(fd, writable=False)
    with pytest.raises(OSError):
        os.fstat(fd)
    assert ring.fd == -1
    ring.close()
