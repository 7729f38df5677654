"""A CyberTipline report's life: draft → confirmed (by a second person) → submitting (a
remote operation: submit → upload* → fileinfo* → finish) → finished (the 1-year hold placed),
or retracted before finish. Services take the acting identity, flush, never commit; every
write has its audit event in the same transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from referrals.accounts.models import User
from referrals.agencies.models import Agency
from referrals.audit.services import record_event
from referrals.cases.models import Case, Identifier, Subject
from referrals.core.clock import as_utc, now
from referrals.core.errors import DomainError, InvalidInput, NotFound
from referrals.core.identity import Identity
from referrals.core.two_person import APPROVE, RELEASE, Participants, second_person_refusal
from referrals.disclosures.models import Disclosure
from referrals.disclosures.services import Subject as DisclosedSubject
from referrals.disclosures.services import collectors, record_disclosure
from referrals.evidence.models import EvidenceItem
from referrals.extensions import db
from referrals.holds.models import PreservationHold
from referrals.holds.services import place_ncmec_hold
from referrals.ncmec.models import LIVE_STATES, NcmecReport
from referrals.ncmec.policies import ncmec_policy
from referrals.ncmec.reading import (case_evidence, checked_report, file_reviews,
                                     incident_type, reported_identifiers)
from referrals.ncmec.xml import to_xml
from referrals.remote.models import RemoteOperation
from referrals.remote.operations import start_operation

SUBMIT_KIND = "ncmec.report"
RETRACT_KIND = "ncmec.retract"
# The legal basis every CyberTipline report's disclosure record names.
LEGAL_BASIS = ("18 U.S.C. 2258A: report of apparent child sexual abuse material to NCMEC's "
               "CyberTipline")
NCMEC_NAME = "National Center for Missing & Exploited Children (CyberTipline)"


class ReportRefused(DomainError):
    status = 409


def _audit(actor: Identity, action: str, report: NcmecReport, case: Case, **after) -> None:
    record_event(actor, action, object_type="ncmec_report", object_id=report.id,
                 after={"case": case.reference, "status": report.status,
                        "remote_report_id": report.remote_report_id, **after})


def get_report(case: Case, report_id: int) -> NcmecReport:
    report = db.session.get(NcmecReport, report_id)
    if report is None or report.case_id != case.id:
        raise NotFound("There is no such CyberTipline report on this case.")
    return report


def reports_for_case(case: Case) -> list[NcmecReport]:
    return list(db.session.scalars(select(NcmecReport).where(NcmecReport.case_id == case.id)
                                   .order_by(NcmecReport.id.desc())))


def operation_of(report: NcmecReport, retract: bool = False) -> RemoteOperation | None:
    operation_id = report.retract_operation_id if retract else report.operation_id
    return db.session.get(RemoteOperation, operation_id) if operation_id else None


def hold_of(report: NcmecReport) -> PreservationHold | None:
    return db.session.get(PreservationHold, report.hold_id) if report.hold_id else None


def effective_status(report: NcmecReport) -> str:
    """The stored status, except that a send whose operation failed shows as failed."""
    if report.status == "submitting":
        operation = operation_of(report)
        if operation is not None and operation.state == "failed":
            return "failed"
    return report.status


def remote_report_id(report: NcmecReport) -> str | None:
    """NCMEC's id: on the report once recorded, on the operation as soon as submit returned."""
    if report.remote_report_id:
        return report.remote_report_id
    operation = operation_of(report)
    return (operation.remote_ids or {}).get("report_id") if operation else None


def waiting_since(report: NcmecReport) -> tuple[timedelta, bool] | None:
    """How long a confirmed report has waited to be finished, and whether that is past the
    internal filing target (2258A: "as soon as reasonably possible")."""
    if report.confirmed_at is None or report.status in ("finished", "retracted"):
        return None
    waited = now() - as_utc(report.confirmed_at)
    target = timedelta(hours=current_app.config["REFERRALS_SETTINGS"].ncmec_filing_target_hours)
    return waited, waited > target


def _evidence(case: Case, evidence_ids: Iterable[int] | None) -> list[EvidenceItem]:
    items = case_evidence(case)
    if evidence_ids is None:
        return items
    wanted = {int(i) for i in evidence_ids}
    chosen = [i for i in items if i.id in wanted]
    if len(chosen) != len(wanted):
        raise InvalidInput("Choose files of this case only.", field="evidence_ids")
    return chosen


