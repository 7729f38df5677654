"""BlobStore: encrypted, chunked, authenticated storage with key rotation (tmp_path only)."""

from __future__ import annotations

import hashlib
import io
import os
import struct
from pathlib import Path

import pytest

from tests.core.legacy_blobs import write_legacy_blob
from referrals.core.blob_keys import MemoryKeyRows
from referrals.core.storage import (CHUNK, HEAD_BYTES, MAGIC, BlobStore, StorageError, TooLarge,
                                    parse_keys)

KEY_1 = bytes(range(32))
KEY_2 = bytes(range(100, 132))
HEADER = 16  # magic, key id, nonce prefix
FRAME = 4 + 16  # length prefix + GCM tag around each chunk


@pytest.fixture
def store(tmp_path):
    return BlobStore(tmp_path / "blobs", {1: KEY_1}, MemoryKeyRows())


def _read_all(store: BlobStore, name: str) -> bytes:
    return b"".join(store.read(name))


def _path(store: BlobStore, name: str) -> Path:
    return store.root / name[:2] / f"{name}.blob"


def _frames(raw: bytes) -> list[tuple[int, int]]:
    """(start, end) of each chunk's frame after the header."""
    frames, position = [], HEADER
    while position < len(raw):
        (length,) = struct.unpack(">I", raw[position:position + 4])
        frames.append((position, position + 4 + length))
        position += 4 + length
    return frames


