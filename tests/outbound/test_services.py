"""A referral's life: drafted, approved by a second person, sent, acknowledged; and the refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.cases import services as cases
from referrals.core.clock import now
from referrals.core.errors import DomainError, InvalidInput, PermissionDenied
from referrals.core.identity import Identity
from referrals.core.states import TransitionRefused
from referrals.disclosures.models import Disclosure
from referrals.evidence.models import CustodyEvent
from referrals.extensions import db
from referrals.outbound import services
from referrals.packages.models import EvidencePackage
from tests.outbound.helpers import draft, referral_case


@pytest.fixture
def people(make_user):
    return {"drafter": make_user("supervisor"), "approver": make_user("supervisor"),
            "agent": make_user("agent")}


def _audit(action):
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_referral_travels_from_draft_to_acknowledged(people, agency):
    case, subject, items = referral_case(people["drafter"])
    drafter, approver = (Identity.for_user(people[k]) for k in ("drafter", "approver"))
    referral = draft(people["drafter"], case, agency, subject, items)
    assert referral.status == "draft" and referral.reference.startswith("RFL-")

    services.submit_referral(drafter, case, referral)
    services.approve_referral(approver, case, referral)
    services.send_referral(approver, case, referral, method="hand",
                           delivered_by="Made-up Courier Ltd", channel="courier")
    assert referral.status == "sent"
    disclosure = db.session.get(Disclosure, referral.disclosure_id)
    assert disclosure.kind == "referral" and disclosure.case_id == case.id
    assert disclosure.agency_id == agency.id
    assert [i.sha256 for i in disclosure.items] == [items[0].sha256]
    assert [(s.kind, s.identifier) for s in disclosure.subjects] == [
        ("email", "made.up.person@example.net")]
    assert "2702(b)(8)" in disclosure.legal_basis
    assert db.session.scalar(select(CustodyEvent).where(
        CustodyEvent.evidence_id == items[0].id, CustodyEvent.action == "disclosed"))

    services.acknowledge_referral(drafter, case, referral, " AG-2026-0042 ")
    assert referral.status == "acknowledged" and referral.agency_reference == "AG-2026-0042"
    for action in ("drafted", "submitted", "approved", "sent", "acknowledged"):
        assert [e.object_id for e in _audit(f"referral.{action}")] == [referral.reference]


def test_the_drafter_cannot_approve(people, agency):
    case, subject, items = referral_case(people["drafter"])
    drafter = Identity.for_user(people["drafter"])
    referral = draft(people["drafter"], case, agency, subject, items)
    services.submit_referral(drafter, case, referral)
    with pytest.raises(DomainError, match="another supervisor must approve"):
        services.approve_referral(drafter, case, referral)
    assert referral.status == "pending_approval" and referral.approved_by_id is None


def test_an_agent_cannot_approve(people, agency):
    case, subject, items = referral_case(people["drafter"])
    referral = draft(people["drafter"], case, agency, subject, items)
    services.submit_referral(Identity.for_user(people["drafter"]), case, referral)
    with pytest.raises(DomainError, match="Only a supervisor"):
        services.approve_referral(Identity.for_user(people["agent"]), case, referral)


def test_an_unapproved_referral_cannot_be_sent(people, agency):
    case, subject, items = referral_case(people["drafter"])
    approver = Identity.for_user(people["approver"])
    referral = draft(people["drafter"], case, agency, subject, items)
    with pytest.raises(DomainError, match="cannot be sent"):
        services.send_referral(approver, case, referral, method="hand",
                               delivered_by="Someone", channel="in_person")
    services.submit_referral(Identity.for_user(people["drafter"]), case, referral)
    with pytest.raises(DomainError, match="cannot be sent"):
        services.send_referral(approver, case, referral, method="hand",
                               delivered_by="Someone", channel="in_person")
    assert referral.disclosure_id is None and db.session.scalar(select(Disclosure)) is None


def test_the_drafter_cannot_send_what_they_drafted(people, agency):
    case, subject, items = referral_case(people["drafter"])
    drafter = Identity.for_user(people["drafter"])
    referral = draft(people["drafter"], case, agency, subject, items)
    services.submit_referral(drafter, case, referral)
    services.approve_referral(Identity.for_user(people["approver"]), case, referral)
    with pytest.raises(PermissionDenied, match="another supervisor must review"):
        services.send_referral(drafter, case, referral, method="hand",
                               delivered_by="Someone", channel="in_person")


def test_a_case_is_not_marked_referred_without_a_sent_referral(people, agency):
    case, subject, items = referral_case(people["drafter"])
    drafter, approver = (Identity.for_user(people[k]) for k in ("drafter", "approver"))
    cases.change_status(drafter, case, "investigating")
    referral = draft(people["drafter"], case, agency, subject, items)
    services.submit_referral(drafter, case, referral)
    services.approve_referral(approver, case, referral)
    with pytest.raises(DomainError, match="only once a referral has been sent"):
        cases.change_status(drafter, case, "referred")
    assert case.status == "investigating"
    services.send_referral(approver, case, referral, method="hand",
                           delivered_by="Someone", channel="in_person")
    cases.change_status(drafter, case, "referred")
    assert case.status == "referred"


def test_a_draft_names_what_is_missing(people, agency):
    case, subject, items = referral_case(people["drafter"])
    with pytest.raises(InvalidInput) as refused:
        draft(people["drafter"], case, agency, subject, items, summary="  ")
    assert refused.value.field == "summary"
    with pytest.raises(InvalidInput) as refused:
        draft(people["drafter"], case, agency, subject, items, legal_basis="because")
    assert refused.value.field == "legal_basis"
    other, other_subject, other_items = referral_case(people["drafter"])
    with pytest.raises(InvalidInput) as refused:
        draft(people["drafter"], case, agency, subject, other_items)
    assert refused.value.field == "evidence_ids"


def test_withdrawing_needs_a_reason_and_ends_it(people, agency):
    case, subject, items = referral_case(people["drafter"])
    drafter = Identity.for_user(people["drafter"])
    referral = draft(people["drafter"], case, agency, subject, items)
    with pytest.raises(InvalidInput):
        services.withdraw_referral(drafter, case, referral, " ")
    services.withdraw_referral(drafter, case, referral, "Made-up duplicate")
    assert referral.status == "withdrawn"
    with pytest.raises(TransitionRefused):
        services.submit_referral(drafter, case, referral)


def _ready_package(case, purpose="referral"):
    at = now()
    package = EvidencePackage(
        case_id=case.id, purpose=purpose, label=f"{case.reference}-P1", recipients=[],
        recipient_kind="one_time", status="ready", failure="", items=[],
        expires_at=at + timedelta(days=7), download_limit=5, downloads_used=0, created_at=at,
        ready_at=at, sha256="ab" * 32, size=5)
    db.session.add(package)
    db.session.flush()
    return package


def test_a_hand_delivery_names_the_encrypted_package_it_carried(people, agency):
    case, subject, items = referral_case(people["drafter"])
    drafter, approver = (Identity.for_user(people[k]) for k in ("drafter", "approver"))
    package = _ready_package(case)
    other_case, _, _ = referral_case(people["drafter"])
    foreign = _ready_package(other_case)
    referral = draft(people["drafter"], case, agency, subject, items)
    services.submit_referral(drafter, case, referral)
    services.approve_referral(approver, case, referral)
    with pytest.raises(InvalidInput) as refused:
        services.send_referral(approver, case, referral, method="hand", delivered_by="Someone",
                               channel="in_person", package_id=foreign.id)
    assert refused.value.field == "package_id"
    services.send_referral(approver, case, referral, method="hand", delivered_by="Someone",
                           channel="in_person", package_id=package.id)
    assert referral.package_id == package.id
    assert db.session.get(Disclosure, referral.disclosure_id).package_sha256 == "ab" * 32
