"""The case service and the case page follow the declared state machine (cases.rules)."""

from __future__ import annotations

import pytest

from referrals.cases import rules, services
from referrals.core.errors import InvalidInput
from referrals.core.identity import Identity
from referrals.core.states import StateMachine, Transition, TransitionRefused
from tests.cases.helpers import open_case

# A different declaration: only new → referred, and only with a reason.
ONLY_REFERRAL = StateMachine("case", rules.STATUSES, final=("closed",), transitions=(
    Transition("new", "referred", needs_reason=True),
))


@pytest.fixture
def declared(monkeypatch):
    monkeypatch.setattr(rules, "CASE_STATES", ONLY_REFERRAL)
    # The declaration alone, without the conditions features add (a sent referral).
    monkeypatch.setattr(services, "status_conditions", {})


def test_the_service_refuses_what_the_declaration_does_not_allow(make_user, declared):
    agent = make_user("agent")
    case = open_case(agent)
    with pytest.raises(TransitionRefused) as refused:
        services.change_status(Identity.for_user(agent), case, "triage")
    assert refused.value.message == ("A case that is new cannot move to triage. "
                                     "It can move to: Referred.")
    assert case.status == "new"


def test_the_service_refuses_a_move_that_needs_a_reason_without_one(make_user, declared):
    agent = make_user("agent")
    case = open_case(agent)
    with pytest.raises(InvalidInput, match="Say why."):
        services.change_status(Identity.for_user(agent), case, "referred", "  ")
    services.change_status(Identity.for_user(agent), case, "referred", "Made-up referral")
    assert case.status == "referred"


def test_the_page_offers_the_declared_moves(client, as_role, declared):
    agent = as_role("agent")
    case = open_case(agent)
    page = client.get(f"/cases/{case.reference}").text
    options = page.split('name="status"')[1].split("</select>")[0]
    assert 'value="referred"' in options
    assert 'value="triage"' not in options and 'value="investigating"' not in options
