"""Short locks: reading takes no write lock, a write transaction takes it at its first write
(without "database is locked" on the way), bookkeeping is written after the request's own
transaction, and static files touch no database. Real threads on a database file of their
own where concurrency is the point."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from flask import g
from flask_migrate import upgrade
from sqlalchemy import event, select, text

from referrals.core.bookkeeping import NoteNotWritten, note, pending_notes, write_notes
from referrals.core.sqlite import begin_immediate, holds_write_lock, is_write
from referrals.core.transaction import has_written
from referrals.extensions import db
from referrals.tokens.models import ApiToken
from tests import factories
from tests.cases.helpers import bearer, make_token, open_case
from tests.separate_databases import app_for, separate_database


def _statements(engine):
    seen: list[str] = []

    def record(connection, cursor, statement, *args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    return seen, lambda: event.remove(engine, "before_cursor_execute", record)


def test_a_static_file_for_a_signed_in_user_touches_no_database(client, as_role):
    as_role("agent")
    seen, stop = _statements(db.engine)
    try:
        response = client.get("/static/app.css")
    finally:
        stop()
    assert response.status_code == 200
    assert seen == []


@pytest.fixture
def file_database(app, settings, tmp_path):
    """An engine on a migrated database of its own (a file on SQLite), for real threads."""
    with separate_database(settings, tmp_path, "locks") as url:
        other = app_for(settings, url)
        with other.app_context():
            upgrade()
            engine = db.engine
            with engine.begin() as connection:
                connection.execute(text(
                    "INSERT INTO case_counters (year, last) VALUES (1, 0), (2, 0)"))
            yield engine
            engine.dispose()


def _run(*targets, timeout: float = 30) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded(target):
        def run():
            try:
                target()
            except BaseException as error:  # noqa: BLE001 (reported by the caller)
                errors.append(error)
        return run

    threads = [threading.Thread(target=guarded(target)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return errors


def test_a_transaction_that_only_reads_never_makes_a_writer_wait(file_database):
    engine = file_database
    reading, written = threading.Event(), threading.Event()
    waited: list[float] = []

    def reader():  # a long request that only reads: its transaction stays open throughout
        with engine.connect() as connection, connection.begin():
            connection.execute(text("SELECT last FROM case_counters WHERE year = 1")).scalar()
            reading.set()
            written.wait(15)
            connection.execute(text("SELECT count(*) FROM case_counters")).scalar()

    def writer():
        reading.wait(5)
        started = time.monotonic()
        with engine.begin() as connection:
            connection.execute(text("UPDATE case_counters SET last = 7 WHERE year = 2"))
        waited.append(time.monotonic() - started)
        written.set()

    assert _run(reader, writer) == []
    assert waited and waited[0] < 2.0  # not the busy timeout (10 s) behind the reader


def test_a_write_after_reads_takes_the_lock_with_its_savepoints_and_keeps_them(file_database):
    engine = file_database
    read, committed = threading.Event(), threading.Event()

    def request():  # reads inside a savepoint; another writer commits; then it writes
        with engine.connect() as connection, connection.begin():
            with connection.begin_nested():
                last = connection.execute(text(
                    "SELECT last FROM case_counters WHERE year = 1")).scalar()
                read.set()
                committed.wait(5)
                connection.execute(text("UPDATE case_counters SET last = :n WHERE year = 1"),
                                   {"n": last + 1})
                if engine.dialect.name == "sqlite":
                    assert holds_write_lock(connection)
            with connection.begin_nested() as inner:  # a savepoint after the upgrade
                connection.execute(text("UPDATE case_counters SET last = 99 WHERE year = 1"))
                inner.rollback()

    def other():
        read.wait(5)
        with engine.begin() as connection:
            connection.execute(text("UPDATE case_counters SET last = last + 5 WHERE year = 2"))
        committed.set()

    assert _run(request, other) == []
    with engine.connect() as connection:
        rows = dict(connection.execute(text("SELECT year, last FROM case_counters")).all())
    assert rows == {1: 1, 2: 5}


def test_many_readers_and_writers_at_once_never_see_database_is_locked(file_database):
    engine = file_database

    def worker(n: int):
        def run():
            for _ in range(15):
                with engine.connect() as connection, connection.begin():
                    connection.execute(text("SELECT sum(last) FROM case_counters")).scalar()
                    if n % 2:
                        connection.execute(text(
                            "UPDATE case_counters SET last = last + 1 WHERE year = 1"))
        return run

    assert _run(*(worker(n) for n in range(8)), timeout=120) == []
    with engine.connect() as connection:
        assert connection.execute(text(
            "SELECT last FROM case_counters WHERE year = 1")).scalar() == 4 * 15


def _sqlite_file(tmp_path) -> str:
    path = str(tmp_path / "lock.db")
    with sqlite3.connect(path, isolation_level=None) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE t (x INTEGER)")
    return path


def test_a_waiting_writer_gets_the_write_lock_when_it_is_released(tmp_path):
    """Not up to 100 ms later, as SQLite's own busy handler would (its sleeps grow to 100 ms:
    a lock released at 250 ms is found at 328 ms), which made the tail of a few writers'
    waits hundreds of milliseconds long."""
    path = _sqlite_file(tmp_path)
    holding, released, got = threading.Event(), [], []

    def holder():
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        holding.set()
        time.sleep(0.25)
        released.append(time.monotonic())  # before: the waiter may get the lock at once
        connection.execute("COMMIT")
        connection.close()

    def waiter():
        holding.wait(5)
        connection = sqlite3.connect(path, isolation_level=None, timeout=10)
        begin_immediate(connection)
        got.append(time.monotonic())
        connection.execute("INSERT INTO t VALUES (1)")
        connection.execute("COMMIT")
        connection.close()

    assert _run(holder, waiter) == []
    assert 0 <= got[0] - released[0] < 0.04


def test_a_writer_that_waited_the_whole_timeout_is_told_the_database_is_locked(tmp_path):
    path = _sqlite_file(tmp_path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, isolation_level=None)
    try:
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            begin_immediate(waiter, timeout_ms=200)
        assert time.monotonic() - started >= 0.2
        # the connection's busy timeout is its own again for every other statement
        assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        waiter.close()


def test_what_counts_as_a_write():
    assert is_write("INSERT INTO x VALUES (1)") and is_write("  update x set y = 1")
    assert is_write("DELETE FROM x") and is_write("CREATE TABLE x (y int)")
    for read in ("SELECT 1", "(SELECT 1)", "PRAGMA foreign_keys", "SAVEPOINT sa_1",
                 "RELEASE SAVEPOINT sa_1", "ROLLBACK TO SAVEPOINT sa_1", "BEGIN", "COMMIT"):
        assert not is_write(read), read


def test_a_row_lock_is_taken_under_the_write_lock_on_sqlite(app):
    db.session.scalar(select(ApiToken.id).limit(1).with_for_update())
    assert has_written()
    if db.engine.dialect.name == "sqlite":
        assert holds_write_lock(db.session.connection())


# --- bookkeeping ------------------------------------------------------------------------

def _use_token_inside_the_request(app, monkeypatch):
    """Record, from inside the API view, whether the request's transaction had written and
    how many notes were waiting."""
    from referrals.cases import api as cases_api

    seen: list[tuple[bool, int]] = []
    original = cases_api.services.get_case

    def spy(reference):
        seen.append((has_written(), pending_notes()))
        return original(reference)

    monkeypatch.setattr(cases_api.services, "get_case", spy)
    return seen


def test_a_tokens_last_use_is_written_after_the_request_and_at_most_once_a_minute(
        app, client, monkeypatch, frozen):
    user = factories.make_user("agent")
    secret = make_token(user, "cases:read")
    db.session.commit()
    seen = _use_token_inside_the_request(app, monkeypatch)
    moment = frozen(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))

    assert client.get("/api/v1/cases/CASE-0000-000000", headers=bearer(secret)).status_code == 404
    assert seen == [(False, 1)]  # nothing written while the request ran; the use is noted
    db.session.expire_all()
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.last_used_at == moment

    frozen(moment + timedelta(seconds=30))
    statements, stop = _statements(db.engine)
    try:
        client.get("/api/v1/cases/CASE-0000-000000", headers=bearer(secret))
    finally:
        stop()
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
    assert seen[-1] == (False, 0)

    later = frozen(moment + timedelta(minutes=2))
    client.get("/api/v1/cases/CASE-0000-000000", headers=bearer(secret))
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).last_used_at == later


def test_notes_are_written_after_the_request_and_only_what_holds_when_not_shown(app):
    written: list[str] = []
    with app.test_request_context("/"):
        note(written.append, "token used")
        note(written.append, "page viewed", shown_only=True)
        assert written == [] and pending_notes() == 2
        assert write_notes(shown=False) == 1
        assert written == ["token used"] and pending_notes() == 0
    with app.app_context():  # outside a request: at once
        note(written.append, "job")
        assert written[-1] == "job"


def test_a_required_note_that_cannot_be_written_withholds_the_response(app):
    def broken():
        raise RuntimeError("the audit chain is unreachable")

    with app.test_request_context("/"):
        note(broken, required=True)
        with pytest.raises(NoteNotWritten):
            write_notes(shown=True)
        note(broken)  # not required: logged and dropped
        assert write_notes(shown=True) == 0
        assert g.get("referrals_notes") is None


def test_a_page_whose_view_cannot_be_audited_is_not_shown(client, as_role, monkeypatch):
    from referrals.audit import services as audit

    agent = as_role("agent")
    case = open_case(agent, category="other")

    def unreachable(*args, **kwargs):
        raise RuntimeError("chain head unavailable")

    monkeypatch.setattr(audit, "record_event", unreachable)
    response = client.get(f"/cases/{case.reference}")
    assert response.status_code == 503
    assert "could not be recorded in the audit log" in response.text
    assert case.title not in response.text
