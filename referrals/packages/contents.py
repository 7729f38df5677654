"""What goes into a package, as plain values the builder streams: a request's production
(only the items collected for the targets decided "produce", in the approved data
categories), or a case's evidence for a referral; each with its report PDF (for a
production, the cover letter with the certificate of authenticity of business records)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from referrals.cases.models import Case
from referrals.core.clock import now
from referrals.core.errors import DomainError
from referrals.core.pdf import render_pdf
from referrals.core.storage import get_store
from referrals.evidence.models import EvidenceItem
from referrals.evidence.services import safe_file_name
from referrals.extensions import db
from referrals.packages.bag import PackageContents, PackageFile
from referrals.requests import rules
from referrals.vocabulary.categories import DATA_CATEGORIES
from referrals.requests.models import DisclosureRequest
from referrals.requests.services import produced_items

COVER_LETTER = "reports/production_cover_letter.html"
REFERRAL_REPORT = "reports/referral_package.html"
ORGANIZATION = "Law Enforcement Response"


@dataclass(frozen=True)
class ItemValues:
    """One packaged item as the report and the manifest show it (plain values)."""

    id: int
    name: str
    path: str
    size: int
    sha256: str
    description: str
    category: str


def production_items(request: DisclosureRequest) -> list[EvidenceItem]:
    """What the production carries: the same items as its disclosure record."""
    return produced_items(request)


def case_items(case: Case) -> list[EvidenceItem]:
    return [i for i in db_items(EvidenceItem.case_id == case.id)
            if i.destroyed_at is None and i.blob is not None]


def db_items(condition) -> list[EvidenceItem]:
    return list(db.session.scalars(select(EvidenceItem).where(condition)
                                    .order_by(EvidenceItem.id)))


def _chunks(store, storage_name: str):
    # The blob's key is looked up now: the bytes are read by the builder's thread, outside
    # the app and its database session.
    return store.reader(storage_name)


def _package_file(item: EvidenceItem, category: str | None) -> PackageFile:
    return PackageFile(
        item_id=item.id, file_name=safe_file_name(item.original_name) or f"item-{item.id}",
        size=item.size, sha256=item.sha256, sha1=item.sha1, md5=item.md5,
        chunks=_chunks(get_store(), item.blob.storage_name),
        metadata={"id": item.id, "original_name": item.original_name, "mime_type": item.mime_type,
                  "size": item.size, "sha256": item.sha256, "sha1": item.sha1, "md5": item.md5,
                  "captured_at": item.captured_at.isoformat(), "source_system": item.source_system,
                  "platform_content_id": item.platform_content_id, "url": item.url,
                  "description": item.description, "category": category})


def _custody(items: list[EvidenceItem]) -> list[dict]:
    return [{"item": item.id, "action": event.action, "by": event.actor_label,
             "at": event.occurred_at.isoformat(), "purpose": event.purpose, "sha256": event.sha256}
            for item in items for event in item.custody_events]


def _values(files: list[PackageFile]) -> list[ItemValues]:
    return [ItemValues(f.item_id, f.metadata["original_name"], f.path, f.size, f.sha256,
                       f.metadata["description"],
                       DATA_CATEGORIES.get(f.metadata["category"] or "", "—"))
            for f in files]


def production_contents(request: DisclosureRequest, label: str, *, custodian: str) -> PackageContents:
    items = production_items(request)
    if not items:
        raise DomainError("Nothing collected for this request may be produced: no item answers "
                          "a target decided \"produce\" in an approved data category.")
    files = [_package_file(item, item.data_category) for item in items]
    at = now()
    letter = {
        "label": label, "reference": request.reference, "agency": request.agency.name,
        "officer": request.officer_name, "issuing_authority": request.issuing_authority,
        "legal_basis": request.legal_basis or rules.REQUEST_TYPES[request.request_type].label,
        "request_type": rules.REQUEST_TYPES[request.request_type].label,
        "targets": [t.value for t in request.targets if t.decision == "produce"],
        "categories": [DATA_CATEGORIES[c] for c in DATA_CATEGORIES
                       if c in (request.data_categories or ())],
        "period": (request.date_from.isoformat() if request.date_from else "the start",
                   request.date_to.isoformat() if request.date_to else "the date collected"),
        "items": _values(files), "custodian": custodian, "date": at.date().isoformat(),
        "organization": ORGANIZATION,
    }
    return PackageContents(
        label=label, files=files, report_pdf=render_pdf(COVER_LETTER, {"letter": letter}),
        report_name=f"{label}-cover-letter-and-certificate.pdf",
        bag_info={"Source-Organization": ORGANIZATION, "External-Identifier": label,
                  "Internal-Sender-Identifier": request.reference,
                  "Bagging-Date": at.date().isoformat(),
                  "Internal-Sender-Description": f"Production for {request.reference} to "
                                                 f"{request.agency.name}"},
        custody=_custody(items),
        case_manifest={"request": request.reference, "agency": request.agency.name,
                       "items": [f.metadata for f in files]})


def case_contents(case: Case, label: str, *, prepared_by: str) -> PackageContents:
    items = case_items(case)
    if not items:
        raise DomainError("This case has no evidence whose bytes are kept: there is nothing "
                          "to package.")
    files = [_package_file(item, None) for item in items]
    at = now()
    report = {"label": label, "reference": case.reference, "title": case.title,
              "items": _values(files), "prepared_by": prepared_by, "date": at.date().isoformat(),
              "organization": ORGANIZATION}
    return PackageContents(
        label=label, files=files, report_pdf=render_pdf(REFERRAL_REPORT, {"report": report}),
        report_name=f"{label}-evidence-list.pdf",
        bag_info={"Source-Organization": ORGANIZATION, "External-Identifier": label,
                  "Internal-Sender-Identifier": case.reference,
                  "Bagging-Date": at.date().isoformat(),
                  "Internal-Sender-Description": f"Evidence of case {case.reference} for a referral"},
        custody=_custody(items),
        case_manifest={"case": case.reference, "items": [f.metadata for f in files]})


def delivery_contents(label: str, items: list[EvidenceItem], *, reference: str,
                      description: str, report_pdf: bytes, report_name: str,
                      manifest: dict) -> PackageContents:
    """A package of ``items`` another feature delivers (a referral through the portal), with
    the report that feature made: each item with its metadata, the custody of every item."""
    gone = [item for item in items if item.destroyed_at is not None or item.blob is None]
    if gone:
        raise DomainError(f"The bytes of {', '.join(i.original_name for i in gone)} are no "
                          "longer kept: nothing was packaged.")
    files = [_package_file(item, item.data_category) for item in items]
    return PackageContents(
        label=label, files=files, report_pdf=report_pdf, report_name=report_name,
        bag_info={"Source-Organization": ORGANIZATION, "External-Identifier": label,
                  "Internal-Sender-Identifier": reference,
                  "Bagging-Date": now().date().isoformat(),
                  "Internal-Sender-Description": description},
        custody=_custody(items),
        case_manifest={**manifest, "items": [f.metadata for f in files]})
