"""The transaction boundary: one commit per request, job or command.

Services flush and never commit. Side effects that must not happen unless the
change is stored (mail, jobs, webhooks) are registered with ``on_commit`` and run
after the commit succeeds; on rollback they are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from referrals.extensions import db

log = logging.getLogger(__name__)
_KEY = "referrals_after_commit"


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


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit at the end of the block, or roll back if it raises."""
    try:
        yield
    except BaseException:
        rollback()
        raise
    else:
        commit()
