"""Each retention test stores evidence in its own empty store, so "the file is gone" is about
this test's files only; the clock is stopped where the test puts it."""

from __future__ import annotations

import pytest

from referrals.core.storage import BlobStore

STORE = "referrals_store"


def swapped_store(app, where):
    """The app's store replaced by a fresh one in ``where`` (a directory or a backend) for
    the test's length."""
    before = app.extensions.get(STORE)
    fresh = BlobStore(where, app.config["REFERRALS_SETTINGS"].storage_keys)
    app.extensions[STORE] = fresh
    yield fresh
    if before is None:
        app.extensions.pop(STORE, None)
    else:
        app.extensions[STORE] = before


@pytest.fixture(autouse=True)
def store(app, tmp_path):
    yield from swapped_store(app, tmp_path / "evidence")


