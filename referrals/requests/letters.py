"""Letters answering a request: it needs more information, it is rejected (with its defects),
or it is redirected to a Mutual Legal Assistance Treaty request.

``letter_values`` copies what the letter says into plain values (STYLE rule 10): the reason
staff gave when they moved the request (the defects, one a line), never internal notes or
staff names. Rendered by the locked renderer (``core.pdf``) from
``templates/reports/request_letter.html``.
"""

from __future__ import annotations

import json
from datetime import datetime

from flask import current_app

from referrals.audit.services import record_event
from referrals.core.clock import as_utc, now
from referrals.core.errors import DomainError
from referrals.core.identity import Identity
from referrals.core.pdf import render_pdf
from referrals.requests.models import DisclosureRequest
from referrals.requests.rules import REQUEST_TYPES
from referrals.requests.services import messages_for
from referrals.vocabulary.entities import LEGAL_ENTITIES

TEMPLATE = "reports/request_letter.html"
MANIFEST_NAME = "request-letter.json"

LETTERS = {
    "needs_info": {
        "title": "More information needed",
        "short": "More information needed",
        "opening": "We have reviewed your request and cannot process it as it stands. Please "
                   "provide the following, citing our reference, and we will resume our review:",
        "list_heading": "What we need",
    },
    "rejected": {
        "title": "Request rejected",
        "short": "Request rejected",
        "opening": "We have reviewed your request and are unable to produce records in "
                   "response to it, for the reasons below. You may submit a new request that "
                   "addresses them.",
        "list_heading": "Defects of the request",
    },
    "redirected_mlat": {
        "title": "Redirected to a Mutual Legal Assistance request",
        "short": "Redirected to MLAT",
        "opening": "We have reviewed your request. The records it seeks can be disclosed to an "
                   "authority in your country only under legal process valid where they are "
                   "held: please seek them through a Mutual Legal Assistance Treaty (MLAT) "
                   "request to the competent central authority (for records held in the "
                   "United States, the U.S. Department of Justice, Office of International "
                   "Affairs).",
        "list_heading": "Why",
    },
}


class NoLetter(DomainError):
    """The request is in no status a letter answers."""


def _day(value: datetime | None) -> str:
    value = as_utc(value) if value else None
    return f"{value.day} {value:%B %Y}" if value else ""


def _reason(request: DisclosureRequest) -> str:
    if request.status in ("rejected", "redirected_mlat"):
        return request.decision_reason or ""
    # "Needs information": what the agency was told when the request moved there.
    told = [m.body for m in messages_for(request, include_internal=False)
            if not m.from_agency and m.body.startswith("Status: Needs information.")]
    return told[-1].split("\n\n", 1)[1] if told and "\n\n" in told[-1] else ""


def letter_values(request: DisclosureRequest, *, issued_at: datetime | None = None) -> dict:
    letter = LETTERS.get(request.status)
    if letter is None:
        raise NoLetter("A letter answers a request that needs more information, is rejected or "
                       "is redirected to an MLAT; this one is none of these.")
    settings = current_app.config["REFERRALS_SETTINGS"]
    reason = _reason(request)
    request_type = REQUEST_TYPES.get(request.request_type)
    return {
        "kind": request.status,
        "title": letter["title"],
        "short": letter["short"],
        "opening": letter["opening"],
        "list_heading": letter["list_heading"],
        "points": [line.strip(" -•\t") for line in reason.splitlines() if line.strip(" -•\t")],
        "entity": LEGAL_ENTITIES.get(request.addressed_to, LEGAL_ENTITIES["us"]),
        "issued_on": _day(issued_at or now()),
        "reference": request.reference,
        "request_type": request_type.label if request_type else request.request_type,
        "received_on": _day(request.received_at),
        "addressee": request.officer_name,
        "badge_number": request.badge_number,
        "agency_name": request.agency.name if request.agency else "",
        "issuing_authority": request.issuing_authority,
        "portal_url": f"{settings.base_url}/portal/requests/{request.reference}",
    }


def issue_request_letter(actor: Identity, request: DisclosureRequest) -> bytes:
    """The letter as PDF (rendered before the audit event: slow work stays outside the audit
    lock), recorded as issued."""
    values = letter_values(request)
    # PDF/A-3b, with what it says for a machine (reference, decision, the points) attached.
    manifest = {key: values[key] for key in ("kind", "title", "reference", "request_type",
                                             "received_on", "issued_on", "agency_name",
                                             "points")}
    pdf = render_pdf(TEMPLATE, {"letter": values},
                     attachments={MANIFEST_NAME: json.dumps(manifest, indent=2).encode()},
                     pdf_variant="pdf/a-3b")
    record_event(actor, "request.letter_issued", object_type="request",
                 object_id=request.reference, agency_id=request.agency_id,
                 after={"kind": values["kind"], "bytes": len(pdf)})
    return pdf
