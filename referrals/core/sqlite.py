"""SQLite's locking, set up so that reading never takes the write lock.

SQLite has one write lock for the whole database. A transaction here begins *deferred*
(plain ``BEGIN``): it reads from a snapshot and takes no lock, so any number of requests read
at once, in every process, while one writes (WAL mode).

The first statement that writes (``INSERT``, ``UPDATE``, ``DELETE``, DDL, or a ``SELECT … FOR
UPDATE``, which SQLite cannot express but the ORM asks for) does not upgrade that read
transaction in place: an upgrade fails at once with "database is locked" when another
connection committed since the snapshot was taken, and the busy timeout does not apply to
that case. Instead the read-only transaction is ended (nothing was written, nothing is lost)
and a fresh ``BEGIN IMMEDIATE`` waits (up to the busy timeout) for the write lock; the
savepoints that were open are opened again, and the statement runs. From there the
transaction holds the lock until it ends, as PostgreSQL holds its row locks. The wait asks
for the lock every millisecond (``begin_immediate``), not with SQLite's backing-off busy
handler, so that a writer gets the lock when it is released, not up to 100 ms later.

What the transaction read before its first write may have changed by then: that is
PostgreSQL's READ COMMITTED, which production runs on; code that must read and write the
same row without another writer in between locks it (``with_for_update()``), and that lock
is taken under the write lock here, on fresh data.
"""

from __future__ import annotations

import logging
import sqlite3
import time

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
LOCK_RETRY_SECONDS = 0.001  # how often a writer asks again for the taken write lock
_WRITING = "referrals_sqlite_writing"
_SAVEPOINTS = "referrals_sqlite_savepoints"
_READS = ("SELECT", "PRAGMA", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "EXPLAIN")


def configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, deferred transactions that take the write lock at
    their first write (see the module's docstring)."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # WAL's own durability level: a commit is not fsynced until the next checkpoint, so
        # writers (a page view's audit event is one) do not queue on the disk. A power cut
        # may lose the last commits, never the database's consistency. SQLite is for
        # development and demos only (production refuses it).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection):
        connection.info[_WRITING] = False
        connection.info[_SAVEPOINTS] = []
        connection.exec_driver_sql("BEGIN")

    @event.listens_for(engine, "before_cursor_execute")
    def before_execute(connection: Connection, cursor, statement: str, parameters, context,
                       executemany):
        words = statement.split(None, 3)
        if words and words[0].upper() in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
            _track_savepoint(connection, [word.upper() for word in words[:3]], words[-1])
            return
        if connection.info.get(_WRITING, True):  # writing already, or outside a transaction
            return
        if is_write(statement) or _locks_rows(context):
            take_write_lock(connection)


def _track_savepoint(connection: Connection, words: list[str], name: str) -> None:
    """The savepoints open in the transaction, in order (``take_write_lock`` opens them
    again): SAVEPOINT x; RELEASE [SAVEPOINT] x and ROLLBACK TO [SAVEPOINT] x end x and
    those opened after it (SQLAlchemy does not use a savepoint it rolled back to)."""
    names = connection.info.setdefault(_SAVEPOINTS, [])
    name = name.strip().strip('"')
    if words[0] == "SAVEPOINT":
        names.append(name)
    elif (words[0] == "RELEASE" or words[:2] == ["ROLLBACK", "TO"]) and name in names:
        del names[names.index(name):]


def is_write(statement: str) -> bool:
    """Whether the SQL (as sent to SQLite) may write: anything but a read or a transaction
    control statement."""
    word = statement.lstrip(" \t\r\n(").split(None, 1)[:1]
    return bool(word) and word[0].upper() not in _READS


def _locks_rows(context) -> bool:
    compiled = getattr(context, "compiled", None)
    statement = getattr(compiled, "statement", None)
    return getattr(statement, "_for_update_arg", None) is not None


def take_write_lock(connection: Connection) -> None:
    """Exchange the connection's read-only transaction for one holding the write lock.

    Called before the transaction's first write; a no-op once it holds the lock. The busy
    timeout applies to ``begin_immediate``, so a writer waits its turn instead of failing."""
    if connection.info.get(_WRITING, True):
        return
    raw = connection.connection.dbapi_connection
    savepoints = list(connection.info.get(_SAVEPOINTS, []))
    try:
        raw.execute("COMMIT")  # only reads so far: ending it loses nothing
    except sqlite3.OperationalError as error:
        # A read still being iterated keeps the snapshot; upgrade in place instead (which
        # fails only if another connection wrote since the snapshot was taken).
        log.warning("read transaction kept for its write (%s)", error)
        connection.info[_WRITING] = True
        return
    begin_immediate(raw)
    for name in savepoints:
        raw.execute(f'SAVEPOINT "{name}"')
    connection.info[_WRITING] = True


def begin_immediate(raw: sqlite3.Connection, timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
    """``BEGIN IMMEDIATE``, waiting up to ``timeout_ms`` for the write lock and asking for it
    again every millisecond.

    SQLite's own wait (the busy timeout's handler) sleeps longer and longer between tries, up
    to 100 ms at a time: a writer that found the lock taken wakes up to 100 ms after it was
    released, and a writer that came later and found it free goes first. With a few writers
    at once (a case page's audited view is one, an escalation another), each holding the lock
    for a few milliseconds, the waits' tail grew to hundreds of milliseconds (bench part K:
    a case page's p99 903 ms in the mix while its p50 was 79 ms); trying every millisecond
    keeps a wait within about a millisecond of the lock's release, for a try that costs
    microseconds. Raises ``sqlite3.OperationalError`` ("database is locked") after the
    timeout, as the busy timeout did."""
    deadline = time.monotonic() + timeout_ms / 1000
    raw.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                # SQLITE_BUSY, or an extended code of it (_RECOVERY while a WAL is recovered)
                busy = error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    raise
            time.sleep(LOCK_RETRY_SECONDS)
    finally:
        raw.execute(f"PRAGMA busy_timeout={timeout_ms}")


def holds_write_lock(connection: Connection) -> bool:
    """Whether the connection's transaction took the write lock (tests and diagnostics)."""
    return bool(connection.info.get(_WRITING, False)) and connection.in_transaction()
