"""The two storage backends behave alike: a local directory and an S3-compatible bucket
(moto's standalone server over HTTP). Every test here runs on both (the ``objects`` fixture),
so a difference between them is a failure."""

from __future__ import annotations

import hashlib
import io
import os
import time

import pytest

from referrals.core import objectstore, s3store
from referrals.core.blob_keys import MemoryKeyRows
from referrals.core.objectstore import PART, Busy, StorageError
from referrals.core.storage import BlobStore, TooLarge

KEYS = {1: bytes(range(32))}
BIG = PART + PART // 2 + 12345  # two parts on S3


@pytest.fixture
def store(objects):
    return BlobStore(objects, KEYS, MemoryKeyRows())  # keys rows kept in memory: no database


def _leftovers(objects) -> list:
    return list(objects.older_than(float("inf")))


def _later(monkeypatch, seconds: float) -> None:
    """Move this process's clock on (the S3 backend's markers name moments)."""
    moved = time.time() + seconds
    monkeypatch.setattr(s3store.time, "time", lambda: moved)


@pytest.mark.parametrize("size", [0, 1, 1024 * 1024 + 1, BIG])
def test_a_blob_goes_in_and_comes_out_whole(store, size):
    data = os.urandom(size)
    written = store.write(io.BytesIO(data))
    assert written.sha256 == hashlib.sha256(data).hexdigest()
    assert b"".join(store.read(written.name)) == data
    assert store.exists(written.name) and store.legacy_key_id(written.name) is None
    [stored] = _leftovers(store.objects)
    assert stored.name == written.name and not stored.partial and stored.size > size


def test_a_range_reads_only_those_bytes(objects):
    data = os.urandom(3 * 1024 * 1024)
    out = objects.writer("ab" * 16)
    out.write(data)
    out.finish()
    reader = objects.open("ab" * 16, 1_000_000, 5000)
    try:
        assert reader.size == len(data)
        assert objectstore.read_exactly(reader, 10_000) == data[1_000_000:1_005_000]
    finally:
        reader.close()


def test_a_write_that_fails_half_way_leaves_nothing(store):
    with pytest.raises(TooLarge):
        store.write(io.BytesIO(os.urandom(BIG)), max_bytes=PART + 1)
    assert _leftovers(store.objects) == []
    assert store.write(io.BytesIO(b"x" * 1000), max_bytes=1000).size == 1000


def test_a_missing_or_damaged_blob_is_a_storage_error(store):
    with pytest.raises(StorageError, match="missing"):
        list(store.read("cd" * 16))
    written = store.write(io.BytesIO(os.urandom(5000)))
    raw = b"".join(_raw(store.objects, written.name))
    out = store.objects.writer(written.name)
    out.write(raw[:-1] + bytes([raw[-1] ^ 1]))
    out.finish()
    with pytest.raises(StorageError, match="altered or damaged"):
        list(store.read(written.name))
    store.delete(written.name)
    assert not store.exists(written.name) and _leftovers(store.objects) == []


def _raw(objects, name):
    reader = objects.open(name)
    try:
        while chunk := reader.read(65536):
            yield chunk
    finally:
        reader.close()


def test_a_write_whose_process_died_is_unfinished_until_swept(objects, monkeypatch):
    name = "ef" * 16
    out = objects.writer(name)
    out.write(os.urandom(PART + 10))  # a part has gone up; then the process "dies"
    [left] = _leftovers(objects)
    assert left.name == name and left.partial and left.size >= PART
    assert not objects.exists(name)
    if isinstance(objects, s3store.S3Objects):
        # The writer could still be alive: a live marker says so until its time runs out.
        assert objects.partial_in_progress(name)
        _later(monkeypatch, objectstore.WRITE_LEASE + 1)
    else:
        out.handle.close()  # a dead process's lock is gone
    assert not objects.partial_in_progress(name)
    objects.delete_partial(name)
    assert _leftovers(objects) == [] and not objects.exists(name)


def test_staged_blobs_are_pending_until_kept_or_removed(store):
    kept = store.stage(io.BytesIO(b"synthetic evidence one"))
    dropped = store.stage(io.BytesIO(b"synthetic evidence two"))
    assert store.is_pending(kept.name) and store.is_pending(dropped.name)
    assert list(store.abandoned()) == []  # both held by their transaction
    kept.keep()
    dropped.remove()
    assert store.exists(kept.name) and not store.is_pending(kept.name)
    assert not store.exists(dropped.name) and not store.is_pending(dropped.name)


def test_a_claimed_blob_cannot_be_claimed_twice(store):
    written = store.write(io.BytesIO(b"synthetic evidence to purge"))
    claim = store.claim(written.name)
    assert claim is not None and store.claim(written.name) is None
    claim.keep()  # rolled back
    again = store.claim(written.name)
    assert again is not None
    again.remove()
    assert not store.exists(written.name) and not store.is_pending(written.name)


def test_a_marker_its_holder_let_go_of_is_abandoned_and_settled_once(store):
    staged = store.stage(io.BytesIO(b"synthetic evidence of a crashed request"))
    staged.release()  # the process went between its write and its commit
    [found] = list(store.abandoned())
    assert found.name == staged.name
    assert list(store.abandoned()) == []  # held by the first sweep now
    found.remove()
    assert not store.exists(staged.name) and not store.is_pending(staged.name)


def test_on_s3_a_holder_that_never_let_go_is_abandoned_when_its_time_runs_out(
        s3_objects, monkeypatch):
    store = BlobStore(s3_objects, KEYS)
    staged = store.stage(io.BytesIO(b"synthetic evidence of a killed worker"))
    assert list(store.abandoned()) == []
    with pytest.raises(Busy):
        s3_objects.hold_marker(staged.name)
    _later(monkeypatch, objectstore.PENDING_LEASE + 1)
    [found] = list(store.abandoned())
    assert found.name == staged.name
    found.keep()  # a row named it after all
    assert store.exists(staged.name) and not store.is_pending(staged.name)


def test_readiness_fails_for_a_bucket_that_is_not_there(s3_endpoint):
    missing = s3store.S3Objects.connect("no-such-bucket-here", endpoint_url=s3_endpoint,
                                            path_style=True)
    with pytest.raises(Exception):
        missing.check()


def test_names_outside_ours_are_refused(objects):
    for name in ("../../etc/passwd", "A" * 32, "ab"):
        with pytest.raises(StorageError, match="not a storage name"):
            objects.exists(name)
