"""The referral report: what the agency reads, as a PDF.

``report_values`` copies what the report says out of the referral into plain values (STYLE
rule 10): the template never touches the database, and what leaves is exactly what is listed
here. No internal notes and no staff names: the timeline and the custody summary say what
happened and when, not who here did it. Media that may be abuse material is never embedded:
nothing is embedded at all, and every item is listed by its SHA-256 and MD5.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from referrals.agencies.models import AGENCY_KINDS
from referrals.audit.services import record_event
from referrals.cases.rules import CATEGORIES
from referrals.core.clock import as_utc, now
from referrals.core.identity import Identity
from referrals.core.pdf import render_pdf
from referrals.core.sizes import format_size
from referrals.core.timefmt import format_instant
from referrals.evidence.models import CustodyEvent, EvidenceItem
from referrals.extensions import db
from referrals.outbound import rules
from referrals.outbound.models import Referral
from referrals.outbound.services import items_of, subjects_of
from referrals.vocabulary.categories import data_category_label
from referrals.vocabulary.entities import LEGAL_ENTITIES
from referrals.vocabulary.identifiers import KINDS as IDENTIFIER_KINDS

TEMPLATE = "reports/referral.html"
CLASSIFICATION = "LAW ENFORCEMENT SENSITIVE"
CUSTODY_WORDS = {"collected": "collected", "uploaded": "uploaded", "viewed": "viewed",
                 "downloaded": "downloaded", "packaged": "packaged", "disclosed": "disclosed"}


def _at(value: datetime | None) -> str:
    return format_instant(value) if value else ""


def _custody(items: list[EvidenceItem]) -> dict[int, list[CustodyEvent]]:
    events: dict[int, list[CustodyEvent]] = {i.id: [] for i in items}
    if items:
        for event in db.session.scalars(select(CustodyEvent).where(
                CustodyEvent.evidence_id.in_(list(events)))
                .order_by(CustodyEvent.occurred_at, CustodyEvent.id)):
            events[event.evidence_id].append(event)
    return events


def _custody_summary(events: list[CustodyEvent]) -> str:
    if not events:
        return "No custody events recorded."
    counts: dict[str, int] = {}
    for event in events:
        counts[event.action] = counts.get(event.action, 0) + 1
    parts = [f"{CUSTODY_WORDS.get(a, a)}{f' ×{n}' if n > 1 else ''}" for a, n in counts.items()]
    intact = all(e.sha256 in (None, "", events[0].sha256) for e in events)
    return (f"{len(events)} events, {_at(events[0].occurred_at)} to "
            f"{_at(events[-1].occurred_at)}: {', '.join(parts)}. "
            + ("Hash unchanged at every event." if intact else "HASH CHANGED between events."))


def _timeline(referral: Referral, items: list[EvidenceItem]) -> list[dict]:
    case = referral.case
    rows = [(case.created_at, f"Case {case.reference} opened")]
    rows += [(i.captured_at, f"Evidence captured: {i.original_name}") for i in items]
    rows += [(at, what) for at, what in (
        (referral.drafted_at, "Referral drafted"),
        (referral.approved_at, "Referral approved by a second reviewer"),
        (referral.delivered_at or referral.sent_at, "Referral sent"),
        (referral.acknowledged_at, "Acknowledged by the agency")) if at]
    return [{"at": _at(at), "what": what} for at, what in sorted(rows, key=lambda r: as_utc(r[0]))]


def report_values(referral: Referral, *, document_id: str | None = None,
                  generated_at: datetime | None = None) -> dict:
    """Everything the report says, as plain values."""
    settings = current_app.config["REFERRALS_SETTINGS"]
    agency = referral.agency
    items = items_of(referral)
    custody = _custody(items)
    entity = LEGAL_ENTITIES.get(agency.legal_entity, LEGAL_ENTITIES["us"])
    return {
        "classification": CLASSIFICATION,
        "document_id": document_id or f"DOC-{uuid.uuid4().hex[:12].upper()}",
        "generated_at": _at(generated_at or now()),
        "entity": entity,
        "reference": referral.reference,
        "case_reference": referral.case.reference,
        "their_reference": referral.agency_reference or "",
        "status": rules.STATUSES.get(referral.status, referral.status),
        "recipient": {"name": agency.name, "country": agency.country,
                      "kind": AGENCY_KINDS.get(agency.kind, agency.kind)},
        "incident_type": CATEGORIES.get(referral.incident_type, referral.incident_type),
        "reason": referral.reason,
        "summary": referral.summary,
        "legal_basis": rules.LEGAL_BASES.get(referral.legal_basis, referral.legal_basis),
        "legal_basis_note": referral.legal_basis_note,
        "delivery": rules.DELIVERY_METHODS.get(referral.delivery_method or "", ""),
        "package": ({"label": referral.package.label, "sha256": referral.package.sha256}
                    if referral.package else None),
        "timeline": _timeline(referral, items),
        "subjects": [{"label": s.label, "role": s.role,
                      "identifiers": [{"kind": IDENTIFIER_KINDS.get(i.kind, i.kind),
                                       "value": i.value,
                                       "observed": _at(i.observed_at)
                                       + (f", port {i.port}" if i.port else "")}
                                      for i in s.identifiers]}
                     for s in subjects_of(referral)],
        "evidence": [{"number": n, "name": i.original_name, "mime_type": i.mime_type,
                      "size": format_size(i.size), "sha256": i.sha256, "md5": i.md5,
                      "captured_at": _at(i.captured_at),
                      "category": data_category_label(i.data_category),
                      "may_be_csam": i.may_be_csam,
                      "custody": _custody_summary(custody[i.id])}
                     for n, i in enumerate(items, start=1)],
        "contact": {"team": "Law Enforcement Response", "entity": entity,
                    "portal": f"{settings.base_url}/portal/",
                    "note": "Serve legal process for the records described here through the "
                            "portal, citing our reference."},
    }


def manifest(values: dict) -> bytes:
    """The machine-readable part of the report: references and hashes, as JSON."""
    return json.dumps({
        "document_id": values["document_id"], "generated_at": values["generated_at"],
        "reference": values["reference"], "their_reference": values["their_reference"],
        "recipient": values["recipient"], "package": values["package"],
        "evidence": [{k: e[k] for k in ("name", "sha256", "md5", "mime_type")}
                     for e in values["evidence"]],
    }, indent=2).encode()


MANIFEST_NAME = "referral-manifest.json"


def render_report(values: dict) -> bytes:
    """The report as PDF/A-3b, with its manifest (references and hashes, JSON) attached."""
    return render_pdf(TEMPLATE, {"report": values}, attachments={MANIFEST_NAME: manifest(values)},
                      pdf_variant="pdf/a-3b")


def issue_referral_report(actor: Identity, referral: Referral) -> bytes:
    """Make the report (before the audit event: slow work stays outside the audit lock) and
    record that it was issued, under which document id."""
    values = report_values(referral)
    pdf = render_report(values)
    record_event(actor, "referral.report_issued", object_type="referral",
                 object_id=referral.reference, agency_id=referral.agency_id,
                 after={"document_id": values["document_id"], "bytes": len(pdf),
                        "evidence": [e["sha256"] for e in values["evidence"]]})
    return pdf
