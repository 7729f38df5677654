"""The hash-chained audit trail: what it stores, and that tampering is found where it happened."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text

from referrals.audit.models import AuditEvent
from referrals.audit.services import (
    HEAD_ID,
    event_digest,
    hashed_fields,
    record_event,
    record_events_in_bulk,
    verify_chain,
)
from referrals.core import clock
from referrals.core.identity import system_identity
from referrals.core.transaction import unit_of_work
from referrals.extensions import db
from tests.conftest import csrf_from
from tests.separate_databases import app_for, separate_database

ACTOR = system_identity("test:audit chain")


def _append(count: int) -> list[int]:
    """Append ``count`` events in the test's transaction; return their seq numbers."""
    events = [
        record_event(ACTOR, "test.recorded", object_type="test_object", object_id=n,
                     before={"n": n - 1}, after={"n": n, "label": f"event {n}"})
        for n in range(1, count + 1)
    ]
    db.session.flush()
    return [event.seq for event in events]


def _sql(statement: str, **params) -> None:
    db.session.execute(text(statement), params)


def _row(seq: int):
    table = AuditEvent.__table__
    return db.session.execute(select(table).where(table.c.seq == seq)).one()


# --- the chain in the test's own transaction ----------------------------------------


def test_events_verify_with_the_right_count():
    start = verify_chain().checked
    seqs = _append(5)
    assert seqs == list(range(start + 1, start + 6))
    report = verify_chain()
    assert report.ok, report.reason
    assert report.checked == start + 5
    first, second = _row(seqs[0]), _row(seqs[1])
    assert second.prev_hash == first.hash != second.hash


def test_verify_twice_in_one_transaction_sees_the_events_appended_between():
    start = verify_chain().checked
    _append(2)
    assert verify_chain().ok
    _append(1)
    report = verify_chain()
    assert report.ok, report.reason
    assert report.checked == start + 3


def test_bulk_events_are_one_chain_with_the_events_around_them():
    """The benchmark's bulk writer extends the same chain: single events before and after
    it link to its first and last, and a batch boundary inside it changes nothing."""
    start = verify_chain().checked
    before = _append(1)[0]
    made = record_events_in_bulk(ACTOR, ({"action": "test.bulk", "object_type": "test_object",
                                          "object_id": n, "after": {"n": n}} for n in range(5)),
                                 batch=2)
    after = _append(1)[0]
    assert made == 5
    assert after == before + 6
    assert _row(before + 1).prev_hash == _row(before).hash
    assert _row(after).prev_hash == _row(after - 1).hash
    assert json.loads(_row(before + 3).after) == {"n": 2}
    report = verify_chain()
    assert report.ok, report.reason
    assert report.checked == start + 7


def test_edited_after_is_found_at_that_event():
    seqs = _append(5)
    _sql("UPDATE audit_events SET after = :after WHERE seq = :seq",
         after='{"label":"event 3","n":333}', seq=seqs[2])
    report = verify_chain()
    assert not report.ok
    assert report.bad_seq == seqs[2]
    assert report.bad_id == _row(seqs[2]).id
    assert "changed after it was written" in report.reason


def test_edited_actor_is_found_at_that_event():
    seqs = _append(4)
    _sql("UPDATE audit_events SET actor_label = 'somebody else' WHERE seq = :seq", seq=seqs[1])
    report = verify_chain()
    assert not report.ok
    assert report.bad_seq == seqs[1]
    assert "changed" in report.reason


def test_deleted_middle_event_is_named_as_missing():
    seqs = _append(5)
    _sql("DELETE FROM audit_events WHERE seq = :seq", seq=seqs[2])
    report = verify_chain()
    assert not report.ok
    assert report.bad_seq == seqs[2]
    assert "missing" in report.reason
    assert report.checked == seqs[2] - 1


def test_deleted_middle_event_with_later_events_renumbered_breaks_the_link():
    seqs = _append(5)
    _sql("DELETE FROM audit_events WHERE seq = :seq", seq=seqs[2])
    for seq in seqs[3:]:
        _sql("UPDATE audit_events SET seq = seq - 1 WHERE seq = :seq", seq=seq)
    _sql("UPDATE audit_chain_head SET seq = seq - 1 WHERE id = :id", id=HEAD_ID)
    report = verify_chain()
    assert not report.ok
    assert report.bad_seq == seqs[2]
    assert "does not follow" in report.reason


