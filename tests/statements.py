"""The SQL a piece of work sends: for tests that pin how many statements a page costs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from referrals.extensions import db

TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


@contextmanager
def recorded_statements() -> Iterator[list[str]]:
    """A list that fills with the statements sent inside the block (transaction control
    left out: SQLite sends BEGIN itself, PostgreSQL does not)."""
    connection = db.engines[None]
    engine = getattr(connection, "engine", connection)
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
