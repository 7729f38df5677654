"""The disclosure log: every disclosure record (productions, emergency disclosures, referrals,
CyberTipline reports), filtered, one opened with everything behind it, and exported as CSV or
JSON in batches (a streamed response never holds more than one batch).

Reading only: the record is written by ``disclosures.services.record_disclosure`` alone. Opening
one is a view of sensitive data (who it was about) and is audited; so is an export.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, or_, select

from referrals.accounts.models import User
from referrals.agencies.models import Agency
from referrals.audit.models import AuditEvent
from referrals.audit.services import record_event, record_view
from referrals.cases.models import Case
from referrals.compliance.policies import compliance_policy
from referrals.core.errors import InvalidInput, NotFound
from referrals.core.identity import Identity
from referrals.disclosures.models import DISCLOSURE_KINDS, Disclosure
from referrals.evidence.models import EvidenceItem
from referrals.extensions import db
from referrals.ncmec.models import NcmecReport
from referrals.outbound.models import Referral
from referrals.packages.models import EvidencePackage, PackageDownload
from referrals.requests.models import DisclosureRequest
from referrals.vocabulary.categories import data_category_label

PAGE_SIZE = 50
EXPORT_BATCH = 500
EVENT_LIMIT = 200

# The export's columns, stable (scripts read them): add at the end, never rename.
EXPORT_COLUMNS = (
    "id", "kind", "disclosed_at", "recipient_name", "recipient_country", "agency_id",
    "legal_basis", "request_reference", "case_reference", "data_categories", "subjects",
    "items", "item_sha256", "prepared_by", "approved_by", "released_by", "package_sha256",
    "package_downloads")


@dataclass(frozen=True)
class DisclosureFilters:
    kind: str = ""
    agency_id: int | None = None
    country: str = ""
    date_from: date | None = None
    date_to: date | None = None
    legal_basis: str = ""

    def __post_init__(self):
        if self.kind and self.kind not in DISCLOSURE_KINDS:
            raise InvalidInput("Choose a kind of disclosure from the list.", field="kind")
        if self.country and (len(self.country) != 2 or not self.country.isalpha()):
            raise InvalidInput("Give the country as its two-letter ISO code, e.g. US or GB.",
                               field="country")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InvalidInput("The period starts after it ends.", field="date_from")

    def as_args(self) -> dict[str, str]:
        """The filters as query-string values (for links: next page, export)."""
        values = {"kind": self.kind, "agency_id": self.agency_id, "country": self.country,
                  "date_from": self.date_from, "date_to": self.date_to,
                  "legal_basis": self.legal_basis}
        return {k: str(v) for k, v in values.items() if v not in (None, "")}


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _filtered(filters: DisclosureFilters):
    query = select(Disclosure)
    if filters.kind:
        query = query.where(Disclosure.kind == filters.kind)
    if filters.agency_id is not None:
        query = query.where(Disclosure.agency_id == filters.agency_id)
    if filters.country:
        query = query.where(Disclosure.recipient_country == filters.country.upper())
    if filters.date_from:
        query = query.where(Disclosure.disclosed_at >= _day_start(filters.date_from))
    if filters.date_to:
        query = query.where(Disclosure.disclosed_at < _day_start(filters.date_to + timedelta(days=1)))
    if filters.legal_basis.strip():
        query = query.where(func.lower(Disclosure.legal_basis).contains(
            filters.legal_basis.strip().lower(), autoescape=True))
    return query


def recipients() -> list[tuple[int, str]]:
    """The agencies something was disclosed to, for the filter's list."""
    rows = db.session.execute(select(Agency.id, Agency.name, Agency.country)
                              .where(Agency.id.in_(select(Disclosure.agency_id)))
                              .order_by(Agency.name))
    return [(agency_id, f"{name} ({country})") for agency_id, name, country in rows]


@dataclass(frozen=True)
class LogPage:
    rows: list[dict]
    next_before: int | None


