"""Where a hold stands, in words and numbers: its time zone, its clock, the renewals and
extensions it has left. Staff pages, the portal and the API read holds through here.

The portal and the API get ``portal_fields``: a named field set with nothing internal in it
(no owner, no staff names, no events, no end reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from referrals.core.clock import as_utc, now
from referrals.core.deadlines import describe, span
from referrals.core.display import zoned_time  # noqa: F401 (holds read it from here too)
from referrals.core.timefmt import format_instant
from referrals.holds.models import HoldEvent, PreservationHold
from referrals.holds.rules import HOLD_KINDS, LIVE_STATUSES, STATUSES
from referrals.vocabulary.entities import legal_zone

# Within this many seconds of expiry a hold is shown as expiring soon (rule
# ``hold_expiring_soon`` in core.deadlines).
SOON = int(span("hold_expiring_soon").total_seconds())


def hold_zone(hold: PreservationHold) -> str:
    """The legal time zone the hold's periods are counted in: that of our entity that
    received its request (the request's own zone); Dublin for an EU order placed by hand;
    otherwise the US legal zone."""
    if hold.request is not None:
        return legal_zone(hold.request.legal_entity)
    return legal_zone("eu" if hold.kind == "eu_epoc_pr" else "us")


def zoned_short(value: datetime | None, zone: str) -> str:
    """``23 Jun 2026 10:20 PDT``: for narrow places that name the zone once nearby."""
    return format_instant(value, zone)


def zoned_date(value: datetime | None, zone: str) -> str:
    """``23 June 2026``: the calendar day in ``zone``."""
    if value is None:
        return "—"
    local = as_utc(value).astimezone(ZoneInfo(zone))
    return f"{local.day} {local:%B %Y}"


def is_live(hold: PreservationHold, at: datetime | None = None) -> bool:
    """Live: active or extended, and its expiry (if any) not yet passed. The sweep marks
    expired holds later; until it runs, a hold past its expiry is not live."""
    at = at or now()
    return hold.status in LIVE_STATUSES and (
        hold.expires_at is None or as_utc(hold.expires_at) > at)


def last_event(hold: PreservationHold, kind: str) -> HoldEvent | None:
    return next((e for e in reversed(hold.events) if e.kind == kind), None)


def renewals_remaining(hold: PreservationHold, at: datetime | None = None) -> int:
    kind = HOLD_KINDS[hold.kind]
    if not is_live(hold, at) or hold.expires_at is None:
        return 0
    return max(0, kind.max_renewals - hold.renewals)


def extensions_remaining(hold: PreservationHold, at: datetime | None = None) -> int:
    kind = HOLD_KINDS[hold.kind]
    if not is_live(hold, at) or hold.expires_at is None:
        return 0
    return max(0, kind.max_extensions - hold.extensions)


def current_rule(hold: PreservationHold) -> str | None:
    """The deadline rule that set the current expiry (None: no expiry)."""
    if hold.expires_at is None:
        return None
    kind = HOLD_KINDS[hold.kind]
    if hold.renewals and kind.renewal_rule:
        return kind.renewal_rule
    if hold.extensions and kind.extension_rule:
        return kind.extension_rule
    return kind.expiry_rule


@dataclass(frozen=True)
class HoldStanding:
    """A hold's clock as staff read it."""

    zone: str
    live: bool
    state: str  # ok | soon | overdue | open (no expiry) | ended
    expires_at: datetime | None
    expires: str
    starts: str
    expires_short: str  # the zone abbreviated: name ``zone`` nearby
    starts_short: str
    rule: str  # "90 days (18 U.S.C. 2703(f)(2))", or why there is no expiry
    source: str
    renewals_used: int
    renewals_allowed: int
    renewals_left: int
    extensions_used: int
    extensions_allowed: int
    extensions_left: int
    review_due_at: datetime | None
    review_due: str
    review_due_short: str
    review_state: str  # ok | soon | overdue | "" (no review)


def _state(value: datetime | None, at: datetime) -> str:
    left = (as_utc(value) - at).total_seconds()
    return "overdue" if left <= 0 else "soon" if left <= SOON else "ok"


def standing(hold: PreservationHold, at: datetime | None = None) -> HoldStanding:
    at = at or now()
    kind = HOLD_KINDS[hold.kind]
    zone = hold_zone(hold)
    live = is_live(hold, at)
    if hold.status not in LIVE_STATUSES:
        state = "ended"
    elif hold.expires_at is None:
        state = "open"
    else:
        state = _state(hold.expires_at, at)
    rule_key = current_rule(hold)
    if rule_key:
        rule = describe(rule_key)
    elif hold.production_confirmed_at is not None:
        rule = (f"Until the data is produced: production order {hold.production_reference} "
                f"confirmed {zoned_date(hold.production_confirmed_at, zone)}")
    else:
        rule = "Until released"
    review_state = ""
    if hold.review_due_at is not None and hold.status in LIVE_STATUSES:
        review_state = _state(hold.review_due_at, at)
    return HoldStanding(
        zone=zone, live=live, state=state, expires_at=as_utc(hold.expires_at),
        expires=zoned_time(hold.expires_at, zone) if hold.expires_at else rule,
        starts=zoned_time(hold.starts_at, zone), rule=rule, source=kind.source,
        expires_short=zoned_short(hold.expires_at, zone) if hold.expires_at else rule,
        starts_short=zoned_short(hold.starts_at, zone),
        renewals_used=hold.renewals, renewals_allowed=kind.max_renewals,
        renewals_left=renewals_remaining(hold, at),
        extensions_used=hold.extensions, extensions_allowed=kind.max_extensions,
        extensions_left=extensions_remaining(hold, at),
        review_due_at=as_utc(hold.review_due_at),
        review_due=zoned_time(hold.review_due_at, zone) if hold.review_due_at else "—",
        review_due_short=zoned_short(hold.review_due_at, zone),
        review_state=review_state)


# --- what an agency sees ----------------------------------------------------------------------


def renewal_text(hold: PreservationHold, at: datetime | None = None) -> str:
    """One line for the officer: the renewal (or extension) used, or still available."""
    at = at or now()
    kind = HOLD_KINDS[hold.kind]
    zone = hold_zone(hold)
    if hold.production_confirmed_at is not None and hold.status in LIVE_STATUSES:
        return (f"Kept until the data is produced (production order "
                f"{hold.production_reference}); no renewal is needed.")
    if kind.max_renewals:
        if hold.renewals:
            renewed = last_event(hold, "renewed")
            when = f" on {zoned_date(renewed.occurred_at, zone)}" if renewed else ""
            return (f"Renewed once{when}: the one 90-day renewal {kind.renewal_basis} allows "
                    "has been used.")
        if is_live(hold, at):
            return ("Not renewed yet: one renewal of 90 days is available. Submit a "
                    "“Preservation renewal” request naming this request before the expiry.")
        return "Not renewed."
    if kind.max_extensions:
        if hold.extensions:
            extended = last_event(hold, "extended")
            when = f" on {zoned_date(extended.occurred_at, zone)}" if extended else ""
            return f"Extended by 30 days{when} (Annex VI): the one extension has been used."
        if is_live(hold, at):
            return ("One extension of 30 days is available on an Annex VI request; a "
                    "confirmed production order (Annex V) keeps the data until it is produced.")
        return "Not extended."
    return ""


def portal_fields(hold: PreservationHold, at: datetime | None = None) -> dict:
    """The hold as its agency sees it (portal page and API): plain values only."""
    at = at or now()
    zone = hold_zone(hold)
    kind = HOLD_KINDS[hold.kind]
    return {
        "reference": hold.reference,
        "kind": hold.kind,
        "kind_label": kind.label,
        "status": hold.status,
        "status_label": STATUSES.get(hold.status, hold.status),
        "starts_at": as_utc(hold.starts_at),
        "expires_at": as_utc(hold.expires_at),
        "expires": (zoned_time(hold.expires_at, zone) if hold.expires_at is not None
                    else "Until the data is produced" if hold.production_confirmed_at
                    else "Until released"),
        "ended": zoned_date(hold.ended_at, zone) if hold.ended_at else None,
        "zone": zone,
        "live": is_live(hold, at),
        "renewals_remaining": renewals_remaining(hold, at),
        "extensions_remaining": extensions_remaining(hold, at),
        "renewal": renewal_text(hold, at),
    }
