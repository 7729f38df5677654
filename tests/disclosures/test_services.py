"""The disclosure record for any kind of disclosure (a referral from a case here), the
two-person rule every disclosure obeys, and the "packaged" custody service packages will call."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.core.clock import now
from referrals.core.errors import DomainError, InvalidInput, PermissionDenied
from referrals.core.identity import Identity
from referrals.core.two_person import RELEASE, Participants, second_person_refusal
from referrals.disclosures import services as disclosures
from referrals.disclosures.models import Disclosure
from referrals.evidence.models import CustodyEvent
from referrals.evidence.services import add_evidence
from referrals.extensions import db
from tests.cases.helpers import open_case


@pytest.fixture
def people(make_user):
    return {"collector": make_user("agent"), "approver": make_user("supervisor"),
            "releaser": make_user("supervisor")}


@pytest.fixture
def evidence(people):
    case = open_case(people["collector"], category="other")
    actor = Identity.for_user(people["collector"])
    items = [add_evidence(actor, case, io.BytesIO(f"synthetic item {n}\n".encode()),
                          original_name=f"item-{n}.txt", data_category=category)
             for n, category in enumerate(("content", "subscriber"))]
    return case, items


def _refer(people, evidence, agency, *, releaser="releaser", **overrides):
    case, items = evidence
    arguments = dict(kind="referral", agency=agency, case_id=case.id,
                     legal_basis="Made-up voluntary referral under 18 U.S.C. 2702(b)(7)",
                     data_categories=["content", "subscriber"],
                     subjects=[disclosures.Subject("username", "made_up_one")], items=items,
                     prepared_by_id=people["collector"].id, approved_by_id=people["approver"].id)
    arguments.update(overrides)
    return disclosures.record_disclosure(Identity.for_user(people[releaser]), **arguments)


def _custody(item) -> list[str]:
    return list(db.session.scalars(select(CustodyEvent.action).where(
        CustodyEvent.evidence_id == item.id).order_by(CustodyEvent.id)))


def test_a_referral_from_a_case_is_one_record_with_its_items(people, evidence, agency):
    case, items = evidence
    record = _refer(people, evidence, agency)
    assert (record.kind, record.case_id, record.request_id) == ("referral", case.id, None)
    assert (record.recipient_name, record.recipient_country) == (agency.name, agency.country)
    assert [(i.evidence_id, i.sha256, i.data_category) for i in record.items] == [
        (i.id, i.sha256, i.data_category) for i in items]
    assert all(_custody(i) == ["collected", "disclosed"] for i in items)


def test_nothing_leaves_without_an_approver(people, evidence, agency):
    with pytest.raises(DomainError, match="Nobody has approved"):
        _refer(people, evidence, agency, approved_by_id=None)
    assert db.session.scalars(select(Disclosure)).all() == []
    assert all(_custody(i) == ["collected"] for i in evidence[1])


@pytest.mark.parametrize("who", ["collector", "preparer"])
def test_whoever_prepared_or_collected_cannot_release(people, evidence, agency, make_user, who):
    if who == "preparer":
        preparer = make_user("supervisor")
        people["releaser"] = preparer
        overrides = {"prepared_by_id": preparer.id}
    else:
        people["releaser"] = people["collector"]
        overrides = {"prepared_by_id": people["approver"].id}
    with pytest.raises(PermissionDenied, match="prepared or collected"):
        _refer(people, evidence, agency, **overrides)
    assert db.session.scalars(select(Disclosure)).all() == []


def test_the_refusal_is_the_shared_two_person_rule(people, evidence, agency):
    """The record refuses with the words core.two_person gives the page, whoever calls it."""
    _, items = evidence
    participants = Participants.of(prepared_by=(people["approver"].id,),
                                   collected_by=disclosures.collectors(items))
    collector = Identity.for_user(people["collector"])
    refusal = second_person_refusal(collector, RELEASE, participants)
    assert refusal is not None
    people["releaser"] = people["collector"]
    with pytest.raises(PermissionDenied) as refused:
        _refer(people, evidence, agency, prepared_by_id=people["approver"].id)
    assert refused.value.message == refusal


def test_plain_refusals_for_bad_records(people, evidence, agency):
    with pytest.raises(InvalidInput, match="no kind of disclosure"):
        _refer(people, evidence, agency, kind="gift")
    with pytest.raises(InvalidInput, match="Unknown data categories: everything"):
        _refer(people, evidence, agency, data_categories=["everything"])
    with pytest.raises(InvalidInput, match="legal basis"):
        _refer(people, evidence, agency, legal_basis="  ")
    evidence[1][0].destroyed_at = now()
    with pytest.raises(DomainError, match="destroyed under the retention policy"):
        _refer(people, evidence, agency)
    assert db.session.scalars(select(Disclosure)).all() == []


def test_packaging_records_custody_on_each_item_and_one_audit_event(people, evidence):
    _, items = evidence
    digest = "ab" * 32
    disclosures.record_packaged(Identity.for_user(people["releaser"]), items,
                                package_sha256=digest, purpose="Package for a made-up referral")
    for item in items:
        assert _custody(item) == ["collected", "packaged"]
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.packaged"))
    assert event.object_id == digest and str(items[0].id) in event.after

    with pytest.raises(InvalidInput, match="SHA-256"):
        disclosures.record_packaged(Identity.for_user(people["releaser"]), items,
                                    package_sha256="short", purpose="x")
