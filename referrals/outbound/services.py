"""Referral operations: draft, submit for approval, return, approve, send, acknowledge,
withdraw. Each takes the acting identity, checks the policy and the declared move
(``rules.REFERRAL_STATES``), flushes, writes the case timeline and the audit event, and never
commits. Sending records the disclosure (``disclosures.services.record_disclosure``).

A case is marked "referred" only with a referral sent (``cases.services`` asks
``case_has_sent_referral`` through its status conditions).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, select

from referrals.agencies.models import Agency
from referrals.audit.services import record_event
from referrals.cases.models import Case, Subject
from referrals.cases.rules import CATEGORIES
from referrals.cases.services import add_case_event, add_status_condition
from referrals.core.clock import as_utc, now
from referrals.core.errors import DomainError, InvalidInput, NotFound
from referrals.core.identity import Identity
from referrals.core.two_person import (APPROVE, RELEASE, Participants, require_second_person,
                                      second_person_refusal)
from referrals.disclosures.services import Subject as DisclosedSubject
from referrals.disclosures.services import collectors, record_disclosure
from referrals.evidence.models import EvidenceItem
from referrals.extensions import db
from referrals.ncmec.models import NcmecReport
from referrals.outbound import rules
from referrals.outbound.models import Referral
from referrals.outbound.policies import referral_policy
from referrals.packages.models import EvidencePackage

NOT_REFERRED = ("A case is marked referred only once a referral has been sent: draft one on "
                "the case page, have it approved and record how it was sent.")


def referral_agencies() -> list[Agency]:
    """The agencies a referral may go to: the registry, less suspended ones."""
    return list(db.session.scalars(select(Agency).where(Agency.status != "suspended")
                                   .order_by(Agency.name)))


_REFERRALS_FOR_CASE = (select(Referral).where(Referral.case_id == bindparam("case_id"))
                       .order_by(Referral.id.desc()))


def referrals_for_case(case: Case) -> list[Referral]:
    # The statement is built once: on the case page, building it cost more than running it.
    return list(db.session.scalars(_REFERRALS_FOR_CASE, {"case_id": case.id}))


def get_referral(case: Case, referral_id: int) -> Referral:
    referral = db.session.scalar(select(Referral).where(Referral.id == referral_id,
                                                        Referral.case_id == case.id))
    if referral is None:
        raise NotFound(f"There is no referral {referral_id} on {case.reference}.")
    return referral


@add_status_condition("referred")
def case_has_sent_referral(case: Case) -> str | None:
    sent = db.session.scalar(select(Referral.id).where(
        Referral.case_id == case.id, Referral.status.in_(rules.SENT_STATUSES)).limit(1))
    return None if sent is not None else NOT_REFERRED


def subjects_of(referral: Referral) -> list[Subject]:
    ids = [int(i) for i in referral.subject_ids or []]
    if not ids:
        return []
    return list(db.session.scalars(select(Subject).where(
        Subject.case_id == referral.case_id, Subject.id.in_(ids)).order_by(Subject.id)))


def items_of(referral: Referral) -> list[EvidenceItem]:
    ids = [int(i) for i in referral.evidence_ids or []]
    if not ids:
        return []
    return list(db.session.scalars(select(EvidenceItem).where(
        EvidenceItem.case_id == referral.case_id, EvidenceItem.id.in_(ids))
        .order_by(EvidenceItem.captured_at, EvidenceItem.id)))


def case_items(case: Case) -> list[EvidenceItem]:
    return list(db.session.scalars(select(EvidenceItem).where(
        EvidenceItem.case_id == case.id, EvidenceItem.destroyed_at.is_(None))
        .order_by(EvidenceItem.captured_at, EvidenceItem.id)))


def case_subjects(case: Case) -> list[Subject]:
    return list(db.session.scalars(select(Subject).where(Subject.case_id == case.id)
                                   .order_by(Subject.id)))


def _chosen(ids: Iterable[int], available: Iterable, field: str, what: str) -> list[int]:
    known = {x.id for x in available}
    chosen = list(dict.fromkeys(int(i) for i in ids))
    if any(i not in known for i in chosen):
        raise InvalidInput(f"Choose {what} from this case.", field=field)
    return chosen


def required_text(value: str | None, field: str, message: str, limit: int = 20000) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(message, field=field)
    if len(value) > limit:
        raise InvalidInput(f"Keep it under {limit} characters.", field=field)
    return value


def snapshot(referral: Referral) -> dict:
    return {
        "reference": referral.reference, "case_id": referral.case_id,
        "agency_id": referral.agency_id, "status": referral.status,
        "incident_type": referral.incident_type, "legal_basis": referral.legal_basis,
        "subject_ids": list(referral.subject_ids or []),
        "evidence_ids": list(referral.evidence_ids or []),
        "delivery_method": referral.delivery_method,
        "package_id": referral.package_id,
        "agency_reference": referral.agency_reference,
        "disclosure_id": referral.disclosure_id,
    }


def record_step(actor: Identity, action: str, referral: Referral, case: Case, body: str,
            before: dict | None = None) -> None:
    add_case_event(case, actor, "referral", f"{referral.reference}: {body}")
    record_event(actor, f"referral.{action}", object_type="referral",
                 object_id=referral.reference, agency_id=referral.agency_id,
                 before=before, after=snapshot(referral))


def _move(referral: Referral, target: str, by: str, reason: str | None = None) -> None:
    rules.REFERRAL_STATES.require(referral.status, target, by=by, reason=reason)
    referral.status = target


def draft_referral(actor: Identity, case: Case, *, agency_id: int | None, reason: str,
                   incident_type: str, summary: str, legal_basis: str,
                   legal_basis_note: str = "", subject_ids: Iterable[int] = (),
                   evidence_ids: Iterable[int] = ()) -> Referral:
    referral_policy.require(actor, "draft", case)
    if case.purged_at is not None:
        raise DomainError("This case was purged under the retention policy: nothing is "
                          "referred from it.")
    agency = next((a for a in referral_agencies() if a.id == agency_id), None)
    if agency is None:
        raise InvalidInput("Choose the agency to refer to.", field="agency_id")
    if incident_type not in CATEGORIES:
        raise InvalidInput("Choose the type of incident.", field="incident_type")
    if legal_basis not in rules.LEGAL_BASES:
        raise InvalidInput("Choose the legal basis of the disclosure.", field="legal_basis")
    referral = Referral(
        case_id=case.id, agency_id=agency.id, status="draft",
        reason=required_text(reason, "reason", "Say why the case is referred to this agency."),
        incident_type=incident_type,
        summary=required_text(summary, "summary", "Write the summary the agency will read."),
        legal_basis=legal_basis, legal_basis_note=(legal_basis_note or "").strip()[:2000],
        subject_ids=_chosen(subject_ids, case_subjects(case), "subject_ids", "subjects"),
        evidence_ids=_chosen(evidence_ids, case_items(case), "evidence_ids", "evidence"),
        drafted_by_id=actor.user_id, drafted_by_label=actor.label, drafted_at=now())
    db.session.add(referral)
    db.session.flush()
    record_step(actor, "drafted", referral, case, f"referral to {agency.name} drafted.")
    return referral


def submit_referral(actor: Identity, case: Case, referral: Referral) -> Referral:
    referral_policy.require(actor, "submit", referral)
    before = snapshot(referral)
    _move(referral, "pending_approval", "submit")
    referral.submitted_at = now()
    referral.returned_reason = ""
    record_step(actor, "submitted", referral, case, "submitted for approval.", before)
    return referral


def return_referral(actor: Identity, case: Case, referral: Referral, reason: str) -> Referral:
    referral_policy.require(actor, "return", referral)
    before = snapshot(referral)
    _move(referral, "draft", "return", reason)
    referral.returned_reason = reason.strip()
    record_step(actor, "returned", referral, case, f"returned to the drafter: {reason.strip()}",
            before)
    return referral


def approve_refusal(actor: Identity, referral: Referral) -> str | None:
    """Why ``actor`` may not approve ``referral`` now, in words for them; None if they may."""
    if not referral_policy.can(actor, "approve", referral):
        return "Only a supervisor approves a referral."
    if not rules.REFERRAL_STATES.allows(referral.status, "approve"):
        return (f"A referral that is {rules.STATUSES[referral.status].lower()} cannot be "
                "approved: it is submitted for approval first.")
    return second_person_refusal(actor, APPROVE, Participants.of(
        prepared_by=(referral.drafted_by_id,)))


def approve_referral(actor: Identity, case: Case, referral: Referral) -> Referral:
    refusal = approve_refusal(actor, referral)
    if refusal:
        raise DomainError(refusal)
    before = snapshot(referral)
    _move(referral, "approved", "approve")
    referral.approved_by_id = actor.user_id
    referral.approved_by_label = actor.label
    referral.approved_at = now()
    record_step(actor, "approved", referral, case, f"approved by {actor.label}.", before)
    return referral


def finished_ncmec_reports(case: Case) -> list[NcmecReport]:
    return list(db.session.scalars(select(NcmecReport).where(
        NcmecReport.case_id == case.id, NcmecReport.status == "finished")
        .order_by(NcmecReport.id.desc())))


def ready_case_packages(case: Case) -> list[EvidencePackage]:
    """The case's encrypted packages a hand delivery may carry: built for a referral, ready."""
    return list(db.session.scalars(select(EvidencePackage).where(
        EvidencePackage.case_id == case.id, EvidencePackage.purpose == "referral",
        EvidencePackage.status == "ready").order_by(EvidencePackage.id.desc())))


