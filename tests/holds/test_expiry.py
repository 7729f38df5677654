"""Each kind of hold gets the expiry the table in DESIGN.md gives it, counted the way the
instrument counts: across a month end, a daylight-saving change, and 29 February."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from referrals.cases.services import add_identifier, add_subject, open_case
from referrals.core.errors import InvalidInput, PermissionDenied
from referrals.core.identity import system_identity
from referrals.holds.scope import is_held
from referrals.holds.services import (HoldRefused, place_internal_hold, place_ncmec_hold,
                                      record_hold_review, release_hold)
from tests.holds.helpers import hold_of, me, preserve

SYSTEM = system_identity("test:holds")


@pytest.fixture
def case_with_account(agent):
    case = open_case(SYSTEM, title="Made-up grooming report", category="other", check=False)
    subject = add_subject(SYSTEM, case, label="made_up_account", check=False)
    add_identifier(me(agent), subject, kind="username", value="@Made_Up_Groomer")
    add_identifier(me(agent), subject, kind="email", value="groomer@example.invalid")
    return case


def test_a_2703f_hold_runs_90_calendar_days_from_receipt_across_a_month_end(officer_a, frozen,
                                                                           us_time):
    # 30 November 2026, 10:00 in Los Angeles (PST): 90 days later is 28 February 2027, 10:00 PST.
    frozen(datetime(2026, 11, 30, 18, 0, tzinfo=UTC))
    hold = hold_of(preserve(officer_a))
    assert hold.kind == "us_2703f" and hold.status == "active"
    assert hold.starts_at == datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
    assert hold.expires_at == datetime(2027, 2, 28, 18, 0, tzinfo=UTC)
    assert hold.renewals == 0 and hold.review_due_at is None


def test_a_2703f_hold_keeps_its_wall_clock_time_across_the_spring_change(officer_a, frozen,
                                                                         us_time):
    # 10 January 2026, 10:00 PST; the clocks go forward on 8 March: 10 April, 10:00 PDT,
    # which is one hour earlier in UTC than the same instant 90 × 24 hours later.
    frozen(datetime(2026, 1, 10, 18, 0, tzinfo=UTC))
    hold = hold_of(preserve(officer_a))
    assert hold.expires_at == datetime(2026, 4, 10, 17, 0, tzinfo=UTC)


def test_an_epoc_pr_hold_ends_at_the_end_of_its_60th_day_in_dublin(officer_a, irish_agency_a,
                                                                   frozen):
    # Received Wednesday 23 September 2026, 10:20 UTC: the day of receipt is not counted (Reg. 1182/71); day 60
    # is Sunday 22 November, so the period ends at the end of Monday 23 November
    # (art. 3(4)), midnight GMT.
    frozen(datetime(2026, 9, 23, 10, 20, tzinfo=UTC))
    hold = hold_of(preserve(officer_a, request_type="eu_epoc_pr", addressed_to="eu",
                            legal_basis="Made-up EPOC-PR, Regulation (EU) 2023/1543"))
    assert hold.kind == "eu_epoc_pr"
    assert hold.expires_at == datetime(2026, 11, 23, 23, 59, 59, 999999, tzinfo=UTC)


def test_a_request_that_is_not_for_preservation_places_no_hold(officer_a):
    assert hold_of(preserve(officer_a, request_type="search_warrant")) is None


def test_an_ncmec_hold_lasts_a_year_from_completion_and_29_february_ends_on_28th(
        case_with_account, agent, frozen, us_time):
    frozen(datetime(2024, 6, 1, 12, 0, tzinfo=UTC))
    completed = datetime(2024, 2, 29, 15, 0, tzinfo=UTC)  # 07:00 PST
    hold = place_ncmec_hold(me(agent), case_with_account, "123456789", completed,
                            [("username", "@Made_Up_Groomer")])
    assert hold.kind == "ncmec_report" and hold.external_reference == "123456789"
    assert hold.starts_at == completed
    assert hold.expires_at == datetime(2025, 2, 28, 15, 0, tzinfo=UTC)
    assert [i.normalized for i in hold.identifiers] == ["made_up_groomer"]
    assert hold.data_categories == ["subscriber", "login_logout", "interaction", "content",
                                    "transaction"]
    assert hold.owner_id == agent.id and hold.case_id == case_with_account.id
    # One hold per report: the NCMEC feature may call twice (a retried job).
    with pytest.raises(HoldRefused, match="already has its hold"):
        place_ncmec_hold(me(agent), case_with_account, "123456789", completed,
                         [("username", "@Made_Up_Groomer")])


def test_an_ncmec_hold_whose_year_has_passed_is_refused_plainly(case_with_account, agent, frozen):
    frozen(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    with pytest.raises(HoldRefused, match="place an internal legal hold"):
        place_ncmec_hold(me(agent), case_with_account, "987654321",
                         datetime(2025, 2, 1, 12, 0, tzinfo=UTC), [("username", "x")])
    with pytest.raises(InvalidInput, match="in the future"):
        place_ncmec_hold(me(agent), case_with_account, "987654321",
                         datetime(2026, 3, 2, 12, 0, tzinfo=UTC), [("username", "x")])


def test_an_internal_hold_lasts_until_released_and_is_reviewed_every_180_days(
        case_with_account, agent, supervisor, frozen, us_time):
    frozen(datetime(2026, 1, 5, 17, 0, tzinfo=UTC))  # 09:00 PST
    hold = place_internal_hold(me(agent), case_with_account, [("username", "@Made_Up_Groomer")],
                               ["subscriber", "content"], date(2025, 6, 1), None,
                               "Made-up litigation hold, matter 2026-17")
    assert hold.kind == "internal" and hold.expires_at is None
    # 180 calendar days from 5 January 09:00 PST is 4 July 09:00 PDT.
    assert hold.review_due_at == datetime(2026, 7, 4, 16, 0, tzinfo=UTC)
    assert is_held(case_with_account, at=datetime(2040, 1, 1, tzinfo=UTC))

    frozen(datetime(2026, 7, 1, 16, 0, tzinfo=UTC))
    with pytest.raises(InvalidInput, match="still needed"):
        record_hold_review(me(agent), hold, "  ")
    record_hold_review(me(agent), hold, "Made-up matter still open.")
    assert hold.review_due_at == datetime(2026, 12, 28, 17, 0, tzinfo=UTC)  # 09:00 PST again
    assert [e.kind for e in hold.events] == ["placed", "reviewed"]
    assert "Next review due 28 December 2026" in hold.events[-1].body

    with pytest.raises(InvalidInput, match="Say why"):
        release_hold(me(supervisor), hold, "")
    with pytest.raises(PermissionDenied):
        release_hold(me(agent), hold, "Made-up matter settled.")
    release_hold(me(supervisor), hold, "Made-up matter settled.")
    assert hold.status == "released" and hold.end_reason == "Made-up matter settled."
    assert hold.ended_at == datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
    assert not is_held(case_with_account)
    with pytest.raises(HoldRefused, match="already ended"):
        release_hold(me(supervisor), hold, "Again.")
    with pytest.raises(HoldRefused, match="already ended"):
        record_hold_review(me(agent), hold, "Still?")


def test_placing_a_hold_needs_categories_and_a_reason(case_with_account, agent, compliance):
    with pytest.raises(InvalidInput) as error:
        place_internal_hold(me(agent), case_with_account, [], [], None, None, "Made-up reason")
    assert error.value.field == "data_categories"
    with pytest.raises(InvalidInput) as error:
        place_internal_hold(me(agent), case_with_account, [], ["subscriber"], None, None, "")
    assert error.value.field == "legal_basis"
    with pytest.raises(InvalidInput) as error:
        place_internal_hold(me(agent), case_with_account, [], ["subscriber"],
                            date(2025, 2, 1), date(2025, 1, 1), "Made-up reason")
    assert error.value.field == "date_from"
    with pytest.raises(PermissionDenied):
        place_internal_hold(me(compliance), case_with_account, [], ["subscriber"], None, None,
                            "Made-up reason")
