"""When a request's clock stands, and how the deadlines move when it runs again.

Two reasons, one mechanism (``clock_paused_at`` and ``clock_paused_for``):

- ``annex_iii``: an EU order answered with an Annex III "cannot comply" (Regulation (EU)
  2023/1543, art. 10(6)); the time limits do not run until the issuing authority clarifies
  (``requests.clock.stop_clock`` / ``restart_clock``).
- ``needs_info``: we asked the agency for information (status "needs information"); the
  deadline is ours to meet only with what we need, so it stands until the agency answers and
  the request moves on. Not for an EU order: there only the Annex III stops the legal clock,
  so asking an EU authority informally leaves it running (the page says so).

When the clock runs again every deadline moves on by the time it stood, which is never later
than counting the whole period again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from referrals.core.clock import as_utc
from referrals.requests import rules
from referrals.requests.models import DisclosureRequest

ANNEX_III = "annex_iii"
NEEDS_INFO = "needs_info"
REASONS = {ANNEX_III: "Annex III sent, waiting for the issuing authority's clarification",
           NEEDS_INFO: "Waiting on the agency: we asked for information"}
MOVING_DEADLINES = ("deadline_at", "internal_target_at", "enforcement_window_ends_at")


def pauses_for_information(request: DisclosureRequest) -> bool:
    """Asking the agency for information stops this request's clock."""
    return not rules.REQUEST_TYPES[request.request_type].eu_order


def pause(request: DisclosureRequest, reason: str, at: datetime) -> bool:
    """Stop the clock for ``reason``; False when it already stands (for whatever reason)."""
    if request.clock_paused_at is not None:
        return False
    request.clock_paused_at = at
    request.clock_paused_for = reason
    return True


def resume(request: DisclosureRequest, at: datetime) -> timedelta:
    """Run the clock again: every deadline moves on by the time it stood (returned)."""
    stood = at - as_utc(request.clock_paused_at)
    for column in MOVING_DEADLINES:
        value = getattr(request, column)
        if value is not None:
            setattr(request, column, as_utc(value) + stood)
    request.clock_paused_at = None
    request.clock_paused_for = None
    return stood


def follow_status(request: DisclosureRequest, status: str, at: datetime) -> dict:
    """The clock after a status change: asking for information stops it, leaving "needs
    information" restarts it, a final status leaves it where it is (it no longer counts).
    What changed, for the audit row."""
    if (status == NEEDS_INFO and pauses_for_information(request)
            and pause(request, NEEDS_INFO, at)):
        return {"clock": "stopped", "paused_at": at.isoformat()}
    if (request.clock_paused_for == NEEDS_INFO and status != NEEDS_INFO
            and not rules.REQUEST_STATES.is_final(status)):
        stood = resume(request, at)
        return {"clock": "restarted", "stood_seconds": int(stood.total_seconds())}
    return {}


def pause_reason(request: DisclosureRequest) -> str | None:
    if request.clock_paused_at is None:
        return None
    return REASONS.get(request.clock_paused_for or ANNEX_III)