def _people(ids: set[int]) -> dict[int, str]:
    ids.discard(None)
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.full_name, User.email).where(User.id.in_(ids)))
    return {uid: (f"{name} <{email}>" if name else email) for uid, name, email in rows}


def _references(disclosures: list[Disclosure]) -> tuple[dict[int, str], dict[int, str]]:
    request_ids = {d.request_id for d in disclosures if d.request_id}
    case_ids = {d.case_id for d in disclosures if d.case_id}
    requests = dict(db.session.execute(select(DisclosureRequest.id, DisclosureRequest.reference)
                                       .where(DisclosureRequest.id.in_(request_ids)))
                    .all()) if request_ids else {}
    cases = dict(db.session.execute(select(Case.id, Case.reference)
                                    .where(Case.id.in_(case_ids))).all()) if case_ids else {}
    return requests, cases


def _download_counts(hashes: set[str]) -> dict[str, int]:
    hashes.discard(None)
    if not hashes:
        return {}
    rows = db.session.execute(
        select(EvidencePackage.sha256, func.count(PackageDownload.id))
        .join(PackageDownload, PackageDownload.package_id == EvidencePackage.id)
        .where(EvidencePackage.sha256.in_(hashes)).group_by(EvidencePackage.sha256))
    return {sha: int(n) for sha, n in rows}


def _rows(disclosures: list[Disclosure]) -> list[dict]:
    """Flat rows in the export's columns (people by name, references not ids)."""
    people = _people({p for d in disclosures
                      for p in (d.prepared_by_id, d.approved_by_id, d.disclosed_by_id)})
    requests, cases = _references(disclosures)
    downloads = _download_counts({d.package_sha256 for d in disclosures})
    return [{
        "id": d.id, "kind": d.kind, "kind_label": DISCLOSURE_KINDS.get(d.kind, d.kind),
        "disclosed_at": d.disclosed_at,
        "recipient_name": d.recipient_name, "recipient_country": d.recipient_country,
        "agency_id": d.agency_id, "legal_basis": d.legal_basis,
        "request_reference": requests.get(d.request_id, ""),
        "case_reference": cases.get(d.case_id, ""),
        "data_categories": d.data_categories,
        "subjects": [f"{s.kind}:{s.identifier}" for s in d.subjects],
        "items": len(d.items), "item_sha256": [i.sha256 for i in d.items],
        "prepared_by": people.get(d.prepared_by_id, ""),
        "approved_by": people.get(d.approved_by_id, ""),
        "released_by": people.get(d.disclosed_by_id, ""),
        "package_sha256": d.package_sha256 or "",
        "package_downloads": downloads.get(d.package_sha256, 0) if d.package_sha256 else 0,
    } for d in disclosures]


def log_page(identity: Identity, filters: DisclosureFilters, *, before: int | None = None,
             limit: int = PAGE_SIZE) -> LogPage:
    """Newest first, paged by id (the same cost on every page)."""
    compliance_policy.require(identity, "read")
    query = _filtered(filters).order_by(Disclosure.id.desc()).limit(limit + 1)
    if before:
        query = query.where(Disclosure.id < before)
    found = list(db.session.scalars(query))
    next_before = found[limit - 1].id if len(found) > limit else None
    return LogPage(_rows(found[:limit]), next_before)


def _events_behind(disclosure: Disclosure, request_reference: str, labels: list[str]) -> list:
    """The audit events of the disclosure, what it answered or came from (the request, the
    CyberTipline report, the referral) and its package, in chain order."""
    keys = [("disclosure", str(disclosure.id))]
    if request_reference:
        keys.append(("request", request_reference))
    keys += [("package", label) for label in labels]
    keys += [("ncmec_report", str(rid)) for rid in db.session.scalars(
        select(NcmecReport.id).where(NcmecReport.disclosure_id == disclosure.id))]
    keys += [("referral", str(rid)) for rid in db.session.scalars(
        select(Referral.id).where(Referral.disclosure_id == disclosure.id))]
    condition = or_(*[(AuditEvent.object_type == kind) & (AuditEvent.object_id == oid)
                      for kind, oid in keys])
    return list(db.session.scalars(select(AuditEvent).where(condition)
                                   .order_by(AuditEvent.seq).limit(EVENT_LIMIT)))


