"""The orphan sweep on both storage backends (a local directory, an S3 bucket on moto's
server): the same leftovers go, the same named blob stays. On S3 an unfinished write is an
incomplete multipart upload, aborted once its writer's marker has run out."""

from __future__ import annotations

import io
import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from referrals.core import objectstore, s3store
from referrals.core.objectstore import PART
from referrals.core.storage import BlobStore
from referrals.retention.orphans import remove_leftovers, remove_orphans
from tests.retention.conftest import swapped_store
from tests.retention.helpers import add_item, make_case


@pytest.fixture
def store(app, objects):
    yield from swapped_store(app, objects)


def _die_mid_write(store: BlobStore, monkeypatch) -> str:
    """A write that sent a part, then its process died."""
    name = "ab" + "0" * 30
    out = store.objects.writer(name)
    out.write(os.urandom(PART + 10))
    if isinstance(store.objects, s3store.S3Objects):
        moved = time.time() + objectstore.PENDING_LEASE + 1
        monkeypatch.setattr(s3store.time, "time", lambda: moved)
    else:
        out.handle.close()  # the dead process's lock goes with it
    return name


def test_the_sweep_removes_the_same_leftovers_on_either_backend(store, monkeypatch):
    named = add_item(make_case(), b"synthetic evidence bytes\n").blob.storage_name
    failed = store.write(io.BytesIO(b"bytes of a synthetic upload that failed\n")).name
    crashed = store.stage(io.BytesIO(b"bytes of a synthetic upload whose server died\n"))
    crashed.release()
    half = _die_mid_write(store, monkeypatch)

    at_start = remove_leftovers()  # what a worker does when it starts: crash leftovers only
    assert at_start.crash_leftovers == 1 and at_start.files == 1
    assert not store.exists(crashed.name) and not store.is_pending(crashed.name)
    assert store.exists(failed)  # a day's grace: an upload may still be naming it

    report = remove_orphans(datetime.now(UTC) + timedelta(days=2))
    assert report.files == 1 and report.crash_leftovers == 0
    # The unfinished write goes in one run or the other: locally a .partial waits a minute;
    # moto reports every multipart upload as begun in 2010, so it goes at the first run.
    assert at_start.unfinished + report.unfinished == 1
    assert not store.exists(failed)
    left = list(store.files_older_than(float("inf")))
    assert [(row.name, row.partial) for row in left] == [(named, False)]
    assert half not in {row.name for row in left}
    assert b"".join(store.read(named)) == b"synthetic evidence bytes\n"
