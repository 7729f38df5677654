"""A blob is written once and leaves nothing of itself in the page cache (issue 17: a 1 GiB
ingest spent 3 s of its 4.7 s in the kernel, reclaiming a page of the full cache for each page
it wrote; written back as it goes and let go of, it takes 0.5 s).

What is in the page cache is asked of the kernel (``mincore`` on a mapping that is never
touched, so asking faults nothing in)."""

from __future__ import annotations

import ctypes
import io
import mmap
import os
from pathlib import Path

import pytest

from referrals.core import drop_behind, objectstore
from referrals.core.blob_keys import MemoryKeyRows
from referrals.core.objectstore import LocalObjects
from referrals.core.storage import BlobStore

KEYS = {1: bytes(range(32))}
SIZE = 40 * 1024 * 1024  # five windows
PAGE = mmap.PAGESIZE

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]


def cached_fraction(path: Path) -> float:
    """The share of ``path``'s pages that are in the page cache now."""
    size = path.stat().st_size
    with open(path, "r+b") as handle, mmap.mmap(handle.fileno(), size) as mapping:
        start = ctypes.c_char.from_buffer(mapping)
        try:
            pages = (size + PAGE - 1) // PAGE
            vector = ctypes.create_string_buffer(pages)
            if _libc.mincore(ctypes.addressof(start), size, vector) != 0:
                raise OSError(ctypes.get_errno(), "mincore")
            return sum(byte & 1 for byte in vector.raw) / pages
        finally:
            del start  # the mapping cannot close while a ctypes object points into it


@pytest.fixture
def store(tmp_path):
    return BlobStore(LocalObjects(tmp_path / "objects"), KEYS, MemoryKeyRows())


def _plain_copy(tmp_path: Path) -> Path:
    """The control: written the plain way, the same bytes stay cached (were they not, on this
    file system, the test below would prove nothing)."""
    path = tmp_path / "plain.bin"
    with open(path, "wb") as handle:
        handle.write(os.urandom(SIZE))
        handle.flush()
        os.fsync(handle.fileno())
    return path


def test_a_written_blob_leaves_the_page_cache(store, tmp_path):
    assert cached_fraction(_plain_copy(tmp_path)) > 0.9
    written = store.write(io.BytesIO(os.urandom(SIZE)))
    assert cached_fraction(store.objects.path(written.name)) < 0.05
    assert len(b"".join(store.read(written.name))) == SIZE  # and reads back whole


def test_while_it_is_written_at_most_a_few_windows_are_cached(tmp_path):
    objects = LocalObjects(tmp_path / "objects")
    out = objects.writer("ab" * 16)
    chunk, size = os.urandom(1024 * 1024), 12 * drop_behind.WINDOW
    for _ in range(size // len(chunk)):
        out.write(chunk)
    out.flush()
    limit = (drop_behind.IN_FLIGHT + 1) * drop_behind.WINDOW + len(chunk)
    assert cached_fraction(out.temp) * size <= limit < size / 2
    out.finish()
    assert cached_fraction(objects.path("ab" * 16)) < 0.05


def test_without_sync_file_range_fdatasync_does_its_work(store, monkeypatch):
    monkeypatch.setattr(drop_behind, "_sync_file_range", None)  # not Linux
    written = store.write(io.BytesIO(os.urandom(SIZE)))
    assert cached_fraction(store.objects.path(written.name)) < 0.05


def test_a_refusal_of_the_kernel_only_means_the_plain_way(store, monkeypatch):
    def refused(*args):
        ctypes.set_errno(22)  # EINVAL, as from a file system that cannot
        return -1

    monkeypatch.setattr(drop_behind, "_sync_file_range", refused)
    data = os.urandom(SIZE)
    written = store.write(io.BytesIO(data))
    assert b"".join(store.read(written.name)) == data


def test_the_renamed_blob_is_durable_with_its_folder(store, monkeypatch):
    """The transaction that commits after the write names the file: its name (the rename, a
    new folder) is on disk before ``finish`` returns, not only its bytes."""
    synced = []
    monkeypatch.setattr(objectstore, "fsync_directory", synced.append)
    written = store.write(io.BytesIO(b"synthetic evidence"))
    path = store.objects.path(written.name)
    assert synced == [path.parent, path.parent.parent]  # a new folder: the root too
    synced.clear()
    again = store.objects.path(store.write(io.BytesIO(b"more synthetic evidence")).name)
    assert synced[0] == again.parent
