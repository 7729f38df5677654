"""EPOC-PR: extended once by 30 days (Annex VI); open-ended once a production order is
confirmed (Annex V). A 2703(f) hold can be kept for the legal process that follows it, and
any hold can be converted into the production that takes it over."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from referrals.core.errors import InvalidInput, PermissionDenied
from referrals.holds.scope import is_held
from referrals.holds.services import (HoldRefused, confirm_production, convert_hold,
                                      extend_hold, release_hold, renew_hold)
from referrals.holds.standing import portal_fields
from tests.holds.helpers import hold_of, me, preserve

# An Irish authority's EPOC-PR, received Tuesday 25 August 2026 10:20 UTC (after the
# Regulation applies). Day 60 is Saturday 24 October; Monday 26 October is the October bank
# holiday, so the period ends at the end of Tuesday 27 October (1182/71 art. 3(4)), in GMT
# again since the 25th. The Annex VI extension ends at the end of Thursday 26 November.
RECEIVED = datetime(2026, 8, 25, 10, 20, tzinfo=UTC)
FIRST_EXPIRY = datetime(2026, 10, 27, 23, 59, 59, 999999, tzinfo=UTC)
EXTENDED_EXPIRY = datetime(2026, 11, 26, 23, 59, 59, 999999, tzinfo=UTC)


@pytest.fixture
def epoc_pr(officer_a, irish_agency_a, frozen):
    frozen(RECEIVED)
    order = preserve(officer_a, request_type="eu_epoc_pr", addressed_to="eu",
                     legal_basis="Made-up EPOC-PR under Regulation (EU) 2023/1543")
    frozen(datetime(2026, 10, 20, 9, 0, tzinfo=UTC))
    return hold_of(order)


def test_an_epoc_pr_is_extended_once_by_30_days(epoc_pr, agent):
    assert epoc_pr.expires_at == FIRST_EXPIRY
    extend_hold(me(agent), epoc_pr, note="Made-up Annex VI of 19 October")
    assert (epoc_pr.extensions, epoc_pr.status, epoc_pr.expires_at) == (1, "extended",
                                                                         EXTENDED_EXPIRY)
    assert "26 Nov 2026 23:59 GMT (Europe/Dublin)" in epoc_pr.events[-1].body
    with pytest.raises(HoldRefused) as refused:
        extend_hold(me(agent), epoc_pr)
    assert refused.value.message == (
        f"{epoc_pr.reference} was already extended once, on 20 October 2026. Regulation (EU) "
        "2023/1543, art. 11(1) allows one 30-day extension; to keep the data past 26 "
        "Nov 2026 23:59 GMT (Europe/Dublin), the issuing authority must confirm a production "
        "order (Annex V) before then.")
    with pytest.raises(HoldRefused, match="extended once by 30 days on an Annex VI request"):
        renew_hold(me(agent), epoc_pr, note="Made-up")


def test_a_confirmed_production_order_makes_the_hold_open_ended(epoc_pr, agent, officer_a,
                                                                frozen):
    with pytest.raises(InvalidInput):
        confirm_production(me(agent), epoc_pr, " ")
    confirm_production(me(agent), epoc_pr, "EPOC-2026-MADEUP-7", note="Made-up Annex V")
    assert epoc_pr.expires_at is None and epoc_pr.production_confirmed_at is not None
    assert epoc_pr.production_reference == "EPOC-2026-MADEUP-7"
    assert epoc_pr.status == "active"
    assert is_held(epoc_pr, at=datetime(2030, 1, 1, tzinfo=UTC))
    frozen(datetime(2027, 1, 1, tzinfo=UTC))
    assert is_held(epoc_pr)
    with pytest.raises(HoldRefused, match="needs no extension"):
        extend_hold(me(agent), epoc_pr)
    with pytest.raises(HoldRefused, match="already kept until production"):
        confirm_production(me(agent), epoc_pr, "EPOC-2")
    fields = portal_fields(epoc_pr)
    assert fields["expires_at"] is None and fields["expires"] == "Until the data is produced"


def test_a_2703f_hold_is_kept_for_the_legal_process_that_follows_it(officer_a, officer_b,
                                                                    agent, frozen):
    frozen(datetime(2026, 1, 10, 18, 0, tzinfo=UTC))
    hold = hold_of(preserve(officer_a))
    warrant = preserve(officer_a, request_type="search_warrant",
                       related_reference=hold.request.reference)
    assert warrant.related_reference == hold.request.reference
    other = preserve(officer_b, request_type="search_warrant")
    with pytest.raises(InvalidInput, match="from another agency"):
        confirm_production(me(agent), hold, other.reference)
    with pytest.raises(InvalidInput, match="is a preservation request"):
        confirm_production(me(agent), hold, hold.request.reference)
    with pytest.raises(InvalidInput, match="There is no request REQ-2026-999999"):
        confirm_production(me(agent), hold, "req-2026-999999")
    confirm_production(me(agent), hold, warrant.reference.lower())
    assert hold.production_reference == warrant.reference and hold.expires_at is None
    with pytest.raises(HoldRefused, match="needs no renewal"):
        renew_hold(me(agent), hold, note="Made-up")


def test_converting_ends_the_hold_and_is_for_supervisors(epoc_pr, agent, supervisor, officer_a):
    warrant = preserve(officer_a, request_type="eu_epoc", addressed_to="eu")
    with pytest.raises(PermissionDenied):
        convert_hold(me(agent), epoc_pr, warrant.reference)
    convert_hold(me(supervisor), epoc_pr, warrant.reference, note="Made-up: produced")
    assert epoc_pr.status == "converted" and epoc_pr.ended_at is not None
    assert epoc_pr.end_reason == f"Converted to production {warrant.reference}: Made-up: produced"
    assert not is_held(epoc_pr)
    with pytest.raises(HoldRefused, match="already ended"):
        release_hold(me(supervisor), epoc_pr, "Made-up")
    with pytest.raises(HoldRefused, match="was converted to production"):
        extend_hold(me(agent), epoc_pr)


def test_an_internal_or_ncmec_hold_has_no_production_confirmation(epoc_pr, agent):
    from referrals.holds.refusals import production_refusal

    epoc_pr.kind = "internal"
    assert "a production order does not change its period" in production_refusal(epoc_pr)