def send_refusal(actor: Identity, referral: Referral) -> str | None:
    """Why ``actor`` may not send ``referral`` now, in words for them; None if they may."""
    return _send_state_refusal(actor, referral) or second_person_refusal(
        actor, RELEASE, _release_participants(referral))


def _release_participants(referral: Referral) -> Participants:
    return Participants.of(prepared_by=(referral.drafted_by_id,),
                           collected_by=collectors(items_of(referral)))


def require_send(actor: Identity, referral: Referral) -> None:
    """Refuse (DomainError, or PermissionDenied for the two-person rule) a send now."""
    refusal = _send_state_refusal(actor, referral)
    if refusal:
        raise DomainError(refusal)
    require_second_person(actor, RELEASE, _release_participants(referral))


def _send_state_refusal(actor: Identity, referral: Referral) -> str | None:
    if not referral_policy.can(actor, "send", referral):
        return "Your account does not have permission to do that."
    if referral.status != "approved":
        return (f"A referral that is {rules.STATUSES[referral.status].lower()} cannot be sent: "
                "it is approved by a second person first.")
    if referral.delivery_method == "portal" and referral.package is not None \
            and referral.package.status == "building":
        return (f"It is being packaged for the portal ({referral.package.label}): it is sent "
                "when the package is ready.")
    return None


