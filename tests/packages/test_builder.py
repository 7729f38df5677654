"""How the builder streams: the store's chunks reach the tar uncopied, the bag reaches the
encryption through shared memory (not a pipe), the encryption and the hashing writer run in
processes of their own (pyrage holds the GIL while it encrypts), progress is told as each
file streams, and every way a build can stop leaves no file and no process behind."""

from __future__ import annotations

import hashlib
import io
import mmap
import os
import tarfile
import textwrap
import threading
import time
from pathlib import Path, PurePosixPath

import pyrage
import pytest

from referrals.core.drop_behind import DropBehind
from referrals.packages import age_process, builder
from referrals.packages.bag import PackageContentError, PackageFile, write_bag
from referrals.packages.age_process import RECORD
from referrals.packages.builder import PackageBuildError, build_package
from referrals.packages.recipients import one_time_identity
from tests.packages.test_package_format import contents, pyrage_decrypt, signer, synthetic  # noqa: F401

MIB = 1024 * 1024


def stored(item_id: int, chunks: list[bytes], name: str = "") -> PackageFile:
    data = b"".join(chunks)
    return PackageFile(item_id=item_id, file_name=name or f"stored-{item_id}.bin",
                       size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                       sha1=hashlib.sha1(data).hexdigest(), md5=hashlib.md5(data).hexdigest(),
                       chunks=lambda: iter(chunks))


class Recorder:
    def __init__(self):
        self.pieces = []

    def write(self, data):
        self.pieces.append(data)
        return len(data)


def test_stored_chunks_reach_the_tar_output_uncopied(signer):  # noqa: F811
    """tarfile's stream mode ("w|") re-buffered every write in 10 KiB records by slicing,
    copying each 1 MiB chunk about fifty times: 1.7 CPU s per GiB, holding the GIL."""
    chunks = [os.urandom(MIB), os.urandom(MIB), os.urandom(1000)]
    out = Recorder()
    write_bag(out, contents([stored(1, chunks)]), sign=lambda data: "signature",
              allowed_signers="signers")
    for chunk in chunks:
        assert any(piece is chunk for piece in out.pieces)
    assert sum(len(piece) for piece in out.pieces) % 10240 == 0  # whole tar records


@pytest.fixture
def encryptions(monkeypatch):
    """The worker processes the builds start (encrypting, writing), build by build."""
    started = []
    original = builder._start_workers

    def start(*args):
        workers = original(*args)
        started.append(workers.processes)
        return workers

    monkeypatch.setattr(builder, "_start_workers", start)
    return started


def test_the_encryption_runs_in_a_process_of_its_own(tmp_path, signer, monkeypatch,  # noqa: F811
                                                     encryptions):
    """pyrage's encrypt_io holds the GIL until it is done: in this process, the threads that
    read, hash and write would wait for it instead of running beside it. The hashing and
    writing of its output run in a third process, which never waits for that GIL either."""
    def not_here(*args, **kwargs):
        raise AssertionError("encrypt_io ran in the building process")

    monkeypatch.setattr(pyrage, "encrypt_io", not_here)
    key = one_time_identity()
    key_path = tmp_path / "key.txt"
    key_path.write_text(key.secret)
    built = build_package(contents([synthetic(1, 3 * MIB)]), [key.recipient],
                          tmp_path / "out", signer)
    [processes] = encryptions
    assert [process.returncode for process in processes] == [0, 0]
    assert [process.args[3] for process in processes] == ["encrypt", "write"]
    assert os.getpid() not in {process.pid for process in processes}
    monkeypatch.undo()
    with tarfile.open(fileobj=io.BytesIO(pyrage_decrypt(built.path, key_path))) as tar:
        assert "REQ-2026-000001-P1/data/1/synthetic-3145728.bin" in tar.getnames()


def test_the_bag_reaches_the_encryption_through_shared_memory_not_a_pipe(tmp_path, signer,  # noqa: F811
                                                                       monkeypatch):
    """A pipe allocates, copies, copies and frees a page for every 4 KiB it carries: 0.7 CPU
    s per GiB between two processes, measured. The builder writes the bag into the shared
    ring instead; what it writes to a descriptor is the 4-byte records, one a slot, and the
    small files beside the package (its ``.sha256`` and signature)."""
    written = []
    write = os.write

    def spy(fd, data):
        written.append(len(data))
        return write(fd, data)

    monkeypatch.setattr(os, "write", spy)
    build_package(contents([synthetic(1, 16 * MIB)]), [one_time_identity().recipient],
                  tmp_path / "out", signer)
    assert sum(written) < 4096
    assert written.count(RECORD) >= 16


