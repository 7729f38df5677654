"""Items collected for a disclosure request: purged once the request is over and untouched for
the retention period, unless held; the request and its disclosure record stay."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.audit.services import verify_chain
from referrals.core.transaction import commit
from referrals.evidence.models import CustodyEvent, EvidenceItem
from referrals.evidence.services import add_collected_evidence
from referrals.extensions import db
from referrals.requests.models import DisclosureRequest
from referrals.retention.services import purge_due
from tests.requests.fixtures import agency_a, officer_a  # noqa: F401 (fixtures)
from tests.requests.helpers import submit
from tests.retention.helpers import AGENT, make_hold

T0 = datetime(2024, 1, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def days(app):
    return app.config["REFERRALS_SETTINGS"].retention_days


def collected_request(officer, status: str, data: bytes = b"synthetic subscriber record\n"):
    """A request about @made_up_target_one with one collected item, put in ``status``."""
    request = submit(officer, targets=[{"kind": "username", "value": "@made_up_target_one"}])
    item = add_collected_evidence(AGENT, io.BytesIO(data), request=request,
                                  original_name="subscriber.json", source_system="demo-platform",
                                  data_category="subscriber", purpose="Collected for the request (test)")
    request.status, request.is_open, request.updated_at = status, status not in (
        "closed", "rejected", "redirected_mlat", "withdrawn"), T0
    db.session.flush()
    return request, item


def reload(item) -> EvidenceItem:
    db.session.expire_all()
    return db.session.get(EvidenceItem, item.id)


def test_a_closed_requests_collection_is_destroyed_after_retention(officer_a, frozen, days,
                                                                   store):
    frozen(T0)
    request, item = collected_request(officer_a, "closed")
    name = item.blob.storage_name

    frozen(T0 + timedelta(days=days) - timedelta(seconds=1))
    assert purge_due().collections == {}
    frozen(T0 + timedelta(days=days))
    report = purge_due()
    commit()
    assert report.collections == {request.reference: 1}
    item = reload(item)
    assert item.destroyed_at is not None and item.original_name == "(destroyed)"
    assert len(item.sha256) == 64  # the record of what was collected stays
    assert not store.exists(name)
    assert [c.action for c in db.session.scalars(select(CustodyEvent).where(
        CustodyEvent.evidence_id == item.id).order_by(CustodyEvent.id))][-1] == "destroyed"
    assert db.session.get(DisclosureRequest, request.id).status == "closed"  # the request stays
    [event] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "evidence.destroyed", AuditEvent.object_id == str(item.id))).all()
    assert json.loads(event.after)["request"] == request.reference
    assert verify_chain().ok


def test_an_open_request_keeps_its_collection_however_old(officer_a, frozen, days):
    frozen(T0)
    _, item = collected_request(officer_a, "ready_for_review")
    frozen(T0 + timedelta(days=days * 3))
    assert purge_due().collections == {}
    assert reload(item).destroyed_at is None


def test_activity_after_closing_starts_the_period_again(officer_a, frozen, days):
    frozen(T0)
    request, item = collected_request(officer_a, "closed")
    request.updated_at = T0 + timedelta(days=100)  # a message after it closed
    db.session.flush()
    frozen(T0 + timedelta(days=days))
    assert purge_due().collections == {}
    frozen(T0 + timedelta(days=days + 100))
    assert purge_due().collections == {request.reference: 1}


def test_a_live_hold_on_the_account_keeps_the_collection(officer_a, frozen, days):
    frozen(T0)
    request, item = collected_request(officer_a, "closed")
    make_hold(identifiers=(("username", "made_up_target_one"),))
    frozen(T0 + timedelta(days=days + 1))
    report = purge_due()
    assert report.collections == {} and report.held_collected_items == 1
    assert reload(item).destroyed_at is None


def test_the_cli_names_the_collection_it_purges(app, officer_a, frozen, days):
    frozen(T0)
    request, _ = collected_request(officer_a, "withdrawn")
    frozen(T0 + timedelta(days=days))
    result = app.test_cli_runner().invoke(args=["retention", "run", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"would purge 1 item(s) collected for {request.reference}" in result.output
