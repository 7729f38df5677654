"""What a CyberTipline report says about a case, read from the case, its escalations, its
subjects and the custody log of its evidence. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element

from flask import current_app
from sqlalchemy import select

from referrals.cases.models import Case, Escalation, Identifier, ReportedContent, Subject
from referrals.cases.rules import CATEGORIES, SOURCES
from referrals.core.clock import now
from referrals.core.errors import DomainError, InvalidInput
from referrals.evidence.models import CustodyEvent, EvidenceItem
from referrals.extensions import db
from referrals.ncmec.models import NcmecReport
from referrals.ncmec.xml import (Account, FileValues, ReportInvalid, ReportValues,
                                 build_file_details, build_report, validate)

# Case category → NCMEC incident type (the XSD's enumeration). Other categories are not
# CyberTipline matters and are refused by name.
INCIDENT_TYPES = {
    "child_sexual_exploitation": "Child Pornography (possession, manufacture, and distribution)",
    "grooming": "Online Enticement of Children for Sexual Acts",
    "trafficking": "Child Sex Trafficking",
}
AUTOMATED = ("hash_match", "classifier")


@dataclass(frozen=True)
class FileReview:
    item: EvidenceItem
    viewed_by_person: bool
    viewers: tuple[str, ...]


def settings():
    return current_app.config["REFERRALS_SETTINGS"]


def case_evidence(case: Case) -> list[EvidenceItem]:
    return list(db.session.scalars(
        select(EvidenceItem).where(EvidenceItem.case_id == case.id,
                                   EvidenceItem.destroyed_at.is_(None))
        .order_by(EvidenceItem.id)))


def file_reviews(items: list[EvidenceItem]) -> list[FileReview]:
    """For each file, whether the custody log shows a person here viewed it: an event
    "viewed" by a user account. Nothing is assumed from a hash match or a classifier."""
    ids = [i.id for i in items]
    viewers: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for evidence_id, label in db.session.execute(
                select(CustodyEvent.evidence_id, CustodyEvent.actor_label).where(
                    CustodyEvent.evidence_id.in_(ids), CustodyEvent.action == "viewed",
                    CustodyEvent.actor_id.is_not(None)).order_by(CustodyEvent.id)):
            if label not in viewers[evidence_id]:
                viewers[evidence_id].append(label)
    return [FileReview(i, bool(viewers[i.id]), tuple(viewers[i.id])) for i in items]


def how_found(case: Case) -> tuple[list[str], bool]:
    """The sources that raised the case, and whether all were automated."""
    reasons = list(db.session.scalars(
        select(Escalation.reason).where(Escalation.case_id == case.id).distinct()))
    sources = reasons or [case.source]
    return sources, all(s in AUTOMATED for s in sources)


def _incident_at(case: Case) -> datetime:
    first = db.session.scalar(select(Escalation.detected_at).where(
        Escalation.case_id == case.id).order_by(Escalation.detected_at).limit(1))
    return first or case.created_at


def reported_identifiers(case: Case) -> list[str]:
    """``kind:normalized`` of every identifier of the case's non-victim subjects."""
    rows = db.session.execute(
        select(Identifier.kind, Identifier.normalized).join(Subject)
        .where(Identifier.case_id == case.id, Subject.role != "victim")
        .order_by(Identifier.id))
    return sorted({f"{k}:{v}" for k, v in rows if k != "ip"})


def prior_report_ids(identifiers: list[str], exclude: int | None = None) -> list[int]:
    """Ids of earlier finished reports about any of these accounts (``priorCTReports``)."""
    wanted = set(identifiers)
    if not wanted:
        return []
    found = []
    for report in db.session.scalars(
            select(NcmecReport).where(NcmecReport.status == "finished",
                                      NcmecReport.remote_report_id.is_not(None))
            .order_by(NcmecReport.finished_at)):
        if report.id != exclude and wanted & set(report.identifiers or []) \
                and report.remote_report_id.isdigit():
            found.append(int(report.remote_report_id))
    return sorted(set(found))