def test_a_refused_file_stops_the_encryption_and_leaves_nothing(tmp_path, signer,  # noqa: F811
                                                               encryptions):
    key = one_time_identity()
    good = synthetic(1, 4 * MIB)
    altered = PackageFile(**{**good.__dict__, "chunks": lambda: iter([b"x" * (4 * MIB)])})
    with pytest.raises(PackageContentError, match="no longer matches"):
        build_package(contents([synthetic(2, 3 * MIB), altered]), [key.recipient],
                      tmp_path / "out", signer)
    assert list((tmp_path / "out").iterdir()) == []
    [processes] = encryptions
    assert all(process.returncode is not None for process in processes)  # none left running


def fake_workers(tmp_path: Path, name: str, *, encrypt: str | None = None,
                 write: str | None = None) -> Path:
    """A stand-in for ``age_process.py``: each role runs the real one unless given code of
    its own. The writing role's code finds the encrypted bytes in ``data`` (all of them,
    taken from ring B and given back) unless it starts with ``# no input``."""
    script = tmp_path / f"{name}.py"
    real = f"sys.exit(real.main(sys.argv[1:]))\n"
    take = ("reader = real.RingReader(real.Ring.open(int(sys.argv[3]), writable=False), 0, "
            "int(sys.argv[4]))\n"
            "data = b''\n"
            "while (slot := reader.take()) is not None:\n"
            "    data += bytes(slot)\n"
            "    reader.give_back()\n")
    if write and not write.startswith("# no input"):
        write = take + write
    script.write_text(
        "import hashlib, os, stat, sys, time\n"
        f"sys.path.insert(0, {str(Path(age_process.__file__).parent)!r})\n"
        "import age_process as real\n"
        "if sys.argv[1] == 'encrypt':\n"
        + textwrap.indent(encrypt or real, "    ")
        + "else:\n"
        + textwrap.indent(write or real, "    "))
    return script


def refused_build(tmp_path: Path, signer, monkeypatch, script: Path, match: str,  # noqa: F811
                  size: int = 16 * MIB) -> None:
    """A build with ``script`` standing in for ``age_process.py``: refused with a message
    that matches ``match``, and nothing left on the shelf."""
    monkeypatch.setattr(builder, "AGE_PROCESS", script)
    with pytest.raises(PackageBuildError, match=match):
        build_package(contents([synthetic(1, size)]), [one_time_identity().recipient],
                      tmp_path / "out", signer)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_writing_process_that_fails_says_why_and_publishes_nothing(tmp_path, signer,  # noqa: F811
                                                                     monkeypatch):
    """The writing process fails (a full disk): the encryption, finding no slot given back,
    ends on a broken pipe, and so does the bag; the reason told is the writing process's."""
    failing = fake_workers(tmp_path, "failing_write", write=(
        "# no input: at once, without reading what the encryption sends\n"
        "sys.stderr.write('age_process: the disk of the helper is full\\n')\n"
        "sys.exit(3)\n"))
    refused_build(tmp_path, signer, monkeypatch, failing, "the disk of the helper is full")


def test_an_encryption_that_fails_says_why_and_publishes_nothing(tmp_path, signer,  # noqa: F811
                                                                 monkeypatch):
    """The encrypting process fails at once: the writing process, its input ended, reports
    nothing written; the reason told is the encrypting process's."""
    failing = fake_workers(tmp_path, "failing_encrypt", encrypt=(
        "sys.stderr.write('age_process: the helper broke\\n')\n"
        "sys.exit(3)\n"))
    refused_build(tmp_path, signer, monkeypatch, failing, "the helper broke")


def test_progress_is_told_as_each_file_streams(tmp_path, signer):  # noqa: F811
    seen = []
    files = [synthetic(1, 6 * MIB, "first.bin"), synthetic(2, 6 * MIB, "second.bin")]
    build_package(contents(files), [one_time_identity().recipient], tmp_path / "out", signer,
                  on_progress=lambda bag: seen.append((bag.file_number, bag.file_name,
                                                       bag.done_bytes, bag.total_bytes)),
                  progress_every=0)
    total = 12 * MIB
    assert {s[3] for s in seen} == {total}
    assert [s[2] for s in seen] == sorted(s[2] for s in seen)  # only forward
    assert any(0 < done < total for _, _, done, _ in seen)  # during, not only at the end
    assert {(number, name) for number, name, _, _ in seen if number} <= {
        (1, "first.bin"), (2, "second.bin")}
    assert (2, "second.bin") in {(number, name) for number, name, _, _ in seen}