def test_deleted_last_event_is_found_through_the_head():
    seqs = _append(4)
    _sql("DELETE FROM audit_events WHERE seq = :seq", seq=seqs[-1])
    report = verify_chain()
    assert not report.ok
    assert report.bad_seq == seqs[-1]
    assert report.checked == seqs[-1] - 1
    assert "head" in report.reason


def test_swapped_seq_of_two_events_is_found_at_the_first():
    seqs = _append(5)
    a, b = seqs[1], seqs[2]
    _sql("UPDATE audit_events SET seq = -1 WHERE seq = :a", a=a)
    _sql("UPDATE audit_events SET seq = :a WHERE seq = :b", a=a, b=b)
    _sql("UPDATE audit_events SET seq = :b WHERE seq = -1", b=b)
    report = verify_chain()
    assert not report.ok
    assert report.bad_seq == a
    assert "does not follow" in report.reason


def test_swapped_contents_of_two_events_is_found_at_the_first():
    seqs = _append(5)
    a, b = _row(seqs[1]), _row(seqs[2])
    columns = [c.name for c in AuditEvent.__table__.columns if c.name not in {"id", "seq"}]
    assignments = ", ".join(f'"{name}" = :{name}' for name in columns)
    for target, source in ((a, b), (b, a)):
        values = {name: getattr(source, name) for name in columns}
        _sql(f"UPDATE audit_events SET {assignments} WHERE id = :target_id",
             target_id=target.id, **values)
    report = verify_chain()
    assert not report.ok
    assert report.bad_seq == seqs[1]


def test_edited_event_with_recomputed_hash_breaks_the_link_to_the_next():
    seqs = _append(5)
    victim = _row(seqs[2])
    forged = SimpleNamespace(**{**victim._mapping, "after": '{"label":"forged","n":3}'})
    forged_hash = event_digest(hashed_fields(forged))
    _sql("UPDATE audit_events SET after = :after, hash = :hash WHERE seq = :seq",
         after=forged.after, hash=forged_hash, seq=victim.seq)
    report = verify_chain()
    assert not report.ok
    # The forged event itself now checks out; the next one no longer follows it.
    assert report.bad_seq == seqs[3]
    assert report.checked == seqs[2]
    assert "does not follow" in report.reason


def test_rolled_back_event_leaves_no_gap():
    start = verify_chain().checked
    nested = db.session.begin_nested()
    record_event(ACTOR, "test.rolled_back")
    db.session.flush()
    nested.rollback()
    seqs = _append(1)
    assert seqs == [start + 1]
    assert verify_chain().ok


# --- what an event written during a real request holds ------------------------------


REQUEST_HEADERS = {"User-Agent": "AuditFieldsTest/1.0 (synthetic)"}


def _latest(action: str, object_id) -> AuditEvent:
    return db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.object_id == str(object_id))
        .order_by(AuditEvent.seq.desc())
    ).first()


def test_failed_sign_in_event_stores_request_fields(client, make_user):
    user = make_user("agent")
    client.environ_base["REMOTE_ADDR"] = "198.51.100.23"
    page = client.get("/login")
    started = datetime.now(UTC)
    response = client.post(
        "/login",
        data={"email": user.email, "password": "not the password at all",
              "acknowledge_notice": "y", "csrf_token": csrf_from(page.text)},
        headers={**REQUEST_HEADERS, "X-Request-ID": "req-failed-sign-in-0001"},
    )
    assert response.status_code == 200  # the form again, with an error
    event = _latest("sign_in.failed", user.id)
    assert event is not None
    assert event.actor_kind == "anonymous"
    assert event.actor_id is None
    assert event.actor_label == f"sign-in as {user.email}"
    assert event.object_type == "user"
    assert event.before is None
    assert json.loads(event.after)["consecutive_failures"] == 1
    assert event.ip == "198.51.100.23"
    assert event.user_agent == REQUEST_HEADERS["User-Agent"]
    assert event.request_id == "req-failed-sign-in-0001"
    assert response.headers["X-Request-ID"] == "req-failed-sign-in-0001"
    assert event.occurred_at.tzinfo is not None and event.occurred_at.utcoffset().total_seconds() == 0
    assert started <= event.occurred_at <= datetime.now(UTC)
    assert verify_chain().ok


