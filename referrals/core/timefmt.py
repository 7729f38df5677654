"""The one way an instant is written for people: ``2 Dec 2026 03:14 UTC``.

Day, short month, year, 24-hour time and the zone named, in the zone the reader counts in:
the viewer's own (their profile's ``time_zone``, UTC when none) on pages, or the legal zone a
period is counted in, which is then named in full once (``… PST (America/Los_Angeles)``) so
nobody mistakes it for their own. Pages reach it through the Jinja filters of
``core.display`` (``localtime``, ``zoned``); the browser through ``static/timefmt.js``
(``Referrals.formatInstant``), which writes the same shape. Months are spelled out here, not
by ``strftime``'s locale, so a server in another locale writes the same text.

Pure functions, no Flask: PDFs, e-mails, CLI output and audit-free messages use them too.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from referrals.core.clock import as_utc

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
NONE = "—"
UTC_NAME = "UTC"


@lru_cache(maxsize=256)
def zone_named(name: str | None) -> ZoneInfo:
    """The zone called ``name``; UTC for no name or a name the zone database does not know
    (a profile edited by hand must not break every page). Remembered: a page asks for the
    viewer's zone once for every time it shows."""
    try:
        return ZoneInfo(name or UTC_NAME)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(UTC_NAME)


def zone_label(local: datetime) -> str:
    """The zone's abbreviation at that instant (``UTC``, ``PDT``, ``CET``); zones that have
    none (``+03``) read as an offset from UTC (``UTC+03``)."""
    label = local.tzname() or ""  # what strftime's %Z writes, without parsing a format
    if not label or label[0] in "+-":
        return f"UTC{label}" if label else UTC_NAME
    return label


def format_instant(value: datetime | None, zone: str | None = None, *,
                   seconds: bool = False, name_zone: bool = False) -> str:
    """``2 Dec 2026 03:14 UTC`` (``seconds``: ``03:14:05``). ``zone`` is an IANA name (UTC
    when None). ``name_zone`` appends the IANA name for a zone other than UTC, for instants
    counted in a legal zone the reader may not share. "—" for no time."""
    if value is None:
        return NONE
    tz = zone_named(zone)
    local = as_utc(value).astimezone(tz)
    clock = (f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}" if seconds
             else f"{local.hour:02d}:{local.minute:02d}")
    text = f"{local.day} {MONTHS[local.month - 1]} {local.year} {clock} {zone_label(local)}"
    if name_zone and tz.key != UTC_NAME:
        text += f" ({tz.key})"
    return text


def format_day(value: date | datetime | None, zone: str | None = None) -> str:
    """``2 Dec 2026``: a calendar date as it is, or the day of an instant in ``zone`` (UTC
    when None)."""
    if value is None:
        return NONE
    local = as_utc(value).astimezone(zone_named(zone)) if isinstance(value, datetime) else value
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"