def test_a_build_refused_just_before_publication_publishes_nothing(tmp_path, signer):  # noqa: F811
    class TakenOver(Exception):
        pass

    def refuse():
        raise TakenOver()

    with pytest.raises(TakenOver):
        build_package(contents([synthetic(1, 100)]), [one_time_identity().recipient],
                      tmp_path / "out", signer, before_publish=refuse)
    assert list((tmp_path / "out").iterdir()) == []


def test_the_writing_process_writes_the_file_and_its_hash_is_the_files(tmp_path, signer,  # noqa: F811
                                                                        monkeypatch):
    """The age file does not pass through the building process, nor is it read back: the
    writing process's standard output is the package file, and that process hashes each
    slot as it writes it. (A second busy thread in the builder, reading the file back to
    hash it, once made the builder's threads take turns for the GIL.)"""
    reads = []
    preadv, pread = os.preadv, os.pread

    def spy_preadv(fd, buffers, offset, *rest):
        reads.append(fd)
        return preadv(fd, buffers, offset, *rest)

    def spy_pread(fd, length, offset):
        reads.append(fd)
        return pread(fd, length, offset)

    monkeypatch.setattr(os, "preadv", spy_preadv)
    monkeypatch.setattr(os, "pread", spy_pread)
    built = build_package(contents([synthetic(1, 3 * MIB)]), [one_time_identity().recipient],
                          tmp_path / "out", signer)
    written = built.path.read_bytes()
    assert reads == []
    assert built.size == len(written) > 3 * MIB
    assert built.sha256 == hashlib.sha256(written).hexdigest()
    assert built.checksum_path.read_text() == f"{built.sha256}  {built.path.name}\n"


UNEVEN_WRITER = (
    "kind = b'file' if stat.S_ISREG(os.fstat(1).st_mode) else b'pipe'\n"
    "data = kind + b'\\n' + data\n"  # the whole age file first: the builder waits
    "at, step = 0, 1\n"
    "while at < len(data):\n"
    "    at += os.write(1, data[at:at + step])\n"
    "    step = step * 7 % 300007 + 1\n"
    "    if step % 5 == 0:\n"
    "        time.sleep(0.002)\n"
    "sys.stderr.write('some warning on the way\\n')\n"
    "sys.stderr.write(f'encrypted {hashlib.sha256(data).hexdigest()} {len(data) + EXTRA}\\n')\n")


def test_a_file_of_another_size_than_the_one_reported_is_not_published(tmp_path, signer,  # noqa: F811
                                                                       monkeypatch):
    """The builder takes the hash from the writing process's report, and checks it against
    what reached the shelf: written in uneven pieces, with pauses, the file is published with
    the hash reported; a report of one byte more is refused."""
    for extra, published in ((0, True), (1, False)):
        writer = fake_workers(tmp_path, f"uneven_age_{extra}",
                              write=f"EXTRA = {extra}\n" + UNEVEN_WRITER)
        monkeypatch.setattr(builder, "AGE_PROCESS", writer)
        out = tmp_path / f"out-{extra}"
        if published:
            built = build_package(contents([synthetic(1, 3 * MIB)]),
                                  [one_time_identity().recipient], out, signer)
            written = built.path.read_bytes()
            assert written.startswith(b"file\n")
            assert built.sha256 == hashlib.sha256(written).hexdigest()
            assert built.size == len(written)
        else:
            with pytest.raises(PackageBuildError, match=r"wrote \d+ bytes, \d+ arrived"):
                build_package(contents([synthetic(1, 3 * MIB)]),
                              [one_time_identity().recipient], out, signer)
            assert list(out.iterdir()) == []


def test_an_encryption_that_ends_without_its_report_publishes_nothing(tmp_path, signer,  # noqa: F811
                                                                      monkeypatch):
    silent = fake_workers(tmp_path, "silent_age", write="sys.stdout.buffer.write(data)\n")
    refused_build(tmp_path, signer, monkeypatch, silent, "without saying what it wrote",
                  size=MIB)


