"""Issue 11: identifiers and subjects can be corrected or removed, with a reason, audited and
on the case's timeline; matching across cases follows the correction at once."""

from __future__ import annotations

import pytest

from referrals.cases import corrections, services
from referrals.cases.models import CaseEvent, Identifier, Subject
from referrals.core.errors import InvalidInput, PermissionDenied
from referrals.core.identity import Identity
from referrals.extensions import db
from sqlalchemy import select
from tests.cases.helpers import add_target, audit_events, open_case
from tests.conftest import csrf_from


def _timeline(case) -> list[str]:
    return list(db.session.scalars(select(CaseEvent.body).where(CaseEvent.case_id == case.id)
                                   .order_by(CaseEvent.id)))


def test_a_mistyped_email_is_corrected_with_a_reason(make_user, client, sign_in):
    agent = make_user("agent")
    case = open_case(agent, title="Synthetic typo case")
    subject = add_target(agent, case, ("email", "made.up@exmaple.net"))
    other = open_case(agent, title="Synthetic other case")
    add_target(agent, other, ("email", "made.up@example.net"))
    [identifier] = subject.identifiers
    sign_in(agent)
    page = client.get(f"/cases/{case.reference}").text
    assert f'id="correct-identifier-{identifier.id}"' in page
    response = client.post(f"/cases/{case.reference}/identifiers/{identifier.id}", data={
        "csrf_token": csrf_from(page), "kind": "email", "value": "Made.Up@example.net",
        "reason": "Typo in the domain when entered", "action": "correct"})
    assert response.status_code == 302
    db.session.expire_all()
    identifier = db.session.get(Identifier, identifier.id)
    assert identifier.normalized == "made.up@example.net"
    assert "Typo in the domain" in _timeline(case)[-1] and "made.up@exmaple.net" in _timeline(case)[-1]
    [event] = audit_events("identifier.corrected", case.reference)
    assert "exmaple" in event.before and "Typo in the domain" in event.after
    # Matching follows the correction: the other case now shares the identifier.
    page = client.get(f"/cases/{case.reference}").text
    assert f'href="/cases/{other.reference}"' in page


def test_a_correction_needs_a_reason_and_a_worker(make_user):
    agent = make_user("agent")
    case = open_case(agent)
    [identifier] = add_target(agent, case, ("username", "made_up_one")).identifiers
    with pytest.raises(InvalidInput, match="Say why"):
        corrections.correct_identifier(Identity.for_user(agent), case, identifier,
                                       kind="username", value="made_up_two", reason=" ")
    with pytest.raises(PermissionDenied):
        corrections.remove_identifier(Identity.for_user(make_user("compliance")), case,
                                      identifier, "Made-up reason")
    assert db.session.get(Identifier, identifier.id).normalized == "made_up_one"


def test_removing_an_identifier_and_a_subject(make_user, client, sign_in):
    agent = make_user("agent")
    case = open_case(agent)
    keep = add_target(agent, case, ("username", "made_up_keep"), label="made_up_keep")
    wrong = add_target(agent, case, ("username", "made_up_wrong"), ("phone", "+12025550123"),
                       label="made_up_wrong")
    actor = Identity.for_user(agent)
    corrections.remove_identifier(actor, case, wrong.identifiers[1], "Not this person's phone")
    assert [i.kind for i in wrong.identifiers] == ["username"]
    wrong_id, keep_id = wrong.id, keep.id
    sign_in(agent)
    page = client.get(f"/cases/{case.reference}").text
    client.post(f"/cases/{case.reference}/subjects/{wrong_id}", data={
        "csrf_token": csrf_from(page), "label": "", "role": "account",
        "reason": "A different account with a similar name", "action": "remove"})
    db.session.expire_all()
    assert db.session.get(Subject, wrong_id) is None
    assert db.session.get(Subject, keep_id) is not None
    assert db.session.scalars(select(Identifier).where(
        Identifier.normalized == "made_up_wrong")).all() == []
    assert "A different account with a similar name" in _timeline(case)[-1]
    [event] = audit_events("subject.removed", case.reference)
    assert "username:made_up_wrong" in event.before


def test_a_subject_is_renamed(make_user):
    agent = make_user("agent")
    case = open_case(agent)
    subject = services.add_subject(Identity.for_user(agent), case, label="made_up_nme")
    corrections.correct_subject(Identity.for_user(agent), case, subject, label="made_up_name",
                                role="suspect", reason="Spelling")
    assert (subject.label, subject.role) == ("made_up_name", "suspect")
    assert audit_events("subject.corrected", case.reference)
