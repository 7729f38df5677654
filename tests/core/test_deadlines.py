"""Deadlines: the rule table in referrals/core/deadlines.py, and the deadline every request type
gets when it is submitted.

Expected values are worked out by hand from the instruments, in UTC, with the local time in a
comment, so that a change in counting shows up as a changed instant rather than a re-derived one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from referrals.core.deadlines import COUNTINGS, RULES, compute_deadline, describe
from referrals.requests import rules as request_rules
from referrals.requests.intake import deadline_key
from referrals.vocabulary.entities import ENTITY_ZONES
from tests.requests.fixtures import (agency_a, irish_agency_a,  # noqa: F401 (fixtures)
                                     officer_a, override_settings)
from tests.requests.helpers import submit

DUBLIN = "Europe/Dublin"
LA = "America/Los_Angeles"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: str, *args, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold)


# --- the table ------------------------------------------------------------------------------


def test_every_rule_names_its_source_and_its_counting():
    assert RULES, "the table is empty"
    for key, rule in RULES.items():
        assert rule.key == key
        assert rule.source.strip(), f"{key} has no source"
        assert rule.instrument.strip(), f"{key} does not name its instrument"
        assert rule.counting in COUNTINGS, key
        if rule.counting != "end_of_day":
            assert min(rule.amount if isinstance(rule.amount, tuple) else (rule.amount,)) > 0
        assert rule.unit in ("hours", "days", "years"), key


def test_the_table_holds_the_rules_of_the_design():
    expected = {
        "us_preservation": (90, "days", "calendar", "2703(f)"),
        "us_preservation_renewal": (90, "days", "calendar", "2703(f)"),
        "ncmec_report_preservation": (1, "years", "calendar", "2258A(h)"),
        "eu_preservation_order": (60, "days", "eu_days", "2023/1543"),
        "eu_preservation_extension": (30, "days", "eu_days", "2023/1543"),
        "eu_production_order": (10, "days", "eu_days", "2023/1543"),
        "eu_production_order_emergency": (8, "hours", "eu_hours", "2023/1543"),
        "emergency_disclosure_response": (1, "hours", "elapsed", "Internal"),
        "internal_hold_review": (180, "days", "calendar", "Internal"),
        "standard_request_response": (14, "days", "calendar", "Internal"),
    }
    assert set(expected) <= set(RULES)
    for key, (amount, unit, counting, source) in expected.items():
        rule = RULES[key]
        assert (rule.amount, rule.unit, rule.counting) == (amount, unit, counting), key
        assert source in rule.source, (key, rule.source)


def test_every_request_type_has_a_rule_in_the_table():
    for key, kind in request_rules.REQUEST_TYPES.items():
        assert kind.deadline in RULES, f"{key} points at {kind.deadline!r}, not in the table"
    assert deadline_key("eu_epoc", True) == "eu_production_order_emergency"
    assert deadline_key("eu_epoc", False) == "eu_production_order"


def test_describe_says_the_length_and_the_source():
    assert describe("eu_production_order") == (
        "10 days (Regulation (EU) 2023/1543, art. 10(2); counted under Regulation (EEC, "
        "Euratom) No 1182/71, art. 3)")
    assert describe("emergency_disclosure_response").startswith("1 hour (")
    assert describe("ncmec_report_preservation").startswith("1 year (")


def test_a_naive_start_is_refused():
    with pytest.raises(ValueError):
        compute_deadline("us_preservation", datetime(2026, 1, 1, 12, 0), LA)


def test_an_unknown_rule_is_refused():
    with pytest.raises(KeyError):
        compute_deadline("no_such_rule", utc(2026, 1, 1), LA)


# --- EU European Production Order: Regulation 1182/71 counting --------------------------------


def test_epoc_ten_days_end_at_the_end_of_the_tenth_day_in_dublin():
    # Received Sunday 25 January 2026, 14:00 GMT. Day of receipt not counted: day 1 is
    # 26 January, day 6 is 31 January, day 10 is 4 February; ends 23:59:59.999999 GMT.
    end = compute_deadline("eu_production_order", utc(2026, 1, 25, 14, 0), DUBLIN)
    assert end == utc(2026, 2, 4, 23, 59, 59, 999999)
    assert end.tzinfo is not None and end.utcoffset() == timedelta(0)


def test_epoc_ten_days_across_the_eu_summer_time_change():
    # Received Wednesday 25 March 2026 10:20 GMT; clocks go forward on Sunday 29 March.
    # Day 10 is Saturday 4 April; Sunday 5 April is Easter Day and Monday 6 April Easter
    # Monday (an Irish public holiday), so under 1182/71 art. 3(4) the period ends at the end
    # of Tuesday 7 April: 23:59:59.999999 IST = 22:59:59.999999 UTC.
    end = compute_deadline("eu_production_order", utc(2026, 3, 25, 10, 20), DUBLIN)
    assert end == utc(2026, 4, 7, 22, 59, 59, 999999)
    assert end.astimezone(ZoneInfo(DUBLIN)).replace(tzinfo=None) == datetime(
        2026, 4, 7, 23, 59, 59, 999999)


def test_epoc_ten_days_across_the_eu_winter_time_change():
    # Received 20 October 2026 09:00 IST; clocks go back on 25 October. Day 10 is 30 October,
    # which ends at 23:59:59.999999 GMT (no longer UTC+1).
    end = compute_deadline("eu_production_order", local(DUBLIN, 2026, 10, 20, 9, 0), DUBLIN)
    assert end == utc(2026, 10, 30, 23, 59, 59, 999999)


def test_epoc_counts_the_day_of_receipt_in_dublin_not_in_utc():
    # 23:30 UTC on Monday 15 June is 00:30 IST on 16 June: the day not counted is 16 June,
    # and day 10 is Friday 26 June.
    end = compute_deadline("eu_production_order", utc(2026, 6, 15, 23, 30), DUBLIN)
    assert end == utc(2026, 6, 26, 22, 59, 59, 999999)
    # …and one minute before midnight Dublin time the receipt is still on 15 June.
    end = compute_deadline("eu_production_order", utc(2026, 6, 15, 22, 59), DUBLIN)
    assert end == utc(2026, 6, 25, 22, 59, 59, 999999)


def test_epoc_received_in_the_first_or_last_moment_of_a_day_ends_on_the_same_day():
    first = compute_deadline("eu_production_order", local(DUBLIN, 2026, 1, 25, 0, 0), DUBLIN)
    last = compute_deadline("eu_production_order",
                            local(DUBLIN, 2026, 1, 25, 23, 59, 59, 999999), DUBLIN)
    assert first == last == utc(2026, 2, 4, 23, 59, 59, 999999)


# --- emergency EPOC: 8 hours from the next full hour -----------------------------------------


def test_emergency_epoc_starts_at_the_next_full_hour():
    # Received 10:20: the hour 10:00-11:00 is not counted; 8 hours run 11:00-19:00.
    end = compute_deadline("eu_production_order_emergency", utc(2026, 5, 6, 10, 20), DUBLIN)
    assert end == utc(2026, 5, 6, 18, 59, 59, 999999)


def test_emergency_epoc_received_on_the_hour_still_skips_that_hour():
    end = compute_deadline("eu_production_order_emergency", utc(2026, 5, 6, 10, 0), DUBLIN)
    assert end == utc(2026, 5, 6, 18, 59, 59, 999999)
    end = compute_deadline("eu_production_order_emergency", utc(2026, 5, 6, 9, 59, 59), DUBLIN)
    assert end == utc(2026, 5, 6, 17, 59, 59, 999999)


def test_emergency_epoc_is_eight_real_hours_across_the_clock_change():
    # 00:30 GMT on 29 March 2026; at 01:00 GMT the clocks jump to 02:00 IST. The period runs
    # 01:00-09:00 UTC, i.e. 02:00-10:00 IST on the wall: still eight hours of real time.
    start = utc(2026, 3, 29, 0, 30)
    end = compute_deadline("eu_production_order_emergency", start, DUBLIN)
    assert end == utc(2026, 3, 29, 8, 59, 59, 999999)
    assert end.astimezone(ZoneInfo(DUBLIN)).hour == 9


def test_emergency_epoc_crossing_midnight():
    end = compute_deadline("eu_production_order_emergency", utc(2026, 12, 31, 20, 5), DUBLIN)
    assert end == utc(2027, 1, 1, 4, 59, 59, 999999)


# --- US preservation, 18 U.S.C. 2703(f): 90 days, same wall-clock time --------------------


def test_preservation_keeps_the_wall_clock_time_across_the_us_daylight_saving_change():
    # 20 February 2026 10:00 PST (18:00 UTC); 90 days later is 21 May 2026 10:00 PDT (17:00 UTC).
    start = local(LA, 2026, 2, 20, 10, 0)
    end = compute_deadline("us_preservation", start, LA)
    assert end == utc(2026, 5, 21, 17, 0)
    assert end.astimezone(ZoneInfo(LA)).replace(tzinfo=None) == datetime(2026, 5, 21, 10, 0)
    assert end - start.astimezone(UTC) == timedelta(days=90, hours=-1)  # one hour less of real time


def test_preservation_from_31_january_counts_days_not_months():
    # 90 days from 31 January 2026 (February has 28 days) is 1 May, not "end of April";
    # in the leap year 2028 the same 90 days end on 30 April.
    assert compute_deadline("us_preservation", local(LA, 2026, 1, 31, 9, 15), LA) == \
        local(LA, 2026, 5, 1, 9, 15)
    assert compute_deadline("us_preservation", local(LA, 2026, 1, 31, 9, 15), LA) == \
        utc(2026, 5, 1, 16, 15)
    assert compute_deadline("us_preservation", local(LA, 2028, 1, 31, 9, 15), LA) == \
        utc(2028, 4, 30, 16, 15)


def test_preservation_counts_from_the_date_in_the_legal_time_zone():
    # 07:00 UTC on 31 January is still 30 January, 23:00, in Los Angeles.
    end = compute_deadline("us_preservation", utc(2026, 1, 31, 7, 0), LA)
    assert end == local(LA, 2026, 4, 30, 23, 0)
    assert end == utc(2026, 5, 1, 6, 0)


def test_preservation_across_the_autumn_change_keeps_the_wall_clock_time():
    start = local(LA, 2026, 9, 1, 8, 30)  # PDT
    end = compute_deadline("us_preservation", start, LA)
    assert end == local(LA, 2026, 11, 30, 8, 30)  # PST
    assert end == utc(2026, 11, 30, 16, 30)


def test_preservation_landing_in_the_spring_gap_resolves_to_a_real_instant():
    # 8 December 2025 02:30 PST + 90 days = 8 March 2026 02:30, a time that does not exist
    # in Los Angeles (02:00 → 03:00). The deadline is a real instant after the gap.
    end = compute_deadline("us_preservation", local(LA, 2025, 12, 8, 2, 30), LA)
    assert end == utc(2026, 3, 8, 10, 30)  # 03:30 PDT
    assert end.astimezone(ZoneInfo(LA)).hour == 3


def test_preservation_renewal_adds_90_days_to_the_end_of_the_first_period():
    received = local(LA, 2026, 1, 10, 11, 0)
    first_end = compute_deadline("us_preservation", received, LA)
    renewed_end = compute_deadline("us_preservation_renewal", first_end, LA)
    assert first_end == local(LA, 2026, 4, 10, 11, 0)
    assert renewed_end == local(LA, 2026, 7, 9, 11, 0)
    assert renewed_end == utc(2026, 7, 9, 18, 0)


# --- EU preservation (EPOC-PR): 60 days, then 30 more ------------------------------------------


def test_epoc_pr_sixty_days_and_the_thirty_day_extension():
    # Received 25 March 2026 10:20 GMT: day 60 is Sunday 24 May (IST), so the period ends
    # at the end of Monday 25 May (art. 3(4)); the Annex VI extension runs 30 days from
    # there, to the end of Wednesday 24 June.
    received = utc(2026, 3, 25, 10, 20)
    first_end = compute_deadline("eu_preservation_order", received, DUBLIN)
    assert first_end == utc(2026, 5, 25, 22, 59, 59, 999999)
    extended = compute_deadline("eu_preservation_extension", first_end, DUBLIN)
    assert extended == utc(2026, 6, 24, 22, 59, 59, 999999)


def test_epoc_pr_extension_into_winter_time():
    received = local(DUBLIN, 2026, 8, 30, 15, 0)
    first_end = compute_deadline("eu_preservation_order", received, DUBLIN)
    assert first_end == utc(2026, 10, 29, 23, 59, 59, 999999)  # GMT again by 29 October
    # Day 30 is Saturday 28 November: the period ends at the end of Monday 30 November.
    assert compute_deadline("eu_preservation_extension", first_end, DUBLIN) == \
        utc(2026, 11, 30, 23, 59, 59, 999999)


# --- NCMEC report preservation: one year -----------------------------------------------------


def test_ncmec_preservation_is_one_year_at_the_same_wall_clock_time():
    start = local(LA, 2026, 7, 15, 16, 45)
    assert compute_deadline("ncmec_report_preservation", start, LA) == local(LA, 2027, 7, 15, 16, 45)


def test_ncmec_preservation_from_29_february_ends_on_28_february():
    start = local(LA, 2028, 2, 29, 12, 0)
    end = compute_deadline("ncmec_report_preservation", start, LA)
    assert end == local(LA, 2029, 2, 28, 12, 0)
    assert end == utc(2029, 2, 28, 20, 0)


def test_ncmec_preservation_across_a_year_that_changes_daylight_saving():
    # Finished in summer (PDT) → ends in summer too, at the same local time.
    start = utc(2026, 6, 1, 19, 0)  # 12:00 PDT
    assert compute_deadline("ncmec_report_preservation", start, LA) == utc(2027, 6, 1, 19, 0)


# --- emergency disclosure request: one hour of real time -------------------------------------


def test_emergency_disclosure_target_is_one_hour():
    start = utc(2026, 7, 4, 3, 17, 12)
    assert compute_deadline("emergency_disclosure_response", start, LA) == utc(2026, 7, 4, 4, 17, 12)


def test_emergency_disclosure_hour_is_real_time_across_spring_forward():
    # 01:30 PST on 8 March 2026; the clocks jump at 02:00. One hour later is 03:30 PDT.
    start = local(LA, 2026, 3, 8, 1, 30)
    end = compute_deadline("emergency_disclosure_response", start, LA)
    assert end - start == timedelta(hours=1)
    assert end.astimezone(ZoneInfo(LA)).replace(tzinfo=None) == datetime(2026, 3, 8, 3, 30)


def test_emergency_disclosure_hour_is_real_time_across_fall_back():
    # 01:30 PDT (first of the two 01:30s on 1 November 2026) → 01:30 PST, one real hour later.
    start = local(LA, 2026, 11, 1, 1, 30, fold=0)
    end = compute_deadline("emergency_disclosure_response", start, LA)
    assert end == utc(2026, 11, 1, 9, 30)
    assert end - start == timedelta(hours=1)
    assert end.astimezone(ZoneInfo(LA)).replace(tzinfo=None) == datetime(2026, 11, 1, 1, 30)


# --- internal rules ----------------------------------------------------------------------------


def test_internal_hold_review_is_180_days():
    start = local(LA, 2026, 1, 5, 9, 0)
    assert compute_deadline("internal_hold_review", start, LA) == local(LA, 2026, 7, 4, 9, 0)


def test_standard_request_answer_is_14_days():
    start = local(LA, 2026, 2, 27, 13, 0)  # PST; 13 March is PDT
    end = compute_deadline("standard_request_response", start, LA)
    assert end == local(LA, 2026, 3, 13, 13, 0)
    assert end == utc(2026, 3, 13, 20, 0)


# --- what submit_request stores, for every request type -------------------------------------

# Received Wednesday 25 March 2026, 10:20 UTC: 03:20 PDT in Los Angeles (DST since 8 March),
# 10:20 GMT in London (British summer time starts on 29 March, inside the UK order's 7 days).
# EU orders exist from 18 August 2026 and come from an Irish authority: received Wednesday
# 23 September 2026, 10:20 UTC (11:20 IST).
RECEIVED = utc(2026, 3, 25, 10, 20)
EU_RECEIVED = utc(2026, 9, 23, 10, 20)
EXPECTED_DEADLINES = {
    ("subpoena", False): utc(2026, 4, 8, 10, 20),            # 14 days, 03:20 PDT
    ("court_order_2703d", False): utc(2026, 4, 8, 10, 20),
    ("search_warrant", False): utc(2026, 4, 8, 10, 20),
    ("mlat", False): utc(2026, 4, 8, 10, 20),
    ("other", False): utc(2026, 4, 8, 10, 20),
    # 7 days beginning with the day of service: 25-31 March, to the end of 31 March BST.
    ("uk_opo", False): utc(2026, 3, 31, 22, 59, 59, 999999),
    ("uk_us_daa", False): utc(2026, 3, 31, 22, 59, 59, 999999),
    ("emergency", True): utc(2026, 3, 25, 11, 20),            # one hour of real time
    ("preservation", False): utc(2026, 3, 26, 10, 20),       # time to act: 24 hours
    # Due with the hold it renews: 90 days from that hold's expiry (23 June, 03:20 PDT).
    ("preservation_renewal", False): utc(2026, 9, 21, 10, 20),
    # Day 10 is Saturday 3 October: the period ends at the end of Monday 5 October (IST).
    ("eu_epoc", False): utc(2026, 10, 5, 22, 59, 59, 999999),
    ("eu_epoc", True): utc(2026, 9, 23, 18, 59, 59, 999999),  # 11:00 UTC + 8 hours
    # Day 60 is Sunday 22 November: the end of Monday 23 November (GMT).
    ("eu_epoc_pr", False): utc(2026, 11, 23, 23, 59, 59, 999999),
}


def test_the_expected_table_covers_every_request_type():
    assert {t for t, _ in EXPECTED_DEADLINES} == set(request_rules.REQUEST_TYPES)


@pytest.mark.parametrize(("request_type", "emergency"), sorted(EXPECTED_DEADLINES))
def test_submit_request_stores_the_deadline_of_its_type(request_type, emergency, officer_a,
                                                       agency_a, frozen):
    kind = request_rules.REQUEST_TYPES[request_type]
    received = RECEIVED
    if kind.eu_order:
        agency_a.country, received = "IE", EU_RECEIVED
    frozen(received)
    extra = {}
    if request_type == "preservation_renewal":  # a renewal names the preservation it renews
        extra["related_reference"] = submit(officer_a, request_type="preservation").reference
    request = submit(officer_a, request_type=request_type, emergency=emergency,
                     addressed_to=kind.legal_entity,
                     data_categories=list(kind.reaches[:1]), **extra)
    assert request.received_at == received
    assert request.emergency is emergency
    assert request.deadline_at == EXPECTED_DEADLINES[(request_type, emergency)], request_type


def test_eu_requests_count_in_dublin_and_us_requests_in_the_legal_time_zone():
    assert ENTITY_ZONES["eu"] == DUBLIN
    for key, kind in request_rules.REQUEST_TYPES.items():
        if key.startswith("eu_"):
            assert kind.legal_entity == "eu", key


def test_a_changed_legal_time_zone_moves_us_deadlines_only(officer_a, irish_agency_a, frozen,
                                                          override_settings):
    override_settings(legal_time_zone="America/New_York")
    frozen(utc(2026, 10, 31, 3, 0))  # 23:00 EDT on 30 October; 03:00 GMT on 31 October
    subpoena = submit(officer_a, request_type="subpoena")
    epoc = submit(officer_a, request_type="eu_epoc", addressed_to="eu")
    # 14 days at the same wall-clock time, after the clocks went back on 1 November.
    assert subpoena.deadline_at == local("America/New_York", 2026, 11, 13, 23, 0)
    assert epoc.deadline_at == utc(2026, 11, 10, 23, 59, 59, 999999)  # 31 Oct in Dublin + 10


def test_an_emergency_flag_on_a_non_epoc_request_changes_nothing(officer_a, frozen):
    frozen(RECEIVED)
    request = submit(officer_a, request_type="court_order_2703d", emergency=True)
    assert request.emergency is False
    assert request.deadline_at == EXPECTED_DEADLINES[("court_order_2703d", False)]


def test_deadlines_are_stored_and_read_back_as_aware_utc(officer_a, irish_agency_a, frozen):
    from tests.requests.helpers import reload_request

    frozen(EU_RECEIVED)
    reference = submit(officer_a, request_type="eu_epoc", addressed_to="eu").reference
    stored = reload_request(reference)
    assert stored.deadline_at == utc(2026, 10, 5, 22, 59, 59, 999999)
    assert stored.deadline_at.utcoffset() == timedelta(0)
