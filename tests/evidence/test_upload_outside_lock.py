"""Nothing slow inside the audit lock (issue 9, STYLE rule 14): a blob is hashed, encrypted and
written before the transaction writes, so while one upload is writing its file another writer
appends to the audit chain. On a database of its own with real commits (a SQLite file, or a
fresh PostgreSQL database), as the web app's requests use it."""

from __future__ import annotations

import io
import threading
import time
from datetime import date

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from referrals.accounts.services import create_staff_user, ensure_roles
from referrals.audit import services as audit_services
from referrals.audit.models import AuditEvent
from referrals.audit.services import record_event, verify_chain
from referrals.cases.services import open_case
from referrals.connector import Period, Target
from referrals.connector.services import collect_from_platform
from referrals.core.identity import Identity, system_identity
from referrals.core.storage import CHUNK, BlobStore
from referrals.core.transaction import commit, unit_of_work
from referrals.evidence import services as evidence_services
from referrals.evidence.models import EvidenceItem
from referrals.extensions import db
from referrals.tokens.models import ApiToken
from referrals.tokens.services import create_token
from tests.retention.helpers import add_item, make_case, make_hold
from tests.separate_databases import app_for, separate_database


class GatedBody(io.RawIOBase):
    """A request body whose first MiB arrives at once and the rest only when ``go`` is set:
    the upload is then in the middle of writing its blob."""

    def __init__(self, size: int):
        self.size, self.sent = size, 0
        self.mid_write, self.go = threading.Event(), threading.Event()

    def readable(self) -> bool:
        return True

    # The test client measures a body by seeking to its end and back; reading is unaffected.
    _position = 0

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        self._position = self.size if whence == 2 else offset
        return self._position

    def readinto(self, buffer) -> int:
        if self.sent >= CHUNK and not self.go.is_set():
            self.mid_write.set()
            self.go.wait(60)
        n = min(len(buffer), self.size - self.sent, 64 * 1024)
        buffer[:n] = bytes([self.sent % 251]) * n
        self.sent += n
        return n


def test_an_audit_event_is_appended_while_an_upload_writes_its_blob(app, settings, tmp_path):
    with separate_database(settings, tmp_path, "upload_lock") as url:
        other = app_for(settings, url)
        try:
            with other.app_context():
                upgrade()
                with unit_of_work():
                    ensure_roles()
                    agent, _ = create_staff_user(
                        system_identity("test"), email="agent@upload-lock.example",
                        full_name="Synthetic Agent", roles=["agent"],
                        password="synthetic agent passphrase 42")
                    case = open_case(Identity.for_user(agent), title="Synthetic upload",
                                     category="other")
                    token, secret = create_token(system_identity("test"), agent,
                                                 scopes=["evidence:write"])
                    reference, token_id = case.reference, token.id
                db.session.remove()

            body = GatedBody(3 * CHUNK)
            outcome: dict = {}

            def upload():
                client = other.test_client()
                response = client.post(
                    f"/api/v1/cases/{reference}/evidence?filename=capture.bin",
                    input_stream=body,
                    headers={"Authorization": f"Bearer {secret}",
                             "Content-Type": "application/octet-stream"})
                outcome["upload"] = (response.status_code, response.get_json())

            def append():
                try:
                    with other.app_context(), unit_of_work():
                        record_event(system_identity("test"), "test.appended_during_upload")
                    outcome["appended"] = True
                except Exception as error:  # noqa: BLE001 (reported below)
                    outcome["append_error"] = repr(error)
                finally:
                    with other.app_context():
                        db.session.remove()

            uploader = threading.Thread(target=upload)
            uploader.start()
            assert body.mid_write.wait(30), "the upload never started writing its blob"
            appender = threading.Thread(target=append)
            started = time.monotonic()
            appender.start()
            appender.join(8)  # far longer than an append takes; shorter than SQLite's busy wait
            appended_while_writing = outcome.get("appended", False)
            waited = time.monotonic() - started
            body.go.set()
            appender.join(30)
            uploader.join(60)

            assert appended_while_writing, (
                f"no audit event could be appended while an upload wrote its blob "
                f"(waited {waited:.1f} s; {outcome.get('append_error', 'still waiting')})")
            status, payload = outcome["upload"]
            assert status == 201, payload
            with other.app_context():
                actions = list(db.session.scalars(select(AuditEvent.action)
                                                  .order_by(AuditEvent.seq)))
                assert actions[-2:] == ["test.appended_during_upload", "evidence.collected"]
                item = db.session.get(EvidenceItem, payload["id"])
                assert item.size == body.size
                store = other.extensions["referrals_store"]
                assert store.exists(item.blob.storage_name)
                assert not store.is_pending(item.blob.storage_name)  # kept at commit
                # The token's last use is still recorded, with the request's commit.
                assert db.session.get(ApiToken, token_id).last_used_at is not None
                assert verify_chain().ok
                db.session.remove()
        finally:
            with other.app_context():
                db.session.remove()
                db.engine.dispose()


def test_collection_writes_every_file_before_its_first_audit_event(monkeypatch):
    """On PostgreSQL the chain head's row lock is held from a transaction's first audit event to
    its commit: a collection of several files stores them all before recording any."""
    calls: list[str] = []
    real_write, real_record = BlobStore.write, audit_services.record_event

    def write(self, *args, **kwargs):
        calls.append("write")
        return real_write(self, *args, **kwargs)

    def record(*args, **kwargs):
        calls.append("audit")
        return real_record(*args, **kwargs)

    hold = make_hold()
    monkeypatch.setattr(BlobStore, "write", write)
    monkeypatch.setattr(evidence_services, "record_event", record)
    items = collect_from_platform(
        system_identity("test"), targets=[Target("email", "someone@example.org")],
        categories=["subscriber", "content"],
        period=Period(date(2026, 1, 1), date(2026, 3, 31)), purpose="snapshot", hold=hold)
    assert len(items) >= 3 and calls.count("write") == len(items)
    first_audit = calls.index("audit")
    assert "write" not in calls[first_audit:], calls


@pytest.fixture
def fresh_store(app, tmp_path):
    before = app.extensions.get("referrals_store")
    app.extensions["referrals_store"] = BlobStore(
        tmp_path / "evidence", app.config["REFERRALS_SETTINGS"].storage_keys)
    yield app.extensions["referrals_store"]
    app.extensions["referrals_store"] = before


def test_the_copy_of_bytes_stored_already_goes_after_the_commit(fresh_store):
    """A second upload of the same bytes is stored once: its own copy is overwritten and removed
    (as slow as writing it) after the transaction, not inside it."""
    store = fresh_store
    case = make_case()
    data = b"synthetic evidence uploaded twice\n" * 1000
    first = add_item(case, data)
    commit()
    before = set(store.root.glob("*/*.blob"))
    second = add_item(case, data)
    assert second.blob_id == first.blob_id
    [copy] = set(store.root.glob("*/*.blob")) - before  # still there inside the transaction
    commit()
    assert not copy.exists() and not list((store.root / "pending").iterdir())
    assert store.exists(first.blob.storage_name)
