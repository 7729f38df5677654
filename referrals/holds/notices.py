"""What people are told about a hold, in one place: dates in the hold's legal time zone
(the zone named, since the agency and the team may sit elsewhere), days left, and how the
hold can be renewed. Reminders, the expiry notice and the confirmation letter use these
words; the zone and the date format are the holds core's (``referrals.holds.standing``), so
a reminder, the portal and the staff pages give an expiry the same way."""

from __future__ import annotations

import math
from datetime import datetime

from referrals.core.clock import as_utc
from referrals.holds.models import PreservationHold
from referrals.holds.rules import HOLD_KINDS
from referrals.holds.standing import hold_zone, zoned_date, zoned_time


def hold_time(hold: PreservationHold, value: datetime | None) -> str:
    """``1 May 2026, 23:59 PDT (America/Los_Angeles)`` in the hold's legal zone; "—" for none."""
    return zoned_time(value, hold_zone(hold))


def hold_date(hold: PreservationHold, value: datetime | None) -> str:
    """``1 May 2026``: the calendar day in the hold's legal zone."""
    return zoned_date(value, hold_zone(hold))


def days_left(expires_at: datetime, at: datetime) -> int:
    """Whole days until ``expires_at``, rounded up: a hold that ends in 6 days and 2 hours
    has "7 days" left, the same count its 7-day reminder is named after."""
    return max(0, math.ceil((as_utc(expires_at) - as_utc(at)).total_seconds() / 86400))


def plural_days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def kind_label(kind: str) -> str:
    found = HOLD_KINDS.get(kind)
    return found.label if found else kind


def renewal_options(kind: str, renewals: int, extensions: int, request_reference: str | None) -> str:
    """How the agency can keep the data preserved beyond the expiry, for this kind of hold
    and the renewals or extensions it has already had."""
    rule = HOLD_KINDS.get(kind)
    about = f", naming request {request_reference}" if request_reference else ""
    if rule is None or rule.key == "internal":
        return ""
    if rule.max_renewals:
        if renewals < rule.max_renewals:
            return (f"It can be renewed once for a further 90 days ({rule.renewal_basis}): submit a "
                    f"“Preservation renewal” request on the agency portal{about}, before it expires.")
        return (f"It has already been renewed once, which is as long as {rule.renewal_basis} allows. "
                "To obtain the data, serve legal process before it expires.")
    if rule.max_extensions or rule.open_ended_on_production:
        parts = []
        if extensions < rule.max_extensions:
            parts.append("The issuing authority can extend it once by 30 days with an Annex VI "
                         "request (Regulation (EU) 2023/1543, art. 11(1))")
        parts.append("a production order confirmed with Annex V keeps the data preserved until it "
                     "is produced")
        text = "; ".join(parts)
        text = text[0].upper() + text[1:]
        return f"{text}. Send either through the agency portal{about}, before the preservation expires."
    return ("If you need the data preserved for longer, contact the LER team through the agency "
            f"portal{about} before it expires.")
