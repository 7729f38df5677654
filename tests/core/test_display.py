"""How deadlines read as a countdown on the staff pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from referrals.core.display import time_span

MOMENT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("delta, text", [
    (timedelta(seconds=20), "less than a minute"),
    (timedelta(minutes=45), "45 min"),
    (timedelta(hours=3, minutes=10), "3 h 10 min"),
    (timedelta(hours=2), "2 h"),
    (timedelta(hours=30, minutes=5), "30 h"),
    (timedelta(days=2, hours=4), "2 days 4 h"),
    (timedelta(hours=47, minutes=59, seconds=59), "47 h"),
    (timedelta(days=2, hours=4, minutes=29), "2 days 4 h"),
    (timedelta(days=9, hours=23, minutes=31), "10 days"),
    (timedelta(days=13, hours=11), "13 days"),
    (timedelta(days=13, hours=23), "14 days"),
    (timedelta(days=14) - timedelta(seconds=5), "14 days"),
    (timedelta(days=90) - timedelta(seconds=5), "90 days"),
])
def test_a_span_reads_in_the_largest_units_that_matter(delta, text):
    assert time_span(MOMENT + delta, MOMENT) == text
    assert time_span(MOMENT - delta, MOMENT) == text  # the same either side: "overdue by …"


def test_a_naive_stored_time_counts_as_utc_and_no_deadline_is_a_dash():
    assert time_span(datetime(2026, 6, 1, 12, 45), MOMENT) == "45 min"
    assert time_span(None, MOMENT) == "—"
