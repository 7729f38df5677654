"""The shared form of a state machine: a declaration that refuses mistakes when it is made,
and answers services and pages alike."""

from __future__ import annotations

import pytest

from referrals.cases.rules import CASE_STATES
from referrals.core.errors import InvalidInput
from referrals.core.states import StateMachine, Transition, TransitionRefused
from referrals.holds.rules import HOLD_STATES, LIVE_STATUSES
from referrals.requests.rules import APPROVABLE_FROM, REQUEST_STATES, WITHDRAWABLE

STATUSES = {"draft": "Draft", "sent": "Sent", "answered": "Answered", "closed": "Closed"}
LETTERS = StateMachine("letter", STATUSES, final=("closed",), transitions=(
    Transition("draft", "sent", tells_agency=True),
    Transition("draft", "closed", needs_reason=True),
    Transition("sent", "answered"),
    Transition("answered", "closed", by="archive"),
))


def test_an_undeclared_status_or_a_transition_declared_twice_is_refused_at_declaration():
    with pytest.raises(ValueError, match="'lost' is not a status"):
        StateMachine("letter", STATUSES, transitions=(Transition("draft", "lost"),))
    with pytest.raises(ValueError, match="declared twice"):
        StateMachine("letter", STATUSES, transitions=(Transition("draft", "sent"),
                                                      Transition("draft", "sent")))
    with pytest.raises(ValueError, match="final 'gone'"):
        StateMachine("letter", STATUSES, final=("gone",), transitions=())


def test_an_illegal_transition_is_refused_in_plain_words_naming_what_is_possible():
    with pytest.raises(TransitionRefused) as refused:
        LETTERS.require("sent", "closed")
    assert refused.value.message == ("A letter that is sent cannot move to closed. "
                                     "It can move to: Answered.")
    assert refused.value.field == "status"
    assert LETTERS.refusal("closed", "draft") == "A letter that is closed cannot move to draft."
    with pytest.raises(InvalidInput, match="Choose a status."):
        LETTERS.require("draft", "teleported")


def test_a_transition_that_needs_a_reason_is_refused_without_one():
    for blank in (None, "", "   "):
        with pytest.raises(InvalidInput) as refused:
            LETTERS.require("draft", "closed", reason=blank)
        assert refused.value.message == "Say why." and refused.value.field == "reason"
    assert LETTERS.require("draft", "closed", reason="Made-up reason").target == "closed"


def test_actions_other_than_the_plain_move_are_kept_apart():
    assert LETTERS.choices("answered") == []  # the page's "move to" list does not offer it
    assert LETTERS.allows("answered", "archive")
    assert LETTERS.require("answered", "closed", by="archive").by == "archive"
    with pytest.raises(TransitionRefused):
        LETTERS.require("answered", "closed")
    assert LETTERS.sources("archive") == ("answered",)
    assert LETTERS.find("draft", "sent").tells_agency
    assert LETTERS.is_final("closed") and not LETTERS.is_final("sent")


def test_the_declared_machines_say_what_the_rules_files_said():
    assert CASE_STATES.targets("new") == ("triage", "investigating", "closed")
    assert CASE_STATES.targets("closed") == ("investigating",)
    # Requests: approval and release only through their own two-person services.
    assert APPROVABLE_FROM == ("legal_review", "narrowed")
    assert "approved" not in {t.target for t in REQUEST_STATES.transitions if t.by == "move"}
    assert REQUEST_STATES.sources("disclose") == ("ready_for_review",)
    assert WITHDRAWABLE == ("received", "verifying", "legal_review", "needs_info", "narrowed",
                            "approved", "collecting")
    explained = {t.target for t in REQUEST_STATES.transitions if t.needs_reason}
    assert explained == {"rejected", "redirected_mlat", "needs_info", "narrowed"}
    told = {t.target for t in REQUEST_STATES.transitions if t.tells_agency}
    assert told == {"rejected", "redirected_mlat", "needs_info", "narrowed", "closed",
                    "approved", "disclosed"}
    # Holds: ended from a live status only; a release needs its reason; the agency is told.
    for by, target in (("release", "released"), ("convert", "converted"), ("expire", "expired")):
        assert HOLD_STATES.sources(by) == LIVE_STATUSES
        assert all(HOLD_STATES.find(s, target, by).tells_agency for s in LIVE_STATUSES)
    assert HOLD_STATES.find("active", "released", "release").needs_reason
