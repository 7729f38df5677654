"""Compliance sees who looked at what: a sensitive staff page (a case, a request, a hold, an
evidence item) records one structured "viewed" audit event per page load, written last so the
audit chain head is taken only for the insert and the commit, after every read of the page."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from referrals.audit import services
from referrals.audit.models import AuditEvent
from referrals.core.identity import Identity
from referrals.evidence.services import add_evidence
from referrals.extensions import db
from referrals.holds.services import place_internal_hold
from tests.cases.helpers import open_case
from tests.requests.helpers import make_agency, submit
from tests.statements import page_statements


def _views(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.seq)))


@pytest.fixture
def sensitive(make_user):
    """A case with an evidence item and an internal hold, and a request, by made-up people."""
    agent = make_user("agent")
    case = open_case(agent, category="other")
    item = add_evidence(Identity.for_user(agent), case, io.BytesIO(b"synthetic view item\n"),
                        original_name="view.txt")
    hold = place_internal_hold(Identity.for_user(make_user("supervisor")), case, [], ["content"],
                               None, None, "Made-up litigation hold")
    agency = make_agency("Made-up Viewing Police", domains=["viewing.police.example"])
    officer = make_user("officer", agency=agency, email="det.view@viewing.police.example")
    request = submit(officer, official_email="det.view@viewing.police.example")
    return {"case": case, "item": item, "hold": hold, "request": request}


def test_each_sensitive_page_load_records_one_view(client, as_role, sensitive):
    viewer = as_role("compliance")
    case, item = sensitive["case"], sensitive["item"]
    pages = [
        (f"/cases/{case.reference}", "case.viewed", case.reference, "cases.detail"),
        (f"/cases/{case.reference}/evidence/{item.id}", "evidence.page_viewed", str(item.id),
         "evidence.item"),
        (f"/requests/{sensitive['request'].reference}", "request.viewed",
         sensitive["request"].reference, "requests.detail"),
        (f"/holds/{sensitive['hold'].reference}", "hold.viewed", sensitive["hold"].reference,
         "holds.detail"),
    ]
    for url, action, object_id, endpoint in pages:
        assert client.get(url).status_code == 200
        assert client.get(url).status_code == 200
        views = _views(action)
        assert len(views) == 2, action  # once per page load, not per query or fragment
        assert (views[0].actor_id, views[0].object_id) == (viewer.id, object_id)
        assert json.loads(views[0].after) == {"page": endpoint}
        assert views[0].ip is not None and views[0].request_id is not None
    assert _views("request.viewed")[0].agency_id == sensitive["request"].agency_id


def test_a_page_that_is_not_found_records_no_view(client, as_role, sensitive):
    as_role("agent")
    assert client.get("/cases/CASE-2000-999999").status_code == 404
    assert client.get(f"/cases/{sensitive['case'].reference}/evidence/999999").status_code == 404
    assert _views("case.viewed") == [] and _views("evidence.page_viewed") == []


def test_the_chain_head_is_taken_after_every_read_of_the_page(client, as_role, sensitive, app):
    """The view event is the page's last statement: the head (a row lock on PostgreSQL) is held
    from there to the commit, not while the page's queries run."""
    as_role("agent")
    statements = [statement.upper() for statement in page_statements(
        client, f"/cases/{sensitive['case'].reference}", control=True)]
    head = next(i for i, s in enumerate(statements) if s.startswith("UPDATE AUDIT_CHAIN_HEAD"))
    page_reads = [i for i, s in enumerate(statements) if s.startswith("SELECT")
                  and "AUDIT_CHAIN_HEAD" not in s and "SESSION" not in s and "USERS" not in s]
    assert page_reads and max(page_reads) < head


def test_the_view_is_written_after_the_page_transaction_ended(client, as_role, sensitive, app):
    """The view event is a short transaction of its own, after the page's transaction has
    ended (committed): the page's reads never run while the chain head is taken."""
    as_role("agent")
    statements = [statement.upper() for statement in page_statements(
        client, f"/cases/{sensitive['case'].reference}", control=True)]
    head = next(i for i, s in enumerate(statements) if s.startswith("UPDATE AUDIT_CHAIN_HEAD"))
    ended = [i for i, s in enumerate(statements[:head])
             if s.startswith(("COMMIT", "RELEASE SAVEPOINT"))]
    reads = [i for i, s in enumerate(statements[:head]) if s.startswith("SELECT")
             and "AUDIT_CHAIN_HEAD" not in s]
    assert ended and reads and max(reads) < ended[-1] < head


def test_a_page_whose_view_cannot_be_logged_is_not_shown(client, as_role, sensitive,
                                                        monkeypatch):
    as_role("agent")

    def broken(*args, **kwargs):
        raise RuntimeError("made-up failure of the audit log")

    monkeypatch.setattr(services, "record_event", broken)
    response = client.get(f"/cases/{sensitive['case'].reference}")
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert sensitive["case"].title not in body and "audit log" in body
    monkeypatch.undo()
    assert _views("case.viewed") == []