def draft_report(actor: Identity, case: Case,
                 evidence_ids: Iterable[int] | None = None) -> NcmecReport:
    """A draft for the case, carrying the chosen files (all the case's files by default)."""
    ncmec_policy.require(actor, "draft", case)
    incident_type(case)  # refuses a case outside NCMEC's remit, by name
    live = db.session.scalar(select(NcmecReport).where(
        NcmecReport.case_id == case.id, NcmecReport.status.in_(LIVE_STATES)).limit(1))
    if live is not None and effective_status(live) != "failed":
        raise ReportRefused(f"This case already has a CyberTipline report in progress "
                            f"(#{live.id}, {live.status}).")
    items = _evidence(case, evidence_ids)
    at = now()
    report = NcmecReport(case_id=case.id, status="draft", evidence_ids=[i.id for i in items],
                         identifiers=reported_identifiers(case), drafted_by_id=actor.user_id,
                         drafted_by_label=actor.label, drafted_at=at, last_error="",
                         attempts=0)
    db.session.add(report)
    db.session.flush()
    unviewed = [r.item.id for r in file_reviews(items) if not r.viewed_by_person]
    _audit(actor, "ncmec.report_drafted", report, case, evidence_ids=report.evidence_ids,
           unviewed_evidence_ids=unviewed)
    return report


def report_items(report: NcmecReport) -> list[EvidenceItem]:
    if not report.evidence_ids:
        return []
    return list(db.session.scalars(select(EvidenceItem).where(
        EvidenceItem.id.in_(report.evidence_ids)).order_by(EvidenceItem.id)))


def confirm_refusal(actor: Identity, report: NcmecReport) -> str | None:
    """Why ``actor`` may not confirm the report, in words for them; None if they may."""
    if not ncmec_policy.can(actor, "confirm", report):
        return "Your account cannot confirm CyberTipline reports."
    if report.status != "draft":
        return "Only a draft can be confirmed."
    if second_person_refusal(actor, APPROVE, Participants.of(prepared_by=[report.drafted_by_id])):
        return "You drafted this report: another person must confirm it."
    return None


def confirm_report(actor: Identity, case: Case, report: NcmecReport) -> NcmecReport:
    """A second person confirms what will be sent, after the report is checked in full."""
    refusal = confirm_refusal(actor, report)
    if refusal:
        raise ReportRefused(refusal)
    items = report_items(report)
    checked_report(case, items, exclude_report=report.id)  # ReportInvalid names each field
    unviewed = [r.item.id for r in file_reviews(items) if not r.viewed_by_person]
    report.status, report.confirmed_at = "confirmed", now()
    report.confirmed_by_id, report.confirmed_by_label = actor.user_id, actor.label
    db.session.flush()
    _audit(actor, "ncmec.report_confirmed", report, case, unviewed_evidence_ids=unviewed)
    return report


def _file_arguments(items: list[EvidenceItem]) -> list[dict]:
    arguments = []
    for review in file_reviews(items):
        item = review.item
        if item.destroyed_at is not None or item.blob is None:
            raise ReportRefused(f"The bytes of {item.original_name} were destroyed: draft "
                                "the report again without it.")
        arguments.append({"evidence_id": item.id, "name": item.original_name,
                          "mime_type": item.mime_type, "storage_name": item.blob.storage_name,
                          "md5": item.md5, "sha1": item.sha1, "sha256": item.sha256,
                          "url": item.url, "viewed": review.viewed_by_person,
                          "viewers": len(review.viewers)})
    return arguments


def submit_refusal(actor: Identity, report: NcmecReport,
                   items: list[EvidenceItem] | None = None) -> str | None:
    """Why ``actor`` may not send the report; None if they may. What leaves is released by
    someone who neither drafted it nor collected its files (``core.two_person``)."""
    if not ncmec_policy.can(actor, "submit", report):
        return "Your account cannot send CyberTipline reports."
    if report.status != "confirmed":
        return "Only a confirmed report can be sent."
    items = report_items(report) if items is None else items
    if second_person_refusal(actor, RELEASE, Participants.of(
            prepared_by=[report.drafted_by_id], collected_by=collectors(items))):
        return ("You drafted this report or collected one of its files: the person who "
                "confirmed it, or another, sends it.")
    return None


