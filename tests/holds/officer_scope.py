"""Helpers for the officer scope tests: comparing an answer about someone else's reference
with the answer about a reference that does not exist."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.requests.helpers import normalized

MISSING_REQUEST = "REQ-2026-999999"
MISSING_HOLD = "HOLD-2026-999999"


def same_answer(theirs: str, their_reference: str, unknown: str, missing: str) -> bool:
    """The two bodies are the same but for the reference each names (and the CSRF token)."""
    return (normalized(theirs).replace(their_reference, "REF")
            == normalized(unknown).replace(missing, "REF"))


@contextmanager
def counting_statements():
    """The SQL statements run inside the block, as a list (the "timing shape" of an answer:
    the same statements for a foreign reference as for a missing one)."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", record)
