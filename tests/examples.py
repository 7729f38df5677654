"""One generated (hypothesis) example, isolated from the next: its own savepoint and its own
empty store, both gone afterwards. The test's own transaction (tests/conftest.py) wraps them
all."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from referrals.core import clock
from referrals.core.storage import BlobStore
from referrals.extensions import db


@contextmanager
def isolated_example(app, prefix: str = "example-"):
    """Rows and stored files of the example are seen by nobody after it; the clock runs
    again."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    before = app.extensions.get("referrals_store")
    app.extensions["referrals_store"] = BlobStore(root, app.config["REFERRALS_SETTINGS"].storage_keys)
    savepoint = db.session.begin_nested()
    try:
        yield app.extensions["referrals_store"]
    finally:
        if savepoint.is_active:
            savepoint.rollback()
        db.session.expire_all()
        app.extensions["referrals_store"] = before
        clock.freeze(None)
        shutil.rmtree(root, ignore_errors=True)
