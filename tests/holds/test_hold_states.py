"""The hold services follow the declared state machine (holds.rules.HOLD_STATES): whether the
agency is told of an ending, and that a release needs its reason."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from referrals.core.errors import InvalidInput
from referrals.core.states import StateMachine
from referrals.core.transaction import commit
from referrals.holds import refusals, services
from referrals.holds.services import release_hold
from tests.holds.helpers import by_reference, hold_of, me, preserve
from tests.holds.test_agency_told import agency_messages

RECEIVED = datetime(2026, 3, 25, 10, 20, tzinfo=UTC)


def test_a_release_without_a_reason_is_refused(officer_a, supervisor, frozen):
    frozen(RECEIVED)
    hold = hold_of(preserve(officer_a))
    with pytest.raises(InvalidInput, match="Say why the hold is released."):
        release_hold(me(supervisor), hold, "   ")
    assert by_reference(hold.reference).status == "active"


def test_the_agency_is_told_of_a_release_only_as_declared(officer_a, supervisor, frozen,
                                                          monkeypatch):
    frozen(RECEIVED)
    request = preserve(officer_a)
    hold = hold_of(request)
    machine = services.HOLD_STATES
    quiet = StateMachine(machine.noun, machine.statuses, final=machine.final,
                         reason_prompt=machine.reason_prompt, transitions=tuple(
                             dataclasses.replace(t, tells_agency=False) if t.by == "release"
                             else t for t in machine.transitions))
    monkeypatch.setattr(services, "HOLD_STATES", quiet)
    before = len(agency_messages(request))
    release_hold(me(supervisor), hold, "Made-up: no longer needed")
    commit()
    assert by_reference(hold.reference).status == "released"
    assert agency_messages(request)[before:] == []


def test_the_hold_page_offers_an_ending_only_where_the_declaration_allows_it(
        officer_a, supervisor, frozen, monkeypatch, new_client):
    frozen(RECEIVED)
    hold = hold_of(preserve(officer_a))
    url = f"/holds/{hold.reference}"
    browser = new_client(supervisor)  # one sign-in: a TOTP code is accepted once
    page = browser.get(url).text
    assert url + "/convert" in page and url + "/release" in page

    machine = refusals.HOLD_STATES
    no_conversion = StateMachine(machine.noun, machine.statuses, final=machine.final,
                                 reason_prompt=machine.reason_prompt, transitions=tuple(
                                     t for t in machine.transitions if t.by != "convert"))
    monkeypatch.setattr(refusals, "HOLD_STATES", no_conversion)
    assert refusals.actions_for(me(supervisor), hold)["convert"] is not None
    page = browser.get(url).text
    assert url + "/convert" not in page and url + "/release" in page