def submit_report(actor: Identity, case: Case, report: NcmecReport) -> RemoteOperation:
    """Send a confirmed report: checked again now, then a remote operation that runs after
    the commit. The exact XML sent is kept in the operation's payload."""
    items = report_items(report)
    refusal = submit_refusal(actor, report, items)
    if refusal:
        raise ReportRefused(refusal)
    xml = to_xml(checked_report(case, items, exclude_report=report.id)).decode("utf-8")
    report.attempts += 1
    operation = start_operation(
        actor, SUBMIT_KIND, key=f"ncmec:{report.id}:{report.attempts}",
        payload={"report": report.id, "case": case.reference, "report_xml": xml,
                 "files": _file_arguments(items), "released_by": actor.user_id},
        object_type="ncmec_report", object_id=report.id)
    report.operation_id, report.status, report.submitted_at = operation.id, "submitting", now()
    db.session.flush()
    _audit(actor, "ncmec.report_submitted", report, case, operation=operation.id,
           evidence_ids=report.evidence_ids)
    return operation


def retract_report(actor: Identity, case: Case, report: NcmecReport) -> RemoteOperation:
    """Cancel a report NCMEC opened and that is not finished; the send stops."""
    ncmec_policy.require(actor, "retract", report)
    remote_id = remote_report_id(report)
    if report.status != "submitting" or not remote_id:
        raise ReportRefused("Only a report NCMEC has opened and that is not finished can be "
                            "retracted.")
    sending = operation_of(report)
    if sending is not None and sending.state == "running":
        raise ReportRefused("The report is being sent right now; retract it in a minute.")
    if sending is not None and sending.state != "done":
        finish_step = next((s for s in sending.steps if s.name == "finish"), None)
        if finish_step is not None and finish_step.state in ("started", "unknown"):
            raise ReportRefused("The finish step may have reached NCMEC; check with NCMEC "
                                "before retracting (flask work resolve).")
        sending.state, sending.finished_at = "failed", now()
        sending.last_error = f"Stopped: the report was retracted by {actor.label}."
    operation = start_operation(actor, RETRACT_KIND, key=f"ncmec-retract:{report.id}",
                                payload={"report": report.id, "report_id": remote_id},
                                object_type="ncmec_report", object_id=report.id)
    report.retract_operation_id = operation.id
    db.session.flush()
    _audit(actor, "ncmec.report_retract_requested", report, case, remote_report_id=remote_id)
    return operation


# --- recorded by the send job (system identity), each in its own short transaction -------

def _load(report_pk: int) -> tuple[NcmecReport, Case]:
    report = db.session.get(NcmecReport, report_pk)
    if report is None:
        raise NotFound(f"CyberTipline report #{report_pk} is gone.")
    return report, db.session.get(Case, report.case_id)


def record_opened(actor: Identity, report_pk: int, remote_id: str) -> None:
    """NCMEC gave the report its id: kept on the report before any file is uploaded."""
    ncmec_policy.require(actor, "record")
    report, case = _load(report_pk)
    if report.remote_report_id == remote_id:
        return
    report.remote_report_id = remote_id
    db.session.flush()
    _audit(actor, "ncmec.report_opened", report, case)


def _held_identifiers(case: Case) -> list[tuple[str, str]]:
    return list(db.session.execute(
        select(Identifier.kind, Identifier.value).join(Subject)
        .where(Identifier.case_id == case.id, Subject.role != "victim")
        .order_by(Identifier.id)))


def ncmec_agency(actor: Identity) -> Agency:
    """NCMEC as the registry names it (the first agency of kind ``ncmec``); a registry without
    one gets it now, audited, so that every report's disclosure record has its recipient."""
    agency = db.session.scalar(select(Agency).where(Agency.kind == "ncmec")
                               .order_by(Agency.id).limit(1))
    if agency is not None:
        return agency
    agency = Agency(name=NCMEC_NAME, kind="ncmec", country="US", status="verified",
                    legal_entity="us", notes="Added when the first CyberTipline report was "
                    "finished.", created_at=now())
    db.session.add(agency)
    db.session.flush()
    record_event(actor, "agency.created", object_type="agency", object_id=agency.id,
                 agency_id=agency.id, after={"name": agency.name, "kind": "ncmec",
                                             "country": "US", "status": "verified"})
    return agency


def _releaser(report: NcmecReport, released_by: int | None) -> Identity:
    """Who released the report: the person who pressed send (kept in the operation's
    payload); for a send started before that was kept, the person who confirmed it."""
    user = db.session.get(User, released_by or report.confirmed_by_id)
    if user is None:
        raise DomainError(f"CyberTipline report #{report.id} has no person who released it.")
    return Identity.for_user(user)