def _delivery_time(delivered_at: datetime | None) -> datetime:
    at = now()
    if delivered_at is None:
        return at
    delivered_at = as_utc(delivered_at)
    if delivered_at > at:
        raise InvalidInput("The delivery cannot be in the future.", field="delivered_at")
    return delivered_at


def _disclosed_subjects(referral: Referral) -> list[DisclosedSubject]:
    return [DisclosedSubject(kind=i.kind, identifier=i.normalized)
            for subject in subjects_of(referral) for i in subject.identifiers]


def send_referral(actor: Identity, case: Case, referral: Referral, *, method: str,
                  delivered_by: str = "", channel: str = "",
                  delivered_at: datetime | None = None, note: str = "",
                  ncmec_report_id: int | None = None, package_id: int | None = None) -> Referral:
    """Record that the approved ``referral`` left: by hand (who carried it, how, when, and the
    encrypted case package it carried, if any) or with the case's finished NCMEC report; the
    disclosure record (kind ``referral``) with it. (Through the portal, the referral is sent
    when its package is ready: ``outbound.delivery.send_through_portal``.)"""
    require_send(actor, referral)
    if method not in ("hand", "ncmec"):
        raise InvalidInput("Choose how the referral was sent.", field="method")
    package = None
    if method == "hand":
        referral.delivered_by = required_text(delivered_by, "delivered_by",
                                              "Name the person who delivered it.", limit=200)
        if channel not in rules.HAND_CHANNELS:
            raise InvalidInput("Choose how it was delivered.", field="channel")
        referral.delivery_channel = channel
        delivered_at = _delivery_time(delivered_at)
        if package_id:
            package = next((p for p in ready_case_packages(case) if p.id == package_id), None)
            if package is None:
                raise InvalidInput("Choose a ready package of this case's evidence.",
                                   field="package_id")
        how = (f"delivered by {referral.delivered_by} "
               f"({rules.HAND_CHANNELS[channel].lower()})"
               + (f" with package {package.label}" if package else ""))
    else:
        if referral.agency.kind != "ncmec":
            raise InvalidInput("Only a referral to NCMEC goes with a CyberTipline report.",
                               field="method")
        report = next((r for r in finished_ncmec_reports(case) if r.id == ncmec_report_id), None)
        if report is None:
            raise InvalidInput("Choose a finished CyberTipline report of this case.",
                               field="ncmec_report_id")
        referral.ncmec_report_id = report.id
        delivered_at = report.finished_at or now()
        referral.agency_reference = report.remote_report_id
        how = f"sent with CyberTipline report {referral.agency_reference}"
    referral.delivery_note = (note or "").strip()[:2000]
    return record_sent(actor, case, referral, method=method, delivered_at=delivered_at,
                       package=package, how=how)


