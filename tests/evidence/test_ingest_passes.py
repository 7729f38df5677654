"""An upload costs one pass over its bytes (issue 17: ``add_evidence`` within 1.2× of the
plain two-thread pipeline): the stream is read once, the blob written once, and nothing
reads it back (no second hash, no MIME sniffing of the stored file, no copy)."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from referrals.core.objectstore import LocalObjects
from referrals.core.storage import HEADER, BlobStore
from referrals.evidence.services import add_evidence
from tests.retention.helpers import AGENT, make_case

SIZE = 3 * 1024 * 1024 + 12345


class CountedUpload(io.BytesIO):
    """A request body that counts the bytes taken from it, however they are taken."""

    taken = 0

    def readinto(self, buffer) -> int:
        got = super().readinto(buffer)
        self.taken += got
        return got

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.taken += len(data)
        return data


@pytest.fixture
def counted_store(app, tmp_path, monkeypatch):
    """The app's store in a fresh directory, its writers and readers counted."""
    seen = {"opened": [], "writers": [], "written": 0}
    real_writer, real_open = LocalObjects.writer, LocalObjects.open

    def writer(objects, name, keepalive=None):
        out = real_writer(objects, name, keepalive)
        seen["writers"].append(name)
        real_write = out.write

        def counted_write(data) -> int:
            written = real_write(data)
            seen["written"] += written
            return written

        out.write = counted_write
        return out

    def opened(objects, name, start=0, length=None):
        seen["opened"].append(name)
        return real_open(objects, name, start, length)

    monkeypatch.setattr(LocalObjects, "writer", writer)
    monkeypatch.setattr(LocalObjects, "open", opened)
    before = app.extensions.get("referrals_store")
    app.extensions["referrals_store"] = BlobStore(
        tmp_path / "evidence", app.config["REFERRALS_SETTINGS"].storage_keys)
    yield app.extensions["referrals_store"], seen
    app.extensions["referrals_store"] = before


def test_an_upload_is_read_once_written_once_and_never_read_back(counted_store):
    store, seen = counted_store
    data = os.urandom(SIZE)
    upload = CountedUpload(data)
    item = add_evidence(AGENT, make_case(), upload, original_name="synthetic.bin")
    assert upload.taken == SIZE  # every byte taken from the body once
    [name] = seen["writers"]  # one file written ...
    assert item.blob.storage_name == name and item.sha256 == hashlib.sha256(data).hexdigest()
    stored = store.objects.path(name).stat().st_size
    assert seen["written"] == stored > SIZE + HEADER  # ... once, header and sealed chunks
    assert seen["opened"] == []  # and not read back