def open_disclosure(identity: Identity, disclosure_id: int) -> dict:
    """One disclosure with everything behind it, as plain values; the view is audited."""
    compliance_policy.require(identity, "read")
    disclosure = db.session.get(Disclosure, disclosure_id)
    if disclosure is None:
        raise NotFound("There is no such disclosure.")
    row = _rows([disclosure])[0]
    evidence = {e.id: e for e in db.session.scalars(select(EvidenceItem).where(
        EvidenceItem.id.in_([i.evidence_id for i in disclosure.items])))} if disclosure.items else {}
    packages = list(db.session.scalars(select(EvidencePackage).where(
        EvidencePackage.sha256 == disclosure.package_sha256))) if disclosure.package_sha256 else []
    row["item_rows"] = [{
        "evidence_id": i.evidence_id, "sha256": i.sha256,
        "name": evidence[i.evidence_id].original_name if i.evidence_id in evidence else "",
        "category": data_category_label(i.data_category)} for i in disclosure.items]
    row["category_labels"] = [data_category_label(c) for c in disclosure.data_categories]
    row["packages"] = [{
        "label": p.label, "status": p.status_label, "sha256": p.sha256, "size": p.size,
        "downloads": [{"at": d.at, "who": d.user_label, "via": d.via, "bytes": d.bytes}
                      for d in p.downloads]} for p in packages]
    row["events"] = _events_behind(disclosure, row["request_reference"],
                                   [p.label for p in packages])
    record_view(identity, "disclosure", disclosure.id, agency_id=disclosure.agency_id)
    return row


# --- export --------------------------------------------------------------------------------


def _flat(row: dict) -> dict:
    return {
        **{column: row[column] for column in EXPORT_COLUMNS},
        "disclosed_at": row["disclosed_at"].astimezone(UTC).isoformat(),
        "data_categories": ";".join(row["data_categories"]),
        "subjects": ";".join(row["subjects"]),
        "item_sha256": ";".join(row["item_sha256"]),
    }


def _batches(filters: DisclosureFilters) -> Iterator[list[dict]]:
    """Rows in id order, one batch at a time, each read in a short transaction of its own: a
    long download holds no lock and no more than one batch in memory."""
    after = 0
    while True:
        found = list(db.session.scalars(_filtered(filters).where(Disclosure.id > after)
                                        .order_by(Disclosure.id).limit(EXPORT_BATCH)))
        if not found:
            db.session.rollback()
            return
        rows = [_flat(row) for row in _rows(found)]
        after = found[-1].id
        db.session.rollback()  # ends the read; nothing was written
        db.session.expunge_all()
        yield rows


def csv_chunks(filters: DisclosureFilters) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    yield "\ufeff" + buffer.getvalue()
    for rows in _batches(filters):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(rows)
        yield buffer.getvalue()


def json_chunks(filters: DisclosureFilters) -> Iterator[str]:
    """A JSON array, one object per disclosure (lists kept as lists)."""
    yield "["
    first = True
    for rows in _batches(filters):
        for row in rows:
            for key in ("data_categories", "subjects", "item_sha256"):
                row[key] = row[key].split(";") if row[key] else []
            yield ("" if first else ",") + "\n" + json.dumps(row, ensure_ascii=False)
            first = False
    yield "\n]\n"


def start_export(identity: Identity, filters: DisclosureFilters, fmt: str) -> Iterator[str]:
    """Audit the export (in the request's transaction) and hand back its chunks, to stream
    after the commit."""
    compliance_policy.require(identity, "export")
    record_event(identity, "disclosure_log.exported", object_type="disclosure_log",
                 after={"format": fmt, "filters": filters.as_args()})
    return csv_chunks(filters) if fmt == "csv" else json_chunks(filters)
