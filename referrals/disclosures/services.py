"""Recording what leaves: the disclosure record, its items, and their custody.

The feature that discloses (a request's production; referrals and NCMEC reports later) checks
its own workflow first, then calls ``record_disclosure`` with the record's facts. Whatever the
kind, two people: nothing leaves without an approver, and whoever prepared the disclosure or
collected an item it carries cannot release it (``core.two_person``, asked here again so that
no feature can record a disclosure around it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from referrals.agencies.models import Agency
from referrals.audit.services import record_event
from referrals.core.clock import now
from referrals.core.errors import DomainError, InvalidInput
from referrals.core.identity import Identity
from referrals.core.two_person import RELEASE, Participants, require_second_person
from referrals.disclosures.models import (DISCLOSURE_KINDS, DisclosedItem, Disclosure,
                                          DisclosureCategory, DisclosureSubject)
from referrals.evidence.models import EvidenceItem
from referrals.evidence.services import record_custody
from referrals.extensions import db
from referrals.vocabulary.categories import DATA_CATEGORIES

NO_APPROVER = "Nobody has approved this disclosure: a supervisor must approve it before it leaves."


@dataclass(frozen=True)
class Subject:
    """A person the disclosure is about: an identifier kind and its normalised value."""

    kind: str
    identifier: str


def collectors(items: Iterable[EvidenceItem]) -> set[int]:
    """Everyone who collected or uploaded one of ``items``."""
    return {item.captured_by_id for item in items if item.captured_by_id is not None}


def record_disclosure(
    actor: Identity,
    *,
    kind: str,
    agency: Agency,
    legal_basis: str,
    data_categories: Iterable[str],
    subjects: Sequence[Subject],
    items: Sequence[EvidenceItem],
    prepared_by_id: int | None,
    approved_by_id: int | None,
    collector_ids: Iterable[int] = (),
    request_id: int | None = None,
    case_id: int | None = None,
    package_sha256: str | None = None,
    custody_purpose: str | None = None,
) -> Disclosure:
    """Record that ``items`` (and what the record names) left for ``agency`` now, released by
    ``actor``; a "disclosed" custody event on every item and one audit event with the record.

    ``collector_ids`` adds people who collected for the disclosure beyond the items' own
    collectors (a request's recorded collector). ``custody_purpose`` says how the items left,
    before the record's number, on their custody events (e.g. the CyberTipline report id)."""
    if kind not in DISCLOSURE_KINDS:
        raise InvalidInput(f"There is no kind of disclosure called {kind!r}.", field="kind")
    if approved_by_id is None:
        raise DomainError(NO_APPROVER)
    require_second_person(actor, RELEASE, Participants.of(
        prepared_by=(prepared_by_id,), collected_by=(*collectors(items), *collector_ids)))
    categories = set(data_categories)
    unknown = sorted(categories - set(DATA_CATEGORIES))
    if unknown:
        raise InvalidInput(f"Unknown data categories: {', '.join(unknown)}.", field="data_categories")
    gone = [item for item in items if item.destroyed_at is not None]
    if gone:
        raise DomainError(f"{len(gone)} item(s) were destroyed under the retention policy and "
                          f"cannot be disclosed: {', '.join(i.original_name for i in gone)}.")
    legal_basis = (legal_basis or "").strip()
    if not legal_basis:
        raise InvalidInput("Name the legal basis of the disclosure.", field="legal_basis")

    at = now()
    disclosure = Disclosure(
        kind=kind, request_id=request_id, case_id=case_id, agency_id=agency.id,
        recipient_name=agency.name, recipient_country=agency.country, legal_basis=legal_basis,
        prepared_by_id=prepared_by_id, approved_by_id=approved_by_id,
        disclosed_by_id=actor.user_id, disclosed_at=at, package_sha256=package_sha256,
        categories=[DisclosureCategory(category=c) for c in DATA_CATEGORIES if c in categories],
        subjects=[DisclosureSubject(kind=s.kind, identifier=s.identifier)
                  for s in dict.fromkeys(subjects)],
        items=[DisclosedItem(evidence_id=item.id, sha256=item.sha256,
                             data_category=item.data_category)
               for item in dict.fromkeys(items)])
    db.session.add(disclosure)
    db.session.flush()
    purpose = (f"{custody_purpose.rstrip('.')}; disclosure {disclosure.id}" if custody_purpose
               else f"Disclosed to {agency.name} ({agency.country}), disclosure {disclosure.id}")
    for item in dict.fromkeys(items):
        record_custody(actor, item, "disclosed", purpose)
    record_event(actor, "disclosure.released", object_type="disclosure", object_id=disclosure.id,
                 agency_id=agency.id, after=describe(disclosure))
    return disclosure


def record_packaged(actor: Identity, items: Sequence[EvidenceItem], *, package_sha256: str,
                    purpose: str) -> None:
    """Record that ``items`` went into the package whose SHA-256 is ``package_sha256``: a
    "packaged" custody event on each and one audit event. Call it after the package file is
    written and hashed (slow work stays outside the audit lock), in the same transaction as
    whatever records the package."""
    if len(package_sha256 or "") != 64:
        raise InvalidInput("A package is named by its SHA-256 (64 hex digits).",
                           field="package_sha256")
    gone = [item for item in items if item.destroyed_at is not None]
    if gone:
        raise DomainError("An item destroyed under the retention policy cannot be packaged.")
    for item in dict.fromkeys(items):
        record_custody(actor, item, "packaged", f"{purpose} (package {package_sha256[:16]}…)")
    db.session.flush()
    record_event(actor, "evidence.packaged", object_type="package", object_id=package_sha256,
                 after={"purpose": purpose,
                        "items": [{"evidence_id": i.id, "sha256": i.sha256}
                                  for i in dict.fromkeys(items)]})


def describe(disclosure: Disclosure) -> dict:
    """The record in plain values: for the audit event and the API."""
    return {
        "id": disclosure.id,
        "kind": disclosure.kind,
        "request_id": disclosure.request_id,
        "case_id": disclosure.case_id,
        "recipient": {"agency_id": disclosure.agency_id, "name": disclosure.recipient_name,
                      "country": disclosure.recipient_country},
        "legal_basis": disclosure.legal_basis,
        "data_categories": disclosure.data_categories,
        "subjects": [{"kind": s.kind, "identifier": s.identifier} for s in disclosure.subjects],
        "items": [{"evidence_id": i.evidence_id, "sha256": i.sha256,
                   "data_category": i.data_category} for i in disclosure.items],
        "prepared_by_id": disclosure.prepared_by_id,
        "approved_by_id": disclosure.approved_by_id,
        "disclosed_by_id": disclosure.disclosed_by_id,
        "disclosed_at": disclosure.disclosed_at.isoformat(),
        "package_sha256": disclosure.package_sha256,
    }

