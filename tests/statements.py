"""The SQL a piece of work sends: for tests that pin how many statements a page costs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from referrals.extensions import db

TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


@contextmanager
def recorded_statements(*, control: bool = False) -> Iterator[list[str]]:
    """A list that fills with the statements sent inside the block (transaction control
    left out unless ``control``: SQLite sends BEGIN itself, PostgreSQL does not)."""
    connection = db.engines[None]
    engine = getattr(connection, "engine", connection)
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if control or not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def page_statements(client, url: str, *, control: bool = False) -> list[str]:
    """The statements one page load sends, each on one line (``control``: with the
    transaction control statements)."""
    with recorded_statements(control=control) as seen:
        assert client.get(url).status_code == 200
    return [" ".join(statement.split()) for statement in seen]
