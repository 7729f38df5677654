"""The transaction boundary: one commit per request, job or command.

Services flush and never commit. Side effects that must not happen unless the
change is stored (mail, jobs, webhooks) are registered with ``on_commit`` and run
after the commit succeeds; on rollback they are dropped.

The rule at the boundary (``finish``): a unit of work commits only when it ended
normally and nothing in it was refused. A domain refusal that a page shows as a
message instead of an error page (``refuse``, called by ``core.acting``) rolls back
what the refused service had already flushed, at once, and marks the unit so that
it is not committed at the end either. No view rolls back by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from referrals.extensions import db

log = logging.getLogger(__name__)
_KEY = "referrals_after_commit"
_REFUSED = "referrals_refused"


def on_commit(fn: Callable, *args: Any, **kwargs: Any) -> None:
    """Run ``fn(*args, **kwargs)`` once the current transaction has committed."""
    db.session.info.setdefault(_KEY, []).append((fn, args, kwargs))


def discard_pending() -> None:
    db.session.info.pop(_KEY, None)


def commit() -> None:
    """Commit, then run what was waiting for the commit."""
    pending = db.session.info.pop(_KEY, [])
    db.session.commit()
    for fn, args, kwargs in pending:
        try:
            fn(*args, **kwargs)
        except Exception:  # a side effect must never undo a stored change
            log.exception("after-commit action %r failed", fn)


def rollback() -> None:
    discard_pending()
    db.session.rollback()


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
