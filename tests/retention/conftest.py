"""Each retention test stores evidence in its own empty store, so "the file is gone" is about
this test's files only; the clock is stopped where the test puts it."""

from __future__ import annotations

import pytest

from referrals.core.storage import BlobStore

STORE = "referrals_store"


@pytest.fixture(autouse=True)
def store(app, tmp_path):
    before = app.extensions.get(STORE)
    fresh = BlobStore(tmp_path / "evidence", app.config["REFERRALS_SETTINGS"].storage_keys)
    app.extensions[STORE] = fresh
    yield fresh
    if before is None:
        app.extensions.pop(STORE, None)
    else:
        app.extensions[STORE] = before


