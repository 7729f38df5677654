"""Why an action on a hold is refused, in words for whoever asked, and which actions a page
may offer. The services raise ``HoldRefused`` with these messages; the hold page asks the
same functions, so it offers only what would succeed and says why the rest would not.
"""

from __future__ import annotations

from datetime import datetime

from referrals.core.clock import as_utc, now
from referrals.core.errors import DomainError
from referrals.core.identity import Identity
from referrals.holds.models import PreservationHold
from referrals.holds.policies import hold_policy
from referrals.holds.rules import (HOLD_KINDS, HOLD_STATES, LIVE_STATUSES,
                                   PRODUCTION_CONFIRMABLE_KINDS, STATUSES)
from referrals.holds.standing import hold_zone, last_event, zoned_date, zoned_time


class HoldRefused(DomainError):
    """The hold's kind, state or the law does not allow this; the message says why and
    what to do instead."""

    status = 409
    title = "Not possible on this hold"


def _ended_refusal(hold: PreservationHold, at: datetime, doing: str) -> str | None:
    zone = hold_zone(hold)
    if hold.status == "released":
        return (f"{hold.reference} was released on {zoned_date(hold.ended_at, zone)}: "
                f"it cannot be {doing}.")
    if hold.status == "converted":
        return (f"{hold.reference} was converted to production {hold.production_reference} "
                f"on {zoned_date(hold.ended_at, zone)}: it cannot be {doing}.")
    if hold.status == "expired" or (hold.expires_at is not None and as_utc(hold.expires_at) <= at):
        return (f"{hold.reference} expired on {zoned_time(hold.expires_at, zone)}: it cannot "
                f"be {doing}. For the data still to be preserved, a new preservation request "
                "is needed.")
    if hold.status not in LIVE_STATUSES:
        return f"{hold.reference} is {STATUSES.get(hold.status, hold.status).lower()}."
    return None


def renewal_refusal(hold: PreservationHold, at: datetime | None = None) -> str | None:
    """Why ``hold`` cannot be renewed now, in words for whoever asked; None if it can."""
    at = at or now()
    kind = HOLD_KINDS[hold.kind]
    zone = hold_zone(hold)
    if not kind.max_renewals:
        if kind.max_extensions:
            return (f"{hold.reference} is a European Preservation Order: it is not renewed, "
                    "but extended once by 30 days on an Annex VI request (Regulation (EU) "
                    "2023/1543, art. 11(1)).")
        return f"{hold.reference} is a {kind.label.lower()} hold: it cannot be renewed."
    ended = _ended_refusal(hold, at, "renewed")
    if ended:
        return ended
    if hold.expires_at is None:
        return (f"{hold.reference} is kept until the data is produced (production order "
                f"{hold.production_reference}): it needs no renewal.")
    if hold.renewals >= kind.max_renewals:
        renewed = last_event(hold, "renewed")
        when = f", on {zoned_date(renewed.occurred_at, zone)}" if renewed else ""
        allows = ("Our policy allows" if kind.voluntary else "18 U.S.C. 2703(f) allows")
        return (f"{hold.reference} was already renewed once{when}. {allows} "
                f"one 90-day renewal; to keep the data past {zoned_time(hold.expires_at, zone)}, "
                "serve legal process (a subpoena, 2703(d) order or search warrant) before then.")
    return None


def extension_refusal(hold: PreservationHold, at: datetime | None = None) -> str | None:
    at = at or now()
    kind = HOLD_KINDS[hold.kind]
    zone = hold_zone(hold)
    if not kind.max_extensions:
        if kind.max_renewals:
            return (f"{hold.reference} is a {kind.label}: it is renewed once on a renewal "
                    "request, not extended.")
        return f"{hold.reference} is a {kind.label.lower()} hold: it cannot be extended."
    ended = _ended_refusal(hold, at, "extended")
    if ended:
        return ended
    if hold.expires_at is None:
        return (f"{hold.reference} is kept until the data is produced (production order "
                f"{hold.production_reference}): it needs no extension.")
    if hold.extensions >= kind.max_extensions:
        extended = last_event(hold, "extended")
        when = f", on {zoned_date(extended.occurred_at, zone)}" if extended else ""
        return (f"{hold.reference} was already extended once{when}. Regulation (EU) 2023/1543, "
                f"art. 11(1) allows one 30-day extension; to keep the data past "
                f"{zoned_time(hold.expires_at, zone)}, the issuing authority must confirm a "
                "production order (Annex V) before then.")
    return None


def production_refusal(hold: PreservationHold, at: datetime | None = None) -> str | None:
    at = at or now()
    if hold.kind not in PRODUCTION_CONFIRMABLE_KINDS:
        return (f"{hold.reference} is a {HOLD_KINDS[hold.kind].label.lower()} hold: a "
                "production order does not change its period. Convert it once the data is "
                "produced, or release it.")
    ended = _ended_refusal(hold, at, "kept for a production")
    if ended:
        return ended
    if hold.production_confirmed_at is not None:
        return (f"{hold.reference} is already kept until production under "
                f"{hold.production_reference}, confirmed "
                f"{zoned_date(hold.production_confirmed_at, hold_zone(hold))}.")
    return None


def end_refusal(hold: PreservationHold, doing: str, by: str = "release") -> str | None:
    """Release and conversion (``by``): from any status the hold's state machine ends it from,
    i.e. any hold not yet ended (one past its expiry included, so an expired hold the sweep
    has not reached yet can be closed with a reason)."""
    if HOLD_STATES.allows(hold.status, by):
        return None
    zone = hold_zone(hold)
    return (f"{hold.reference} already ended: {STATUSES.get(hold.status, hold.status).lower()} "
            f"on {zoned_date(hold.ended_at, zone)}. It cannot be {doing}.")


def review_refusal(hold: PreservationHold, at: datetime | None = None) -> str | None:
    if not HOLD_KINDS[hold.kind].review_rule:
        return f"{hold.reference} is not an internal legal hold: it has no periodic review."
    return end_refusal(hold, "reviewed")


def snapshot_refusal(hold: PreservationHold, at: datetime | None = None) -> str | None:
    if hold.snapshot_at is not None:
        return (f"The snapshot of {hold.reference} was taken "
                f"{zoned_time(hold.snapshot_at, hold_zone(hold))}.")
    return _ended_refusal(hold, at or now(), "snapshotted")


def actions_for(identity: Identity, hold: PreservationHold, at: datetime | None = None) -> dict:
    """For the hold page: each action the identity's role allows, with None when the hold
    allows it too, or the plain reason it does not."""
    at = at or now()
    checks = {
        "renew": lambda: renewal_refusal(hold, at),
        "extend": lambda: extension_refusal(hold, at),
        "confirm_production": lambda: production_refusal(hold, at),
        "convert": lambda: end_refusal(hold, "converted", by="convert"),
        "release": lambda: end_refusal(hold, "released"),
        "review": lambda: review_refusal(hold, at),
        "snapshot": lambda: snapshot_refusal(hold, at),
    }
    return {action: check() for action, check in checks.items()
            if hold_policy.can(identity, action, hold)}


