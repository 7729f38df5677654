"""The request services tell the agency exactly when the declared transition says so, and
refuse what the declaration does not allow (requests.rules.REQUEST_STATES)."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from referrals.core.errors import InvalidInput
from referrals.core.states import StateMachine, TransitionRefused
from referrals.extensions import db
from referrals.requests import rules, services
from referrals.requests.models import RequestMessage
from tests.requests.helpers import as_identity, reload_request, submit


def _told(request) -> list[str]:
    db.session.expire_all()
    return [m.body for m in db.session.scalars(
        select(RequestMessage).where(RequestMessage.request_id == request.id,
                                     RequestMessage.from_agency.is_(False),
                                     RequestMessage.internal.is_(False)))]


def _redeclared(monkeypatch, change):
    machine = rules.REQUEST_STATES
    transitions = tuple(change(t) for t in machine.transitions)
    monkeypatch.setattr(rules, "REQUEST_STATES", StateMachine(
        machine.noun, machine.statuses, final=machine.final, reason_prompt=machine.reason_prompt,
        transitions=tuple(t for t in transitions if t is not None)))


def test_the_agency_is_told_when_the_declaration_says_so(officer_a, agent, monkeypatch):
    request = submit(officer_a)
    _redeclared(monkeypatch, lambda t: dataclasses.replace(t, tells_agency=True)
                if (t.source, t.target) == ("received", "verifying") else t)
    services.move_request(as_identity(agent), request, "verifying")
    assert "Status: Verifying." in _told(request)


def test_the_agency_is_not_told_when_the_declaration_says_not(officer_a, agent, monkeypatch):
    request = submit(officer_a)
    _redeclared(monkeypatch, lambda t: dataclasses.replace(t, tells_agency=False)
                if (t.source, t.target) == ("received", "rejected") else t)
    services.move_request(as_identity(agent), request, "rejected", "Made-up reason")
    assert not any(body.startswith("Status: Rejected.") for body in _told(request))


def test_a_reason_is_required_where_declared(officer_a, agent, monkeypatch):
    request = submit(officer_a)
    _redeclared(monkeypatch, lambda t: dataclasses.replace(t, needs_reason=True)
                if (t.source, t.target) == ("received", "verifying") else t)
    with pytest.raises(InvalidInput, match="Say why: the agency will read it."):
        services.move_request(as_identity(agent), request, "verifying", "")
    assert reload_request(request.reference).status == "received"


def test_withdrawal_follows_the_declaration(officer_a, monkeypatch):
    request = submit(officer_a)
    _redeclared(monkeypatch, lambda t: None if t.by == "withdraw" else t)
    with pytest.raises(TransitionRefused, match="This request can no longer be withdrawn."):
        services.withdraw_request(as_identity(officer_a), request, "Made-up")
    assert reload_request(request.reference).status == "received"