SIZES = {"empty": 0, "one byte": 1, "exactly 1 MiB": CHUNK, "1 MiB + 1": CHUNK + 1,
         "3.5 MiB": CHUNK * 7 // 2}


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_round_trip(store, size):
    data = os.urandom(size)
    written = store.write(io.BytesIO(data))

    assert written.size == size
    assert written.sha256 == hashlib.sha256(data).hexdigest()
    assert written.sha1 == hashlib.sha1(data).hexdigest()
    assert written.md5 == hashlib.md5(data).hexdigest()
    assert written.head == data[:HEAD_BYTES]
    assert written.key_id == 1
    assert _read_all(store, written.name) == data
    chunks = list(store.read(written.name))
    assert all(len(chunk) <= CHUNK for chunk in chunks)
    assert len(chunks) == max(1, -(-size // CHUNK))
    raw = _path(store, written.name).read_bytes()
    assert raw.startswith(MAGIC)
    assert len(raw) == HEADER + FRAME * len(chunks) + size


def test_short_reads_from_the_stream_are_joined(store):
    """A socket gives bytes in dribs and drabs; chunks must still be whole."""
    data = os.urandom(CHUNK + 5000)

    class Dribble(io.BytesIO):
        def read(self, n=-1):
            return super().read(min(n, 7777) if n and n > 0 else 7777)

    written = store.write(Dribble(data))
    assert written.sha256 == hashlib.sha256(data).hexdigest()
    assert [len(c) for c in store.read(written.name)] == [CHUNK, 5000]


def test_the_file_on_disk_is_neither_plaintext_nor_named_after_it(store):
    marker = b"MADE-UP-MARKER-" * 4000
    written = store.write(io.BytesIO(marker))
    path = _path(store, written.name)
    raw = path.read_bytes()
    assert b"MADE-UP-MARKER" not in raw
    assert written.sha256 not in str(path) and written.md5 not in str(path)
    assert list(store.root.rglob("*.partial")) == []
    assert [p.name for p in store.root.rglob("*") if p.is_file()] == [f"{written.name}.blob"]


def test_the_same_bytes_twice_are_two_different_files(store):
    data = os.urandom(1000)
    first, second = store.write(io.BytesIO(data)), store.write(io.BytesIO(data))
    assert first.name != second.name
    assert _path(store, first.name).read_bytes() != _path(store, second.name).read_bytes()


def test_a_size_limit_stops_the_write_and_leaves_nothing(store):
    with pytest.raises(TooLarge):
        store.write(io.BytesIO(os.urandom(CHUNK + 10)), max_bytes=CHUNK)
    with pytest.raises(TooLarge):
        store.write(io.BytesIO(os.urandom(1001)), max_bytes=1000)
    assert [p for p in store.root.rglob("*") if p.is_file()] == []
    assert store.write(io.BytesIO(os.urandom(1000)), max_bytes=1000).size == 1000


# --- damage -----------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["first byte of ciphertext", "middle", "last byte", "header key id",
                                   "nonce prefix", "length prefix"])
def test_a_tampered_byte_is_detected(store, where):
    data = os.urandom(CHUNK * 2 + 100)
    written = store.write(io.BytesIO(data))
    path = _path(store, written.name)
    raw = bytearray(path.read_bytes())
    offset = {"first byte of ciphertext": HEADER + 4, "middle": len(raw) // 2,
              "last byte": len(raw) - 1, "header key id": 7, "nonce prefix": 10,
              "length prefix": HEADER + 3}[where]
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(StorageError):
        _read_all(store, written.name)


def test_dropping_the_last_chunk_is_detected(store):
    data = os.urandom(CHUNK * 2 + 10)
    written = store.write(io.BytesIO(data))
    path = _path(store, written.name)
    raw = path.read_bytes()
    frames = _frames(raw)
    assert len(frames) == 3
    path.write_bytes(raw[:frames[-1][0]])  # whole chunks only: each one still decrypts
    with pytest.raises(StorageError):
        _read_all(store, written.name)


def test_a_file_cut_mid_chunk_is_detected(store):
    written = store.write(io.BytesIO(os.urandom(CHUNK + 10)))
    path = _path(store, written.name)
    raw = path.read_bytes()
    for cut in (len(raw) - 1, HEADER + 2, HEADER, 10, 0):
        path.write_bytes(raw[:cut])
        with pytest.raises(StorageError):
            _read_all(store, written.name)


def test_swapping_two_chunks_is_detected(store):
    written = store.write(io.BytesIO(os.urandom(CHUNK * 3)))
    path = _path(store, written.name)
    raw = path.read_bytes()
    (a0, a1), (b0, b1), _ = _frames(raw)
    path.write_bytes(raw[:a0] + raw[b0:b1] + raw[a0:a1] + raw[b1:])
    with pytest.raises(StorageError):
        _read_all(store, written.name)


def test_a_chunk_from_another_blob_is_detected(store):
    data = os.urandom(CHUNK + 10)
    first, second = store.write(io.BytesIO(data)), store.write(io.BytesIO(data))
    raw_first = _path(store, first.name).read_bytes()
    raw_second = _path(store, second.name).read_bytes()
    (f0, f1), _ = _frames(raw_first)
    (s0, s1), _ = _frames(raw_second)
    _path(store, first.name).write_bytes(raw_first[:f0] + raw_second[s0:s1] + raw_first[f1:])
    with pytest.raises(StorageError):
        _read_all(store, first.name)


def test_an_extra_chunk_appended_is_detected(store):
    written = store.write(io.BytesIO(os.urandom(500)))
    path = _path(store, written.name)
    raw = path.read_bytes()
    path.write_bytes(raw + raw[HEADER:])
    with pytest.raises(StorageError):
        _read_all(store, written.name)


def test_a_missing_file_is_a_storage_error(store):
    with pytest.raises(StorageError, match="missing"):
        _read_all(store, "0" * 32)


def test_a_file_that_is_not_a_blob_is_refused(store):
    written = store.write(io.BytesIO(b"x"))
    _path(store, written.name).write_bytes(b"PK\x03\x04" + os.urandom(100))
    with pytest.raises(StorageError, match="not a stored blob"):
        _read_all(store, written.name)


# --- keys -------------------------------------------------------------------------------


def test_key_rotation(tmp_path):
    root, rows = tmp_path / "blobs", MemoryKeyRows()
    old_data, new_data = os.urandom(CHUNK + 3), os.urandom(4000)
    old = BlobStore(root, {1: KEY_1}, rows).write(io.BytesIO(old_data))

    rotated = BlobStore(root, {1: KEY_1, 2: KEY_2}, rows)
    assert b"".join(rotated.read(old.name)) == old_data
    new = rotated.write(io.BytesIO(new_data))
    assert new.key_id == 2 and rows[new.name][0] == 2 and rows[old.name][0] == 1
    assert b"".join(rotated.read(new.name)) == new_data

    retired = BlobStore(root, {2: KEY_2}, rows)
    assert b"".join(retired.read(new.name)) == new_data
    with pytest.raises(StorageError) as caught:
        b"".join(retired.read(old.name))
    assert "storage master key 1 is not configured" in str(caught.value)


def test_each_blob_has_its_own_data_key_and_none_of_it_is_in_the_file(tmp_path):
    rows = MemoryKeyRows()
    store = BlobStore(tmp_path / "blobs", {7: KEY_1}, rows)
    data = os.urandom(3000)
    first, second = store.write(io.BytesIO(data)), store.write(io.BytesIO(data))
    raw = _path(store, first.name).read_bytes()
    assert raw[:4] == MAGIC and raw[4:8] == bytes(4)  # no master key id in the file
    assert rows[first.name][1] != rows[second.name][1]
    assert rows[first.name][1] not in raw and KEY_1 not in raw
    # The file alone reads with no key: not with the master key, not as a legacy blob.
    bare = BlobStore(tmp_path / "blobs", {7: KEY_1}, MemoryKeyRows())
    with pytest.raises(StorageError, match="no key"):
        _read_all(bare, first.name)
    # A wrapped key moved to another blob's name does not unwrap.
    rows[first.name] = rows[second.name]
    with pytest.raises(StorageError, match="altered or not this blob's"):
        _read_all(store, first.name)
    assert _read_all(store, second.name) == data


def test_a_legacy_blob_encrypted_by_the_master_key_still_reads(tmp_path):
    root = tmp_path / "blobs"
    data = os.urandom(CHUNK + 77)
    name = write_legacy_blob(root, 1, KEY_1, data)
    store = BlobStore(root, {1: KEY_1, 2: KEY_2}, MemoryKeyRows())
    assert store.legacy_key_id(name) == 1
    assert _read_all(store, name) == data
    with pytest.raises(StorageError, match="storage key 1 is no longer configured"):
        _read_all(BlobStore(root, {2: KEY_2}, MemoryKeyRows()), name)


def test_a_different_key_under_the_same_id_cannot_read(tmp_path):
    root, rows = tmp_path / "blobs", MemoryKeyRows()
    written = BlobStore(root, {1: KEY_1}, rows).write(io.BytesIO(b"secret made-up bytes"))
    with pytest.raises(StorageError, match="altered"):
        b"".join(BlobStore(root, {1: KEY_2}, rows).read(written.name))


@pytest.mark.parametrize("keys", [{}, {1: b"short"}, {1: KEY_1, 2: b"x" * 31}])
def test_bad_keys_are_refused(tmp_path, keys):
    with pytest.raises(StorageError):
        BlobStore(tmp_path, keys)


def test_parse_keys():
    import base64

    encoded = base64.urlsafe_b64encode(KEY_1).decode().rstrip("=")
    assert parse_keys(f"1:{encoded}, 2:{base64.urlsafe_b64encode(KEY_2).decode()}") == {
        1: KEY_1, 2: KEY_2}
    for bad in ("1", "x:" + encoded, "1:" + base64.urlsafe_b64encode(b"short").decode()):
        with pytest.raises(ValueError):
            parse_keys(bad)


# --- names ------------------------------------------------------------------------------

BAD_NAMES = ["../../etc/passwd", "../" + "a" * 29, "/etc/passwd", "A" * 32, "g" * 32,
             "0" * 31, "0" * 33, "", "0" * 30 + "/.", "..\\" + "0" * 29, "0" * 31 + "\x00",
             "０" * 32]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_outside_the_hex_form_are_refused(store, tmp_path, name):
    (tmp_path / "outside.blob").write_bytes(b"not for you")
    with pytest.raises(StorageError, match="not a storage name"):
        _read_all(store, name)
    with pytest.raises(StorageError):
        store.exists(name)
    with pytest.raises(StorageError):
        store.delete(name)
    assert (tmp_path / "outside.blob").exists()


def test_delete_removes_the_file(store):
    written = store.write(io.BytesIO(os.urandom(2000)))
    assert store.exists(written.name)
    store.delete(written.name)
    assert not store.exists(written.name)
    store.delete(written.name)  # twice is harmless
    with pytest.raises(StorageError, match="missing"):
        _read_all(store, written.name)