def test_the_written_pages_go_to_the_disk_behind_the_writing(tmp_path, signer, monkeypatch):  # noqa: F811
    """While the writing process writes, the builder tells the drop-behind how far the file
    got. With O_DIRECT (the usual case) there is nothing to drop; where a file system refuses
    it, this sends the written pages to the disk and out of the page cache as the build goes
    on, so the closing fsync has little left to do."""
    seen = []

    class Watched(DropBehind):
        def __init__(self, fd):
            super().__init__(fd, window=MIB, in_flight=1)  # many windows, dropped early

        def wrote(self, count):
            super().wrote(count)
            seen.append((self.position, self.dropped))

    monkeypatch.setattr(builder, "DropBehind", Watched)
    built = build_package(contents([synthetic(1, 96 * MIB)]), [one_time_identity().recipient],
                          tmp_path / "out", signer)
    positions = [position for position, _ in seen]
    assert positions == sorted(positions) and positions[-1] == built.size
    assert len(set(positions)) > 2  # told as it grew, not only at the end
    assert seen[-1][1] > 0  # and pages were let go of before the end


@pytest.mark.parametrize("allowed, lanes", [({0, 1}, (0, 1)), ({3, 7}, (3, 7)), ({2}, None),
                                            ({0, 1, 2}, None), (set(range(16)), None)])
def test_a_build_has_lanes_only_where_it_may_run_on_exactly_two_cpus(allowed, lanes,
                                                                      monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: allowed)
    assert builder._lanes() == lanes


def _allowed(pid: int | str, tid: int) -> frozenset[int] | None:
    try:
        status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
    except OSError:
        return None
    [listed] = [line.split(":")[1].strip() for line in status.splitlines()
                if line.startswith("Cpus_allowed_list:")]
    cpus = set()
    for part in listed.split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return frozenset(cpus)


def test_each_busy_worker_keeps_to_its_lane(tmp_path, signer, monkeypatch, encryptions):  # noqa: F811
    """On two CPUs, the scheduler gave the encryption (never idle) a CPU of its own and the
    three other busy workers the second one; the lanes give each CPU the same work: the
    encryption and the writing thread on the first, the bag and the hashing on the second."""
    cpus = sorted(os.sched_getaffinity(0))
    first, second = cpus[0], cpus[-1]
    monkeypatch.setattr(builder, "_lanes", lambda: (first, second))
    seen: dict[str, set] = {"encrypting": set(), "hashing": set(), "writing": set(), "bag": set()}
    done = threading.Event()

    def watch():
        while not done.is_set():
            for processes in encryptions:
                encrypting, writing = processes
                seen["encrypting"].add(_allowed(encrypting.pid, encrypting.pid))
                seen["hashing"].add(_allowed(writing.pid, writing.pid))
                try:
                    threads = [int(tid) for tid in os.listdir(f"/proc/{writing.pid}/task")]
                except OSError:
                    threads = []
                for tid in threads:
                    if tid != writing.pid:
                        seen["writing"].add(_allowed(writing.pid, tid))
            for thread in threading.enumerate():
                if thread.name.startswith("package "):
                    seen["bag"].add(_allowed("self", thread.native_id))
            time.sleep(0.001)

    watching = threading.Thread(target=watch)
    watching.start()
    try:
        build_package(contents([synthetic(1, 96 * MIB)]), [one_time_identity().recipient],
                      tmp_path / "out", signer)
    finally:
        done.set()
        watching.join()
    assert frozenset({first}) in seen["encrypting"]
    assert frozenset({first}) in seen["writing"]
    assert frozenset({second}) in seen["hashing"]
    assert frozenset({second}) in seen["bag"]
    if first != second:
        assert frozenset({second}) not in seen["encrypting"] | seen["writing"]
        assert frozenset({first}) not in seen["hashing"] | seen["bag"]


