"""How values are shown to people: times in the viewer's zone, with the zone named."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask
from flask_login import current_user

from referrals.core.clock import as_utc
from referrals.core.timefmt import format_day, format_instant, zone_named


def viewer_zone_name() -> str:
    """The signed-in person's zone (their profile's ``time_zone``), UTC when none is known
    or the name is not one the zone database knows."""
    return zone_named(getattr(current_user, "time_zone", None)).key


def viewer_zone() -> ZoneInfo:
    return ZoneInfo(viewer_zone_name())


def format_time(value: datetime | None, with_seconds: bool = False) -> str:
    """``2 Dec 2026 03:14 UTC`` in the viewer's zone: the ``localtime`` filter."""
    return format_instant(value, viewer_zone_name(), seconds=with_seconds)


def zoned_time(value: datetime | None, zone: str) -> str:
    """``23 Jun 2026 10:20 PDT (America/Los_Angeles)``: a legal instant in the zone it is
    counted in, whoever looks, the zone named in full; "—" for no time."""
    return format_instant(value, zone, name_zone=True)


def time_span(value: datetime | None, moment: datetime) -> str:
    """How far ``value`` is from ``moment``, either way, in the largest units that matter:
    "45 min", "3 h 10 min", "2 days 4 h", "14 days". The caller says "due in" or "overdue
    by". Under two days it counts whole minutes, cut down (the hour that matters is never
    overstated); from two days the nearest hour, and from ten days the nearest day, so a
    14-day deadline set a moment ago reads "14 days", not "13 days"."""
    if value is None:
        return "—"
    seconds = abs((as_utc(value) - as_utc(moment)).total_seconds())
    if seconds < 48 * 3600:
        minutes = int(seconds // 60)
        if minutes < 1:
            return "less than a minute"
        if minutes < 60:
            return f"{minutes} min"
        hours, minutes = divmod(minutes, 60)
        return f"{hours} h {minutes} min" if minutes and hours < 10 else f"{hours} h"
    hours = round(seconds / 3600)
    if hours < 240:
        days, hours = divmod(hours, 24)
        return f"{days} days {hours} h" if hours else f"{days} days"
    return f"{round(hours / 24)} days"


def json_fields(value: str | None) -> list[tuple[str, str]] | None:
    """A stored JSON object (an audit event's before/after) as (name, JSON value) pairs,
    so a long object wraps between fields, not inside them; None when it is not an object."""
    if not value:
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return [(str(key), json.dumps(item, ensure_ascii=False)) for key, item in data.items()]


def register_filters(app: Flask) -> None:
    app.jinja_env.filters["localtime"] = format_time
    app.jinja_env.filters["zoned"] = zoned_time
    app.jinja_env.filters["json_fields"] = json_fields
    app.jinja_env.filters["time_span"] = time_span
    app.jinja_env.filters["day"] = format_day
    app.jinja_env.globals["viewer_zone_name"] = viewer_zone_name