def test_staff_change_event_stores_actor_object_before_after_and_microseconds(
    client, sign_in, make_user
):
    admin = make_user("admin")
    target = make_user("agent")
    sign_in(admin)
    client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    page = client.get(f"/admin/accounts/{target.id}")
    assert page.status_code == 200
    moment = datetime.now(UTC).replace(microsecond=654321)
    clock.freeze(moment)
    try:
        response = client.post(
            f"/admin/accounts/{target.id}",
            data={"roles": ["agent", "supervisor"], "cleared_for_csam": "y",
                  "csrf_token": csrf_from(page.text)},
            headers={**REQUEST_HEADERS, "X-Request-ID": "req-access-change-0002"},
        )
    finally:
        clock.freeze(None)
    assert response.status_code == 302
    event = _latest("account.access_changed", target.id)
    assert event is not None
    assert (event.actor_kind, event.actor_id, event.actor_label) == ("staff", admin.id, admin.email)
    assert event.object_type == "user"
    before, after = json.loads(event.before), json.loads(event.after)
    assert before["roles"] == ["agent"] and before["cleared_for_csam"] is False
    assert after["roles"] == ["agent", "supervisor"] and after["cleared_for_csam"] is True
    assert event.ip == "203.0.113.9"
    assert event.user_agent == REQUEST_HEADERS["User-Agent"]
    assert event.request_id == "req-access-change-0002"
    assert event.occurred_at == moment
    assert event.occurred_at.utcoffset().total_seconds() == 0
    raw = db.session.execute(
        text("SELECT occurred_at FROM audit_events WHERE id = :id"), {"id": event.id}
    ).scalar()
    assert ".654321" in str(raw), f"microseconds lost in storage: {raw!r}"
    assert verify_chain().ok


# --- concurrent writers -------------------------------------------------------------

WRITERS = 8
TRANSACTIONS_EACH = 6
EVENTS_PER_TRANSACTION = 2


class Abandon(Exception):
    """Raised inside a unit of work to roll it back on purpose."""


def test_concurrent_writers_keep_one_gapless_chain(app, settings, tmp_path):
    """Threads, each with its own application context and session (so its own
    connection), append and commit at once; some transactions roll back. The head row's
    lock must serialise them into one chain with no duplicate or missing seq."""
    with separate_database(settings, tmp_path, "concurrency") as url:
        from flask_migrate import upgrade

        other = app_for(settings, url)
        with other.app_context():
            upgrade()
        barrier = threading.Barrier(WRITERS)
        errors: list[BaseException] = []

        def writer(number: int) -> None:
            try:
                barrier.wait(timeout=30)
                for transaction in range(TRANSACTIONS_EACH):
                    with other.app_context():
                        try:
                            with unit_of_work():
                                for step in range(EVENTS_PER_TRANSACTION):
                                    record_event(
                                        system_identity(f"test:writer {number}"),
                                        "test.concurrent",
                                        after={"writer": number, "transaction": transaction,
                                               "step": step},
                                    )
                                if transaction % 3 == 2:
                                    raise Abandon
                        except Abandon:
                            pass
            except BaseException as error:  # reported below, in the test's thread
                errors.append(error)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads), "a writer hung"
        assert not errors, errors

        committed_each = sum(1 for t in range(TRANSACTIONS_EACH) if t % 3 != 2)
        expected = WRITERS * committed_each * EVENTS_PER_TRANSACTION
        with other.app_context():
            try:
                rows = db.session.execute(
                    select(AuditEvent.seq, AuditEvent.after).order_by(AuditEvent.seq)
                ).all()
                report = verify_chain()
            finally:
                db.session.remove()
                db.engine.dispose()
        seqs = [row.seq for row in rows]
        afters = [json.loads(row.after) for row in rows]
        assert seqs == list(range(1, expected + 1))
        assert report.ok, report.reason
        assert report.checked == expected
        written = {(a["writer"], a["transaction"], a["step"]) for a in afters}
        assert len(written) == expected
        assert not any(t % 3 == 2 for _, t, _ in written)  # rolled back means not there
        # Each transaction's events are consecutive: the head stayed locked until commit.
        for first, second in zip(afters[::2], afters[1::2], strict=True):
            assert (first["writer"], first["transaction"]) == (second["writer"], second["transaction"])