def test_a_writing_process_that_fails_mid_stream_stops_the_chain_and_says_why(  # noqa: F811
        tmp_path, signer, monkeypatch):
    """The writing process takes two slots, then fails: the encryption, finding no slot
    given back, ends on a broken pipe, then the bag; nothing waits for ever."""
    failing = fake_workers(tmp_path, "failing_mid_stream", write=(
        "# no input: this code takes the slots itself\n"
        "reader = real.RingReader(real.Ring.open(int(sys.argv[3]), writable=False), 0, "
        "int(sys.argv[4]))\n"
        "for _ in range(2):\n"
        "    reader.take()\n"
        "    reader.give_back()\n"
        "sys.stderr.write('age_process: the package file could not be written (disk full)\\n')\n"
        "sys.exit(1)\n"))
    refused_build(tmp_path, signer, monkeypatch, failing, r"could not be written \(disk full\)",
                  size=64 * MIB)


def test_an_encrypting_process_that_says_much_before_failing_does_not_hang_the_build(  # noqa: F811
        tmp_path, signer, monkeypatch):
    """Its standard error is read once it has ended; 200 KB of it (a long traceback) once
    filled a pipe nobody read, and the build waited for ever."""
    noisy = fake_workers(tmp_path, "noisy_encrypt", encrypt=(
        "sys.stderr.write('x' * 200_000 + '\\nage_process: the helper broke\\n')\n"
        "sys.exit(3)\n"))
    refused_build(tmp_path, signer, monkeypatch, noisy, "the helper broke")


def test_a_worker_stopped_by_a_signal_is_named(tmp_path, signer, monkeypatch):  # noqa: F811
    killed = fake_workers(tmp_path, "killed_encrypt", encrypt=(
        "import signal\nos.kill(os.getpid(), signal.SIGKILL)\n"))
    refused_build(tmp_path, signer, monkeypatch, killed,
                  r"the encrypting process was stopped \(signal 9\)")


class MemoryShelf:
    """A shelf that is not a local file (like S3): the encrypted bytes come back to the
    builder through a pipe."""

    def __init__(self):
        self.files: dict[str, bytes] = {}

    def start(self, file_name):
        shelf = self

        class Upload:
            def __init__(self):
                self.parts = []

            def local_file(self):
                return None

            def write(self, data):
                self.parts.append(bytes(data))

            def publish(self, before_publish):
                shelf.files[file_name] = b"".join(self.parts)

            def discard(self):
                self.parts = []

        return Upload()

    def put(self, file_name, data):
        self.files[file_name] = data

    def settle(self):
        pass

    def where(self, file_name):
        return PurePosixPath(file_name)


def test_a_shelf_that_is_not_a_file_gets_the_age_file_through_a_pipe(tmp_path, signer):  # noqa: F811
    key = one_time_identity()
    (tmp_path / "key.txt").write_text(key.secret)
    shelf = MemoryShelf()
    built = build_package(contents([synthetic(1, 5 * MIB)]), [key.recipient], shelf, signer)
    data = shelf.files["REQ-2026-000001-P1.tar.age"]
    assert built.size == len(data)
    assert built.sha256 == hashlib.sha256(data).hexdigest()
    (tmp_path / "out.age").write_bytes(data)
    with tarfile.open(fileobj=io.BytesIO(pyrage_decrypt(tmp_path / "out.age",
                                                        tmp_path / "key.txt"))) as tar:
        assert "REQ-2026-000001-P1/data/1/synthetic-5242880.bin" in tar.getnames()


def test_only_the_writer_of_a_ring_can_write_it(signer):  # noqa: F811
    """A process of the same user could open a ring through /proc/<pid>/fd; the writer's
    seal keeps it from changing the plaintext after its intake hash was checked (ring A)
    or the age file after the encryption (ring B)."""
    workers = builder._Workers([one_time_identity().recipient], None, None)
    try:
        workers.hand_over.write(b"x" * (2 * MIB))  # the encryption has started and mapped B
        workers.encrypted.read(1)
        encrypting, _ = workers.processes
        rings = {}
        for pid in ("self", encrypting.pid):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if "memfd:referrals-package" in target:
                    rings[target] = f"/proc/{pid}/fd/{fd}"
        assert len(rings) == 2, rings  # plaintext (A) and encrypted (B)
        for path in rings.values():
            opened = os.open(path, os.O_RDWR)
            try:
                with pytest.raises(PermissionError):
                    os.pwrite(opened, b"changed", 0)
                with pytest.raises(PermissionError):
                    mmap.mmap(opened, 4096)
                assert len(os.pread(opened, 16, 0)) == 16  # reading is not sealed
            finally:
                os.close(opened)
    finally:
        workers.stop()
        workers.end_input()
        workers.close()
        workers.release()
