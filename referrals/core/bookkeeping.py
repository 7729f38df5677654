"""Bookkeeping writes: what a request notes about itself, written after its own transaction.

A token's last use and the view of a sensitive page are written on every request, and neither
is the change the request is about. Written in the request's own transaction they would make
every request a writer: on SQLite each would take the database's write lock for the rest of
the request, on PostgreSQL a token's row (or the audit chain's head) would stay locked until
the request commits, so that two requests with the same token run one after the other (an
upload and an escalation: the escalation waited for the whole upload).

So a request *notes* them (``note(fn, *args)``), and the request boundary writes them all in
one short transaction of their own right after the request's transaction has ended and
before the response leaves (``write_notes``, called by the app factory's ``after_request``).
The locks they take are held for their few statements and the commit, never while the
request reads, streams a body, renders or waits.

- ``shown_only``: write it only when the page was shown (the response is not an error): a
  page view.
- ``required``: the response must not leave without it: if it cannot be written,
  ``write_notes`` raises ``NoteNotWritten`` and the caller answers with an error instead (a
  view of sensitive data that is not in the audit log must not happen).

Outside a request (a job, a command) a note is written at once, in the caller's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import g, has_request_context

from referrals.core.transaction import commit, rollback

log = logging.getLogger(__name__)
_NOTES = "referrals_notes"


class NoteNotWritten(Exception):
    """A required note (an audited view) could not be written: the response must not be
    shown."""


@dataclass(frozen=True)
class _Note:
    fn: Callable
    args: tuple
    kwargs: dict = field(default_factory=dict)
    shown_only: bool = False
    required: bool = False


def note(fn: Callable, *args: Any, shown_only: bool = False, required: bool = False,
         **kwargs: Any) -> None:
    """Write ``fn(*args, **kwargs)`` after the request's transaction, in a short one of its
    own (see the module's docstring); at once outside a request."""
    if not has_request_context():
        fn(*args, **kwargs)
        return
    g.setdefault(_NOTES, []).append(_Note(fn, args, kwargs, shown_only, required))


def pending_notes() -> int:
    """How many notes wait for the end of the request (tests and diagnostics)."""
    return len(g.get(_NOTES, ())) if has_request_context() else 0


def write_notes(shown: bool) -> int:
    """Write what the request noted (only the notes that hold whether or not it was
    ``shown``), commit, and return how many. Call it once the request's own transaction has
    ended. Raises ``NoteNotWritten`` if a required note could not be written; a failed note
    that is not required is logged and dropped."""
    notes = g.pop(_NOTES, None) if has_request_context() else None
    todo = [item for item in notes or () if shown or not item.shown_only]
    if not todo:
        return 0
    try:
        for item in todo:
            item.fn(*item.args, **item.kwargs)
        commit()
    except Exception as error:
        rollback()
        if any(item.required for item in todo):
            raise NoteNotWritten(str(error)) from error
        log.exception("bookkeeping of the request could not be written")
        return 0
    return len(todo)
