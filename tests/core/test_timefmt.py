"""Issue 11: one way of writing a time everywhere, the zone named, in the viewer's zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from referrals.core.timefmt import format_day, format_instant, zone_named
from tests.cases.helpers import open_case

WINTER = datetime(2026, 12, 2, 3, 14, 5, tzinfo=UTC)
SUMMER = datetime(2026, 7, 9, 17, 0, tzinfo=UTC)


def test_an_instant_reads_day_short_month_year_time_and_zone():
    assert format_instant(WINTER) == "2 Dec 2026 03:14 UTC"
    assert format_instant(WINTER, "UTC", seconds=True) == "2 Dec 2026 03:14:05 UTC"
    assert format_instant(datetime(2026, 12, 2, 3, 14)) == "2 Dec 2026 03:14 UTC"  # naive = UTC
    assert format_instant(None) == "—"


def test_the_viewers_zone_is_used_and_daylight_saving_named():
    assert format_instant(SUMMER, "America/Los_Angeles") == "9 Jul 2026 10:00 PDT"
    assert format_instant(WINTER, "America/Los_Angeles") == "1 Dec 2026 19:14 PST"
    assert format_instant(WINTER, "Europe/Dublin") == "2 Dec 2026 03:14 GMT"


def test_a_legal_zone_is_named_in_full_once_but_utc_needs_no_gloss():
    assert (format_instant(SUMMER, "America/Los_Angeles", name_zone=True)
            == "9 Jul 2026 10:00 PDT (America/Los_Angeles)")
    assert format_instant(SUMMER, "UTC", name_zone=True) == "9 Jul 2026 17:00 UTC"


def test_a_zone_without_an_abbreviation_reads_as_an_offset_and_a_bad_name_as_utc():
    assert format_instant(WINTER, "Europe/Istanbul") == "2 Dec 2026 06:14 UTC+03"
    assert format_instant(WINTER, "Mars/Olympus_Mons") == "2 Dec 2026 03:14 UTC"
    assert format_instant(WINTER, "") == "2 Dec 2026 03:14 UTC"


def test_a_day_is_the_calendar_day_in_the_zone():
    assert format_day(WINTER) == "2 Dec 2026"
    assert format_day(WINTER, "America/Los_Angeles") == "1 Dec 2026"
    assert format_day(WINTER.date()) == "2 Dec 2026"  # a date is the day it names


def test_pages_write_times_in_the_viewers_profile_zone(make_user, client, sign_in):
    agent = make_user("agent", time_zone="America/New_York")
    case = open_case(agent, title="Synthetic zone check", priority="P2")
    sign_in(agent)
    page = client.get(f"/cases/{case.reference}").text
    assert 'data-time-zone="America/New_York"' in page
    assert "timefmt.js" in page
    written = re.findall(r"\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d (?:EST|EDT)", page)
    assert written, "no time on the case page in the viewer's zone"
    assert not re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", page)  # the old ISO-ish shape is gone


def test_the_zone_is_looked_up_once_not_for_every_time_shown():
    format_instant(WINTER, "America/Chicago")
    before = zone_named.cache_info()
    for _ in range(50):
        format_instant(SUMMER, "America/Chicago")
    after = zone_named.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 50
    assert zone_named("Mars/Olympus_Mons") is zone_named("UTC")  # a bad name is UTC, still