def _account(subject: Subject, prior: list[int]) -> Account:
    account = Account(prior_reports=prior)
    for identifier in subject.identifiers:
        kind, value = identifier.kind, identifier.normalized or identifier.value
        if kind == "platform_user_id" and account.esp_identifier is None:
            account.esp_identifier = value
        elif kind == "username" and account.screen_name is None:
            account.screen_name = value
        elif kind == "email":
            account.emails.append(value)
        elif kind == "phone":
            account.phones.append(value)
        elif kind == "ip":
            account.ips.append((value, identifier.observed_at, identifier.port))
        elif kind == "device_id":
            account.devices.append(value)
    return account


def incident_type(case: Case) -> str:
    try:
        return INCIDENT_TYPES[case.category]
    except KeyError:
        raise InvalidInput(
            f"{case.reference} is about {CATEGORIES.get(case.category, case.category)}: a "
            "CyberTipline report is for child sexual exploitation, enticement (grooming) or "
            "child sex trafficking.", field="category") from None


def report_values(case: Case, items: list[EvidenceItem],
                  exclude_report: int | None = None) -> ReportValues:
    conf = settings()
    subjects = list(db.session.scalars(
        select(Subject).where(Subject.case_id == case.id).order_by(Subject.id)))
    prior = prior_report_ids(reported_identifiers(case), exclude=exclude_report)
    sources, automated = how_found(case)
    reviews = file_reviews(items)
    unviewed = [r.item.original_name for r in reviews if not r.viewed_by_person]
    found = ", ".join(SOURCES.get(s, s).lower() for s in sources)
    info = [f"Our reference: {case.reference}. Found by: {found}."]
    if automated:
        info.append("This report was raised by automated detection (hash match or "
                    "classifier) alone.")
    if items and not unviewed:
        info.append("A person at the platform viewed every file in this report.")
    elif unviewed:
        info.append(f"No person at the platform viewed {len(unviewed)} of the {len(items)} "
                    "files in this report: " + ", ".join(unviewed) + ".")
    urls = list(dict.fromkeys(
        u for u in db.session.scalars(
            select(ReportedContent.url).where(ReportedContent.case_id == case.id,
                                              ReportedContent.url.is_not(None))
            .order_by(ReportedContent.id)) if u))
    return ReportValues(
        incident_type=incident_type(case), incident_at=_incident_at(case),
        incident_description=f"When the platform's {found} first flagged it.",
        platform=conf.ncmec_platform, urls=urls, esp_service=conf.ncmec_platform,
        reporter_first_name=conf.ncmec_reporter_first_name,
        reporter_last_name=conf.ncmec_reporter_last_name,
        reporter_email=conf.ncmec_reporter_email,
        reported=[_account(s, prior) for s in subjects if s.role != "victim"],
        victims=[_account(s, []) for s in subjects if s.role == "victim"],
        additional_info=" ".join(info))


def file_values(review: FileReview, report_id: int, file_id: str) -> FileValues:
    item = review.item
    note = (f"Viewed here by a person ({len(review.viewers)} reviewer(s))."
            if review.viewed_by_person else
            "No person at the platform viewed this file; it was identified by automated "
            "detection or received as is.")
    return FileValues(report_id=report_id, file_id=file_id, original_name=item.original_name,
                      location=item.url, viewed_by_person=review.viewed_by_person,
                      hashes=[("MD5", item.md5), ("SHA1", item.sha1), ("SHA256", item.sha256)],
                      additional_info=note)


def checked_report(case: Case, items: list[EvidenceItem],
                   exclude_report: int | None = None) -> Element:
    """The ``<report>`` for the case, refused (``ReportInvalid``) unless valid; each file's
    ``<fileDetails>`` is checked too, with placeholder ids standing for NCMEC's."""
    at = now()
    report = build_report(report_values(case, items, exclude_report))
    validate(report, at)
    for review in file_reviews(items):
        validate(build_file_details(file_values(review, 1, "pending")), at)
    return report


def report_problems(case: Case, items: list[EvidenceItem],
                    exclude: int | None = None) -> list[tuple[str, str]]:
    """Every reason the report could not be sent now, for a page to list (none: it can)."""
    try:
        checked_report(case, items, exclude_report=exclude)
    except ReportInvalid as error:
        return error.problems
    except DomainError as error:
        return [("case", error.message)]
    return []
