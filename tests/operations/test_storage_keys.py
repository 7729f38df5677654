"""Master key rotation (issue 16): ``storage rewrap`` re-wraps data keys under the current
master key, ``storage reencrypt-legacy`` gives blobs from before envelope encryption a data key
of their own, ``storage keys`` says which master keys may go; a master key that rows still need
and the settings lack is a plain error, and /readyz says so."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.core.blob_keys import BlobKey
from referrals.core.clock import now
from referrals.core.identity import system_identity
from referrals.core.storage import BlobStore, StorageError
from referrals.core.transaction import commit
from referrals.evidence.models import StoredBlob
from referrals.extensions import db
from referrals.operations.storage_keys import (KeyRotationError, check_master_keys_at_start,
                                               key_report, reencrypt_legacy, rewrap)
from tests.core.legacy_blobs import write_legacy_blob
from tests.retention.helpers import add_item, make_case

KEY_1, KEY_2, KEY_3 = os.urandom(32), os.urandom(32), os.urandom(32)
STORE = "referrals_store"
ACTOR = system_identity("test:rotation")


@pytest.fixture
def use_keys(app, tmp_path):
    """``use_keys({1: …})``: the app's store, in this test's directory, with these master keys
    (as after editing REFERRALS_STORAGE_KEYS and restarting)."""
    before = app.extensions.get(STORE)

    def configure(keys: dict[int, bytes]) -> BlobStore:
        app.extensions[STORE] = BlobStore(tmp_path / "evidence", keys)
        return app.extensions[STORE]

    yield configure
    if before is None:
        app.extensions.pop(STORE, None)
    else:
        app.extensions[STORE] = before


def _items(count: int, tag: str = "") -> list:
    case = make_case()
    items = [add_item(case, f"synthetic evidence {tag}{n}\n".encode() * 50)
             for n in range(count)]
    commit()
    return items


def _read(store: BlobStore, name: str) -> bytes:
    return b"".join(store.read(name))


def _events(action: str) -> list[dict]:
    return [json.loads(e.after) for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq))]


def _legacy(store_root, sha_data: bytes, key_id: int, key: bytes) -> str:
    name = write_legacy_blob(store_root, key_id, key, sha_data)
    db.session.add(StoredBlob(sha256=hashlib.sha256(sha_data).hexdigest(), storage_name=name,
                              key_id=key_id, size=len(sha_data), created_at=now()))
    commit()
    return name


def test_rewrap_moves_every_data_key_to_the_current_master_key_in_audited_batches(use_keys):
    use_keys({1: KEY_1})
    items = _items(5)
    names = [i.blob.storage_name for i in items]
    plain = {i.blob.storage_name: f"synthetic evidence {n}\n".encode() * 50
             for n, i in enumerate(items)}
    store = use_keys({1: KEY_1, 2: KEY_2})
    assert key_report(store).wrapped == {1: 5} and key_report(store).removable == []

    lines = []
    result = rewrap(ACTOR, store, batch=2, progress=lines.append)
    assert (result.rewrapped, result.batches) == (5, 3) and len(lines) == 3
    assert {r.master_key_id for r in db.session.scalars(select(BlobKey))} == {2}
    assert [e["rewrapped"] for e in _events("storage.keys_rewrapped")] == [2, 2, 1]
    assert _events("storage.keys_rewrapped")[0]["from_master_keys"] == {"1": 2}
    assert key_report(store).removable == [1]

    retired = use_keys({2: KEY_2})  # key 1 removed from the settings
    for name in names:
        assert _read(retired, name) == plain[name]
    assert rewrap(ACTOR, retired).rewrapped == 0  # run again: nothing left to do


def test_rewrap_from_one_key_leaves_the_others(use_keys):
    use_keys({1: KEY_1})
    [first] = _items(1)
    use_keys({1: KEY_1, 2: KEY_2})
    [second] = _items(1, "second")
    store = use_keys({1: KEY_1, 2: KEY_2, 3: KEY_3})
    assert rewrap(ACTOR, store, from_key=2).rewrapped == 1
    assert db.session.get(BlobKey, first.blob.storage_name).master_key_id == 1
    assert db.session.get(BlobKey, second.blob.storage_name).master_key_id == 3
    with pytest.raises(KeyRotationError, match="master key 3 is the current key"):
        rewrap(ACTOR, store, from_key=3)


def test_a_master_key_rows_need_missing_is_a_plain_error_naming_it(use_keys, client, app,
                                                                    caplog):
    use_keys({1: KEY_1})
    [item] = _items(1)
    store = use_keys({2: KEY_2})  # key 1 dropped before the rewrap
    with pytest.raises(KeyRotationError, match="master key 1 is not configured"):
        rewrap(ACTOR, store)
    with pytest.raises(StorageError, match="master key 1 is not configured"):
        _read(store, item.blob.storage_name)
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json["checks"]["storage_keys"] == "failed"
    said = app.test_cli_runner().invoke(args=["storage", "keys"])
    assert said.exit_code == 1 and "key 1: 1 data key(s) wrapped" in said.output
    assert "NOT CONFIGURED" in said.output and "put them back" in said.output
    assert check_master_keys_at_start(app) == [1]  # the worker says it in its log at start
    assert "storage master key(s) 1 wrap stored data keys" in caplog.text


def test_storage_keys_says_when_a_retired_key_may_be_removed(use_keys, app):
    use_keys({1: KEY_1})
    _items(2)
    use_keys({1: KEY_1, 2: KEY_2})
    runner = app.test_cli_runner()
    said = runner.invoke(args=["storage", "keys"])
    assert said.exit_code == 0 and "No configured key may be removed yet." in said.output
    said = runner.invoke(args=["storage", "rewrap"])
    assert said.exit_code == 0, said.output
    assert "2 data key(s) re-wrapped under master key 2" in said.output
    assert "Key(s) 1 may be removed from REFERRALS_STORAGE_KEYS" in said.output


# --- blobs from before envelope encryption ------------------------------------------------------


def test_a_legacy_blob_reads_after_the_upgrade_and_is_converted_to_its_own_data_key(
        use_keys, tmp_path, app):
    store = use_keys({1: KEY_1})
    data = os.urandom(2 * 1024 * 1024 + 5)
    name = _legacy(store.root, data, 1, KEY_1)
    assert _read(store, name) == data  # as the old code wrote it, read by the new
    store = use_keys({1: KEY_1, 2: KEY_2})
    assert key_report(store).legacy == {1: 1} and key_report(store).removable == []
    assert rewrap(ACTOR, store).rewrapped == 0  # nothing to re-wrap: it has no data key

    said = app.test_cli_runner().invoke(args=["storage", "reencrypt-legacy"])
    assert said.exit_code == 0, said.output
    assert "1 legacy blob(s) re-encrypted" in said.output
    assert "Key(s) 1 may be removed" in said.output
    assert store.legacy_key_id(name) is None and not store.is_pending(name)
    assert db.session.get(BlobKey, name).master_key_id == 2
    assert _read(use_keys({2: KEY_2}), name) == data  # key 1 gone: still reads
    assert _events("storage.legacy_reencrypted") == [{"blobs": 1, "master_key": 2}]
    # Run again: nothing to do.
    assert reencrypt_legacy(ACTOR, use_keys({2: KEY_2})).converted == 0


def test_a_legacy_blob_that_does_not_match_its_hash_is_left_as_it_was(use_keys):
    store = use_keys({1: KEY_1})
    name = write_legacy_blob(store.root, 1, KEY_1, b"synthetic bytes")
    db.session.add(StoredBlob(sha256="0" * 64, storage_name=name, key_id=1, size=15,
                              created_at=now()))
    commit()
    result = reencrypt_legacy(ACTOR, use_keys({1: KEY_1, 2: KEY_2}))
    assert result.converted == 0 and "does not match its recorded SHA-256" in result.failed[0]
    assert store.legacy_key_id(name) == 1 and _read(store, name) == b"synthetic bytes"
    assert not list(store.root.glob("*/*.partial"))


def test_a_run_cut_between_its_commit_and_the_rewrite_is_finished_by_the_next(use_keys,
                                                                            monkeypatch):
    store = use_keys({1: KEY_1})
    name = _legacy(store.root, b"synthetic legacy bytes" * 100, 1, KEY_1)
    store = use_keys({1: KEY_1, 2: KEY_2})

    def cut(*args, **kwargs):
        raise KeyboardInterrupt  # the operator's Ctrl-C, after the batch committed

    monkeypatch.setattr(store, "write", cut)
    with pytest.raises(KeyboardInterrupt):
        reencrypt_legacy(ACTOR, store)
    monkeypatch.undo()
    # The key row is there, the file still the legacy one: still readable, still counted.
    assert db.session.get(BlobKey, name) is not None and store.legacy_key_id(name) == 1
    assert _read(store, name) == b"synthetic legacy bytes" * 100
    assert key_report(store).legacy == {1: 1}
    assert reencrypt_legacy(ACTOR, store).converted == 1
    assert _read(use_keys({2: KEY_2}), name) == b"synthetic legacy bytes" * 100