def _reported_subjects(case: Case) -> list[DisclosedSubject]:
    rows = db.session.execute(
        select(Identifier.kind, Identifier.normalized).join(Subject)
        .where(Identifier.case_id == case.id, Subject.role != "victim")
        .order_by(Identifier.id))
    return [DisclosedSubject(kind=kind, identifier=value) for kind, value in rows]


def disclosure_of(report: NcmecReport) -> Disclosure | None:
    return db.session.get(Disclosure, report.disclosure_id) if report.disclosure_id else None


def record_finished(actor: Identity, report_pk: int, remote_id: str,
                    completed_at: datetime, file_ids: dict[str, str],
                    released_by: int | None = None) -> str | None:
    """NCMEC finished the report: status, the disclosure record (kind ``ncmec_report``: the
    files with their hashes, the reported accounts, 18 U.S.C. 2258A, who drafted, confirmed
    and sent it) with each file's "disclosed" custody event, and the one-year preservation
    hold (18 U.S.C. 2258A(h)); all in one transaction, once: a resumed job finds the report
    finished and records nothing again. Returns the hold's reference."""
    ncmec_policy.require(actor, "record")
    report, case = _load(report_pk)
    if report.status == "finished":
        hold = db.session.get(PreservationHold, report.hold_id) if report.hold_id else None
        return hold.reference if hold else None
    report.status, report.finished_at = "finished", completed_at
    report.remote_report_id = remote_id
    items = report_items(report)
    disclosure = record_disclosure(
        _releaser(report, released_by), kind="ncmec_report", agency=ncmec_agency(actor),
        legal_basis=f"{LEGAL_BASIS}; CyberTipline report {remote_id}",
        data_categories={i.data_category for i in items if i.data_category},
        subjects=_reported_subjects(case), items=items,
        prepared_by_id=report.drafted_by_id, approved_by_id=report.confirmed_by_id,
        case_id=case.id, custody_purpose=f"Sent to NCMEC in CyberTipline report {remote_id}")
    report.disclosure_id = disclosure.id
    held = _held_identifiers(case)
    hold = None
    if held:
        hold = place_ncmec_hold(actor, case, remote_id, completed_at, held)
        report.hold_id = hold.id
    db.session.flush()
    _audit(actor, "ncmec.report_finished", report, case, completed_at=completed_at.isoformat(),
           hold=hold.reference if hold else None, file_ids=file_ids,
           disclosure=disclosure.id)
    return hold.reference if hold else None


def record_retracted(actor: Identity, report_pk: int) -> None:
    ncmec_policy.require(actor, "record")
    report, case = _load(report_pk)
    if report.status == "retracted":
        return
    report.status, report.retracted_at = "retracted", now()
    db.session.flush()
    _audit(actor, "ncmec.report_retracted", report, case)


STEP_WORDS = {"submit": "open the report at NCMEC", "opened": "keep NCMEC's report id",
              "upload": "upload a file", "fileinfo": "send a file's details",
              "finish": "finish the report", "finished": "record it and place the hold",
              "retract": "ask NCMEC to cancel the report", "retracted": "record the retraction"}
PROGRESS_STATE = {"pending": "queued", "running": "running", "waiting": "running",
                  "done": "done", "failed": "failed", "needs_check": "failed"}
PROGRESS_LABEL = {"queued": "Waiting for a worker", "running": "Sending", "done": "Finished",
                  "failed": "Stopped"}


def send_progress(report: NcmecReport) -> dict:
    """The send (or the retraction, once asked) as ``core.progress.progress_json`` words it,
    for ``static/progress.js``: state, steps done of all, what is happening or went wrong."""
    operation = operation_of(report, retract=True) or operation_of(report)
    if operation is None:
        return {"state": "none", "label": "Not sent", "done": 0, "total": 0, "percent": 0,
                "message": "", "finished": True}
    state = PROGRESS_STATE[operation.state]
    done = sum(1 for s in operation.steps if s.state == "done")
    total = len(operation.steps)
    current = next((s for s in operation.steps if s.state != "done"), None)
    if operation.state == "needs_check":
        message = operation.last_error + " Record what NCMEC says with flask work resolve " \
            f"{operation.id}."
    elif operation.last_error:
        message = operation.last_error
    elif current is not None:
        message = f"Step {current.position + 1} of {total}: {STEP_WORDS.get(current.name, current.name)}."
    else:
        message = "All steps done."
    return {"id": operation.id, "state": state, "label": PROGRESS_LABEL[state], "done": done,
            "total": total, "percent": round(100 * done / total) if total else 0,
            "message": message, "finished": state in ("done", "failed"),
            "updated_at": operation.updated_at.isoformat()}