def record_sent(actor: Identity, case: Case, referral: Referral, *, method: str,
                delivered_at: datetime, package: EvidencePackage | None, how: str) -> Referral:
    """The referral left: its disclosure record (kind ``referral``, the items with their
    SHA-256, the subjects' identifiers, the legal basis, the package's hash if one went),
    approved → sent, the audit event and the case's timeline."""
    before = snapshot(referral)
    items = items_of(referral)
    if package is not None:
        referral.package = package
    disclosure = record_disclosure(
        actor, kind="referral", agency=referral.agency,
        legal_basis=rules.LEGAL_BASES[referral.legal_basis]
        + (f" — {referral.legal_basis_note}" if referral.legal_basis_note else ""),
        data_categories={i.data_category for i in items if i.data_category},
        subjects=_disclosed_subjects(referral), items=items,
        prepared_by_id=referral.drafted_by_id, approved_by_id=referral.approved_by_id,
        case_id=case.id, package_sha256=package.sha256 if package else None)
    _move(referral, "sent", "send")
    referral.delivery_method = method
    referral.delivered_at = delivered_at
    referral.sent_by_id = actor.user_id
    referral.sent_by_label = actor.label
    referral.sent_at = now()
    referral.disclosure_id = disclosure.id
    record_step(actor, "sent", referral, case, f"{how}; disclosure {disclosure.id}.", before)
    return referral


def acknowledge_referral(actor: Identity, case: Case, referral: Referral,
                         agency_reference: str) -> Referral:
    referral_policy.require(actor, "acknowledge", referral)
    reference = required_text(agency_reference, "agency_reference",
                      "Give the reference the agency gave the referral.", limit=120)
    before = snapshot(referral)
    _move(referral, "acknowledged", "acknowledge")
    referral.agency_reference = reference
    referral.acknowledged_at = now()
    record_step(actor, "acknowledged", referral, case,
            f"acknowledged by {referral.agency.name}, their reference {reference}.", before)
    return referral


def withdraw_referral(actor: Identity, case: Case, referral: Referral, reason: str) -> Referral:
    referral_policy.require(actor, "withdraw", referral)
    before = snapshot(referral)
    _move(referral, "withdrawn", "withdraw", reason)
    referral.withdraw_reason = reason.strip()
    referral.withdrawn_at = now()
    record_step(actor, "withdrawn", referral, case, f"withdrawn: {reason.strip()}", before)
    return referral
