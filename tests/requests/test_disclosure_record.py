"""The disclosure record of a released production: one row per item that left (with the hash
and data category it had), the people it is about, the recipient as it was named then,
custody "disclosed" on every item, and the record on the staff page and the agency's API."""

from __future__ import annotations

import html
from datetime import date

import pytest
from sqlalchemy import select

from referrals.connector.demo import DemoConnector
from referrals.core.errors import DomainError, PermissionDenied
from referrals.disclosures.models import DisclosedItem, Disclosure
from referrals.evidence.models import CustodyEvent, EvidenceItem
from referrals.extensions import db
from referrals.requests import services
from referrals.requests.collection import collect_for_request
from tests.connector.fixtures import use_connector  # noqa: F401  (fixture)
from tests.requests.helpers import after, as_identity, audit_events, bearer, move, submit


@pytest.fixture(autouse=True)
def _demo_platform(use_connector):  # noqa: F811
    use_connector(DemoConnector())


@pytest.fixture
def ready(officer_a, agent, supervisor):
    """A warrant for two accounts (one withheld), prepared and collected by ``agent``,
    approved by ``supervisor``, ready for review."""
    request = submit(officer_a, request_type="search_warrant",
                     data_categories=["subscriber", "content"],
                     date_from=date(2025, 3, 1), date_to=date(2025, 5, 31),
                     targets=[{"kind": "username", "value": "@Made_Up_One"},
                              {"kind": "platform_user_id", "value": "u-0002"}])
    move(agent, request, "verifying", "legal_review")
    services.decide_targets(as_identity(agent), request, {
        t.id: (("withhold", "Made-up reason") if t.normalized == "u-0002" else ("produce", ""))
        for t in request.targets})
    services.approve_request(as_identity(supervisor), request)
    move(agent, request, "collecting")
    collect_for_request(as_identity(agent), request)
    move(agent, request, "ready_for_review")
    return request


def _collected(request) -> list[EvidenceItem]:
    return list(db.session.scalars(select(EvidenceItem).where(EvidenceItem.request_id == request.id)
                                   .order_by(EvidenceItem.id)))


def test_each_released_item_is_a_row_with_its_hash_and_category(ready, agent, supervisor, agency_a):
    items = _collected(ready)
    assert items and {i.data_category for i in items} == {"subscriber", "content"}

    disclosure = services.record_disclosure(as_identity(supervisor), ready)

    rows = db.session.scalars(select(DisclosedItem).where(
        DisclosedItem.disclosure_id == disclosure.id).order_by(DisclosedItem.evidence_id)).all()
    assert [(r.evidence_id, r.sha256, r.data_category) for r in rows] == [
        (i.id, i.sha256, i.data_category) for i in items]
    assert disclosure.kind == "production"
    assert (disclosure.recipient_name, disclosure.recipient_country) == (agency_a.name, "US")
    assert [(s.kind, s.identifier) for s in disclosure.subjects] == [("username", "made_up_one")]
    assert disclosure.data_categories == ["subscriber", "content"]
    assert (disclosure.prepared_by_id, disclosure.approved_by_id, disclosure.disclosed_by_id) == (
        agent.id, supervisor.id, supervisor.id)


def test_release_records_custody_disclosed_on_every_item_and_one_audit_event(ready, supervisor):
    disclosure = services.record_disclosure(as_identity(supervisor), ready)
    for item in _collected(ready):
        actions = db.session.scalars(select(CustodyEvent.action).where(
            CustodyEvent.evidence_id == item.id).order_by(CustodyEvent.id)).all()
        assert actions == ["collected", "disclosed"]
    [event] = audit_events("disclosure.released", object_id=disclosure.id)
    record = after(event)
    assert record["recipient"] == {"agency_id": ready.agency_id,
                                   "name": "Made-up Metro Police A", "country": "US"}
    assert len(record["items"]) == len(_collected(ready))
    assert after(audit_events("request.disclosed", ready.reference)[0])["items"] == len(record["items"])


def test_the_recipient_is_kept_as_it_was_when_the_agency_changes_later(ready, supervisor, agency_a):
    disclosure = services.record_disclosure(as_identity(supervisor), ready)
    agency_a.name, agency_a.country = "Made-up Renamed Police", "GB"
    db.session.flush()
    db.session.expire_all()
    stored = db.session.get(Disclosure, disclosure.id)
    assert (stored.recipient_name, stored.recipient_country) == ("Made-up Metro Police A", "US")


def test_releasing_without_an_approver_is_refused_and_writes_nothing(ready, make_user):
    ready.approved_by_id = None  # an approval lost: nothing may leave
    db.session.flush()
    with pytest.raises(DomainError, match="Nobody has approved"):
        services.record_disclosure(as_identity(make_user("supervisor")), ready)
    assert db.session.scalars(select(Disclosure)).all() == []
    assert ready.status == "ready_for_review"


def test_the_collector_and_the_preparer_still_cannot_release(ready, agent, make_user):
    agent_supervisor = make_user("supervisor")
    # Whoever collected an item is refused, even if the request's "collected by" is someone else.
    for item in _collected(ready)[:1]:
        item.captured_by_id = agent_supervisor.id
    db.session.flush()
    with pytest.raises(PermissionDenied, match="prepared or collected"):
        services.record_disclosure(as_identity(agent_supervisor), ready)
    ready.prepared_by_id = agent_supervisor.id
    for item in _collected(ready):
        item.captured_by_id = agent.id
    db.session.flush()
    with pytest.raises(PermissionDenied, match="prepared or collected"):
        services.record_disclosure(as_identity(agent_supervisor), ready)
    assert db.session.scalars(select(Disclosure)).all() == []


def test_the_staff_page_shows_the_record_with_every_item(ready, supervisor, new_client):
    services.record_disclosure(as_identity(supervisor), ready)
    page = html.unescape(new_client(supervisor).get(f"/requests/{ready.reference}").text)
    assert "Production released" in page
    assert "Made-up Metro Police A (US)" in page
    for item in _collected(ready):
        assert item.sha256 in page.split('class="table table-dense disclosed-items"', 1)[1]
    assert "approved by" in page and "released by" in page


def test_the_api_shows_what_left_with_hashes_and_no_staff_names(
        ready, supervisor, client, officer_a, officer_token):
    secret = officer_token(officer_a)
    url = f"/api/v1/requests/{ready.reference}"
    assert client.get(url, headers=bearer(secret)).json["disclosures"] == []

    services.record_disclosure(as_identity(supervisor), ready)
    [record] = client.get(url, headers=bearer(secret)).json["disclosures"]
    items = _collected(ready)
    assert sorted(i["sha256"] for i in record["items"]) == sorted(i.sha256 for i in items)
    assert {i["data_category"] for i in record["items"]} == {"subscriber", "content"}
    assert record["recipient_name"] == "Made-up Metro Police A"
    assert record["subjects"] == [{"kind": "username", "identifier": "made_up_one"}]
    assert record["kind"] == "production" and record["data_categories"] == ["subscriber", "content"]
    assert supervisor.full_name not in str(record) and "approved_by" not in record
