"""The transaction boundary: one commit per request, job or command.

Services flush and never commit. Side effects that must not happen unless the
change is stored (mail, jobs, webhooks) are registered with ``on_commit`` and run
after the commit succeeds; on rollback they are dropped, and what ``on_rollback``
registered (removing a file staged for the transaction) runs instead.

The rule at the boundary (``finish``): a unit of work commits only when it ended
normally and nothing in it was refused. A domain refusal that a page shows as a
message instead of an error page (``refuse``, called by ``core.acting``) rolls back
what the refused service had already flushed, at once, and marks the unit so that
it is not committed at the end either. No view rolls back by itself.

Slow work (encrypting and writing files, remote calls) runs through
``outside_transaction`` before the transaction writes anything: a transaction that writes
holds the database's write lock on SQLite (from its first write: see
``referrals.core.sqlite``) and, once it has appended to the audit chain, the chain head's
row lock on PostgreSQL; every other writer waits for either. What a request writes about
itself on every request (a token's last use, page views) is not its change: it goes through
``referrals.core.bookkeeping``, after the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from referrals.extensions import db

log = logging.getLogger(__name__)
_KEY = "referrals_after_commit"
_REFUSED = "referrals_refused"
_UNDO = "referrals_on_rollback"
_WROTE = "referrals_wrote_in"


def on_commit(fn: Callable, *args: Any, **kwargs: Any) -> None:
    """Run ``fn(*args, **kwargs)`` once the current transaction has committed."""
    db.session.info.setdefault(_KEY, []).append((fn, args, kwargs))


def on_rollback(fn: Callable, *args: Any, **kwargs: Any) -> None:
    """Run ``fn`` if the current transaction is rolled back (``rollback()``) instead of
    committed: undoing what was done outside the database for it."""
    db.session.info.setdefault(_UNDO, []).append((fn, args, kwargs))


def discard_pending() -> None:
    for key in (_KEY, _UNDO):
        db.session.info.pop(key, None)


def _run(actions, what: str) -> None:
    for fn, args, kwargs in actions:
        try:
            fn(*args, **kwargs)
        except Exception:  # one failing action must not stop the others
            log.exception("%s action %r failed", what, fn)


def commit() -> None:
    """Commit, then run what was waiting for the commit."""
    pending = db.session.info.pop(_KEY, [])
    db.session.commit()
    db.session.info.pop(_UNDO, None)
    _run(pending, "after-commit")  # a side effect must never undo a stored change


def rollback() -> None:
    undo = db.session.info.pop(_UNDO, [])
    discard_pending()
    db.session.rollback()
    _run(undo, "on-rollback")


def refuse() -> None:
    """The domain refused what this unit of work asked. Undo what it wrote so far now (the
    page shown next must not show a half-made change) and roll back at the boundary too."""
    rollback()
    db.session.info[_REFUSED] = True


def is_refused() -> bool:
    return bool(db.session.info.get(_REFUSED))


def finish(ended_normally: bool) -> None:
    """The boundary: commit when the unit ended normally and nothing was refused; otherwise
    roll back. Either way the next unit on this session starts unmarked."""
    refused = db.session.info.pop(_REFUSED, False)
    if ended_normally and not refused:
        commit()
    else:
        rollback()


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit at the end of the block, or roll back if it raises or was refused."""
    try:
        yield
    except BaseException:
        finish(ended_normally=False)
        raise
    else:
        finish(ended_normally=True)


# --- has the transaction written? ----------------------------------------------------------

@event.listens_for(Session, "after_flush")
def _flushed(session, flush_context) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _executed(state) -> None:
    statement = state.statement
    if getattr(statement, "_for_update_arg", None) is not None:  # a row lock is a write's
        state.session.info[_WROTE] = True
        return
    if state.is_select:
        return
    if getattr(statement, "is_text", False) and str(statement).lstrip()[:6].upper() == "SELECT":
        return
    state.session.info[_WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _ended(session, transaction) -> None:
    if transaction.parent is None:  # the root transaction, not a savepoint in it
        session.info.pop(_WROTE, None)


def has_written() -> bool:
    """Whether the current transaction wrote (or locked rows, or holds changes waiting
    to be flushed): then it cannot be let go of without committing them."""
    session = db.session()
    if session.get_transaction() is None:
        return False
    return bool(session.info.get(_WROTE) or session.new or session.dirty or session.deleted)


def outside_transaction(work: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run slow ``work`` with no database transaction open, so that it holds no lock.

    Allowed before the transaction has written: what it read is let go of (ORM objects
    reload on their next use, in the next transaction, so a caller re-checks what may have
    changed meanwhile). A transaction that has written cannot be ended here without its
    commit; the work then runs inside it, correct but holding the lock, and says so in the
    log: the caller should stage its slow work before its first write."""
    session = db.session()
    if session.get_transaction() is not None:
        if has_written():
            log.warning("slow work %s runs inside a transaction that has written: "
                        "every other writer waits for it", getattr(work, "__qualname__", work))
        else:
            session.rollback()  # only reads: nothing is lost, and SQLite's lock is let go
    return work(*args, **kwargs)
