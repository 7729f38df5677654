"""The counting rules added for issue 12, on the functions: 1182/71 art. 3(4) with Irish
public holidays, the UK "beginning with" count, the NDO reading, and the values that come from
settings. (The same rules through the API and pages: tests/requests/test_legal_depth.py.)"""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from referrals.cases.rules import DUE_SOON, PRIORITIES
from referrals.core.deadlines import (RULES, compute_deadline, current_value, end_of,
                                      is_working_day, nondisclosure_notice_due, span, value_text)

DUBLIN, LONDON = "Europe/Dublin", "Europe/London"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_irish_public_holidays_and_weekends_are_not_working_days():
    assert not is_working_day(date(2026, 3, 17), DUBLIN)  # St Patrick's Day
    assert not is_working_day(date(2026, 2, 2), DUBLIN)  # St Brigid's Day (first Monday)
    assert not is_working_day(date(2026, 12, 26), DUBLIN)  # Saturday and St Stephen's Day
    assert not is_working_day(date(2027, 1, 1), DUBLIN)
    assert is_working_day(date(2026, 3, 18), DUBLIN)
    # Holidays are Ireland's only: 17 March is a working day where no holidays are kept.
    assert is_working_day(date(2026, 3, 17), "America/Los_Angeles")


def test_an_epoc_ending_on_st_patricks_day_ends_the_next_working_day():
    # Received Saturday 7 March 2026: day 10 is Tuesday 17 March (a holiday) → Wednesday 18.
    end = compute_deadline("eu_production_order", utc(2026, 3, 7, 12, 0), DUBLIN)
    assert end == utc(2026, 3, 18, 23, 59, 59, 999999)


def test_an_epoc_ending_on_christmas_day_runs_past_st_stephens_day_and_the_weekend():
    # Received 15 December 2026: day 10 is Friday 25 December (Christmas Day); Saturday 26
    # (St Stephen's Day) and Sunday 27 follow, so the period ends at the end of Monday 28.
    end = compute_deadline("eu_production_order", utc(2026, 12, 15, 9, 0), DUBLIN)
    assert end == utc(2026, 12, 28, 23, 59, 59, 999999)  # GMT in winter


def test_an_epoc_received_on_new_years_eve_ends_in_january():
    # Received Thursday 31 December 2026: day 10 is Sunday 10 January 2027 → Monday 11.
    end = compute_deadline("eu_production_order", utc(2026, 12, 31, 16, 0), DUBLIN)
    assert end == utc(2027, 1, 11, 23, 59, 59, 999999)


def test_hour_periods_run_over_weekends_and_holidays():
    # 1182/71 art. 3(4) reaches only periods "expressed otherwise than in hours".
    end = compute_deadline("eu_production_order_emergency", utc(2026, 3, 17, 9, 30), DUBLIN)
    assert end == utc(2026, 3, 17, 17, 59, 59, 999999)


def test_a_uk_order_counts_seven_days_beginning_with_the_day_of_service():
    # Served Wednesday 21 October 2026 (BST): day 1 is 21 October, day 7 is Tuesday 27
    # October, after the clocks go back on 25 October: ends 23:59:59.999999 GMT.
    end = compute_deadline("uk_overseas_production_order", utc(2026, 10, 21, 9, 0), LONDON)
    assert end == utc(2026, 10, 27, 23, 59, 59, 999999)
    # …and no working-day rule: day 7 on a Saturday stays a Saturday.
    end = compute_deadline("uk_overseas_production_order", utc(2026, 11, 1, 9, 0), LONDON)
    assert end == utc(2026, 11, 7, 23, 59, 59, 999999)


def test_the_end_of_a_return_date_in_its_zone():
    assert end_of(date(2026, 7, 1), LONDON) == utc(2026, 7, 1, 22, 59, 59, 999999)


def test_the_nondisclosure_reading_puts_the_notice_at_the_start_of_the_next_day():
    assert nondisclosure_notice_due(date(2026, 3, 28), DUBLIN) == utc(2026, 3, 29, 0, 0)
    # The next day is the summer-time change: 00:00 GMT still exists.
    assert nondisclosure_notice_due(date(2026, 10, 24), DUBLIN) == utc(2026, 10, 24, 23, 0)
    assert nondisclosure_notice_due(date(2026, 12, 31), "America/Los_Angeles") == \
        utc(2027, 1, 1, 8, 0)


def test_the_emergency_epoc_target_is_never_later_than_the_legal_deadline():
    for start in (utc(2026, 3, 29, 0, 30), utc(2026, 10, 25, 0, 59), utc(2026, 12, 31, 23, 59)):
        target = compute_deadline("eu_production_order_emergency_target", start, DUBLIN)
        legal = compute_deadline("eu_production_order_emergency", start, DUBLIN)
        assert start < target <= legal


def test_case_priorities_and_marks_come_from_the_table():
    assert PRIORITIES["P0"][1] == span("case_first_response_P0")
    assert PRIORITIES["P3"][1] == span("case_first_response_P3")
    assert DUE_SOON == span("case_due_soon")


def test_rules_with_a_setting_show_the_settings_value():
    settings = SimpleNamespace(retention_days=365, hold_reminder_days=(30, 3),
                               preservation_action_hours=12)
    assert current_value(RULES["retention"], settings) == 365
    assert value_text(RULES["hold_reminders"], settings) == "30, 3 days"
    assert span("preservation_time_to_act", settings).total_seconds() == 12 * 3600
    assert value_text(RULES["retention"]) == "730 days"


def test_every_rule_cites_a_source_and_internal_ones_name_their_setting_or_policy():
    for rule in RULES.values():
        assert rule.source.strip(), rule.key
        if rule.setting:
            assert rule.env and rule.env.startswith("REFERRALS_"), rule.key


def test_the_time_to_act_setting_is_read_from_the_environment(tmp_path):
    from config import ConfigError, load_settings

    env = {"REFERRALS_ENV": "test", "REFERRALS_INSTANCE_PATH": str(tmp_path)}
    assert load_settings(env).preservation_action_hours == 24
    assert load_settings({**env, "REFERRALS_PRESERVATION_ACTION_HOURS": "8"}
                         ).preservation_action_hours == 8
    with pytest.raises(ConfigError):
        load_settings({**env, "REFERRALS_PRESERVATION_ACTION_HOURS": "0"})
