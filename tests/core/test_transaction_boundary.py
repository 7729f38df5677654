"""One transaction rule: a request commits only when its view returns normally and nothing
was refused. A domain refusal shown as a message, and any exception, roll back everything
the request wrote, including what the refusing service had already flushed."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

from sqlalchemy import func, select

from referrals.accounts import services as account_services
from referrals.accounts.models import User
from referrals.audit.models import AuditEvent
from referrals.audit.services import record_event
from referrals.cases import services as case_services
from referrals.cases.models import CaseEvent
from referrals.core.clock import now
from referrals.core.errors import DomainError
from referrals.core.identity import system_identity
from referrals.core.transaction import finish, refuse, unit_of_work
from referrals.extensions import db
from tests import factories
from tests.cases.helpers import open_case
from tests.conftest import csrf_from
from tests.requests.helpers import field_errors, flashes

ROOT = Path(__file__).resolve().parents[2]


def _audited(action: str) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == action))


def _notes(case) -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(CaseEvent.body).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == "note")))


def _post_note(client, case, body="A made-up note"):
    page = client.get(f"/cases/{case.reference}")
    assert page.status_code == 200
    return client.post(f"/cases/{case.reference}/notes",
                       data={"body": body, "csrf_token": csrf_from(page.text)})


def _note_then_raise(error: Exception):
    """A stand-in for ``add_note`` that writes (a title change, a note, an audit event),
    flushes, and then raises ``error``."""

    def add_note(actor, case, body):
        case.title = "Half-made title"
        db.session.add(CaseEvent(case_id=case.id, kind="note", body=body, actor_label="test",
                                 occurred_at=now()))
        record_event(actor, "test.half_made", object_type="case", object_id=case.reference)
        raise error

    return add_note


def test_a_refusal_shown_under_a_field_after_a_flushed_write_leaves_nothing_written(
        client, as_role, monkeypatch):
    """Regression: the account page turned a refusal into a form error without rolling
    back, so whatever the service had flushed before refusing was committed."""
    as_role("admin")
    target = factories.make_user("agent", email="made.up.target@test.example")

    def change_then_refuse(actor, user, **kwargs):
        user.email = "half.made@test.example"
        record_event(actor, "test.half_made", object_type="user", object_id=user.id)
        raise DomainError("Refused after writing.", field="roles")

    monkeypatch.setattr(account_services, "change_access", change_then_refuse)
    page = client.get(f"/admin/accounts/{target.id}")
    response = client.post(f"/admin/accounts/{target.id}",
                           data={"roles": ["agent"], "csrf_token": csrf_from(page.text)})

    assert response.status_code == 422
    assert "Refused after writing." in field_errors(unescape(response.text))
    # Rolled back at once: the page shown with the refusal does not show the half-made change.
    assert "half.made@test.example" not in response.text
    db.session.expire_all()
    assert db.session.get(User, target.id).email == "made.up.target@test.example"
    assert _audited("test.half_made") == 0


def test_a_refusal_flashed_after_a_flushed_write_leaves_nothing_written(
        client, as_role, monkeypatch):
    agent = as_role("agent")
    case = open_case(agent)

    monkeypatch.setattr(case_services, "add_note",
                        _note_then_raise(DomainError("This note is refused.")))
    response = _post_note(client, case)

    assert response.status_code == 302
    page = unescape(client.get(f"/cases/{case.reference}").text)
    assert ("error", "This note is refused.") in flashes(page)
    assert "Half-made title" not in page
    assert _notes(case) == []
    assert _audited("test.half_made") == 0


def test_an_unexpected_exception_rolls_back_and_shows_a_plain_page(client, as_role, monkeypatch):
    agent = as_role("agent")
    case = open_case(agent)

    monkeypatch.setattr(case_services, "add_note",
                        _note_then_raise(RuntimeError("a bug, not a refusal")))
    response = _post_note(client, case)

    assert response.status_code == 500
    assert "Nothing was changed" in response.text
    assert "RuntimeError" not in response.text and "Traceback" not in response.text
    assert _notes(case) == []
    assert _audited("test.half_made") == 0


def test_a_normal_return_commits(client, as_role):
    agent = as_role("agent")
    case = open_case(agent)
    response = _post_note(client, case, "A made-up note that stays")
    assert response.status_code == 302
    assert _notes(case) == ["A made-up note that stays"]
    assert _audited("case.note_added") >= 1


def test_a_refused_unit_of_work_commits_nothing_written_before_or_after_the_refusal(app):
    actor = system_identity("test")
    with app.app_context():
        with unit_of_work():
            record_event(actor, "test.before_refusal", object_type="test", object_id="1")
            refuse()
            record_event(actor, "test.after_refusal", object_type="test", object_id="1")
        assert _audited("test.before_refusal") == 0
        assert _audited("test.after_refusal") == 0
        # The mark belongs to that unit only: the next one commits.
        with unit_of_work():
            record_event(actor, "test.next_unit", object_type="test", object_id="1")
        assert _audited("test.next_unit") == 1


def test_finish_rolls_back_a_unit_that_did_not_end_normally(app):
    with app.app_context():
        record_event(system_identity("test"), "test.abandoned", object_type="test", object_id="1")
        finish(ended_normally=False)
        assert _audited("test.abandoned") == 0


def test_no_page_rolls_back_or_catches_a_refusal_by_itself():
    """Pages act through ``core.acting``; the boundary alone commits or rolls back."""
    offenders = []
    for path in sorted((ROOT / "referrals").rglob("*views.py")):
        text = path.read_text()
        for pattern in (r"\brollback\(", r"except\s+\(?\s*(DomainError|InvalidInput|HoldRefused)",
                        r"\bcommit\("):
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(ROOT)}: {pattern}")
    assert offenders == []

