"""The preservation confirmation letter: what the LER team tells an agency it has preserved,
under which reference, on what basis, and until when.

``letter_values`` copies what the letter says out of the hold into plain values (STYLE rule
10): the template never touches the database, and what leaves the building is exactly what
is listed here. No internal notes, no staff names.
"""

from __future__ import annotations

from datetime import date

from flask import current_app

from referrals.vocabulary.entities import LEGAL_ENTITIES
from referrals.audit.services import record_event
from referrals.vocabulary.identifiers import KINDS as IDENTIFIER_KINDS
from referrals.core.pdf import render_pdf
from referrals.core.clock import as_utc, now
from referrals.core.errors import DomainError
from referrals.core.identity import Identity
from referrals.holds.models import PreservationHold
from referrals.holds.notices import hold_date, hold_time, renewal_options
from referrals.holds.rules import HOLD_KINDS, LIVE_STATUSES, STATUSES
from referrals.holds.standing import hold_zone
from referrals.vocabulary.categories import DATA_CATEGORIES

TEMPLATE = "reports/preservation_letter.html"

# The instrument each kind of hold is confirmed under, as the letter cites it.
LEGAL_BASIS = {
    "us_2703f": "18 U.S.C. § 2703(f)",
    "eu_epoc_pr": "Regulation (EU) 2023/1543, article 11 (European Preservation Order)",
    "ncmec_report": "18 U.S.C. § 2258A(h), as amended by the REPORT Act (2024)",
    "budapest_art29": "our voluntary preservation policy, in line with article 29 of the "
                      "Convention on Cybercrime (Budapest, ETS No. 185)",
    "voluntary": "our voluntary preservation policy",
}

# What a voluntary preservation letter says it is (and is not), by kind.
VOLUNTARY_WORDING = {
    "budapest_art29": (
        "This preservation is voluntary. 18 U.S.C. § 2703(f) obliges us to preserve only at "
        "the request of a United States governmental entity (18 U.S.C. § 2711(4)). Because "
        "your country is a party to the Convention on Cybercrime, we keep the records for at "
        "least 60 days (article 29(7)) so that you can seek them through mutual legal "
        "assistance."),
    "voluntary": (
        "This preservation is voluntary. 18 U.S.C. § 2703(f) obliges us to preserve only at "
        "the request of a United States governmental entity (18 U.S.C. § 2711(4)); we keep "
        "these records under our own policy while you obtain legal process we can answer, "
        "usually through mutual legal assistance."),
}


class NoLetter(DomainError):
    """This hold has no agency to write to (an internal legal hold)."""


def _day(value: date | None) -> str:
    return f"{value.day} {value:%B %Y}" if value else ""


def _entity(hold: PreservationHold) -> str:
    key = None
    if hold.request is not None:
        key = hold.request.legal_entity
    elif hold.kind == "eu_epoc_pr":
        key = "eu"
    elif hold.agency is not None:
        key = hold.agency.legal_entity
    return LEGAL_ENTITIES.get(key or "us", LEGAL_ENTITIES["us"])


def _expiry(hold: PreservationHold) -> str:
    if hold.expires_at is not None:
        return hold_time(hold, hold.expires_at)
    if hold.production_confirmed_at is not None:
        order = f" {hold.production_reference}" if hold.production_reference else ""
        return f"Until the data is produced under the confirmed production order{order}"
    return "Until released"


def _date_range(hold: PreservationHold) -> str:
    if hold.date_from and hold.date_to:
        return f"{_day(hold.date_from)} to {_day(hold.date_to)}"
    if hold.date_from:
        return f"From {_day(hold.date_from)}"
    if hold.date_to:
        return f"Up to {_day(hold.date_to)}"
    return "All dates held"


def letter_values(hold: PreservationHold) -> dict:
    """Everything the letter says, as plain values."""
    if hold.kind == "internal" or (hold.agency is None and hold.request is None):
        raise NoLetter("An internal legal hold has no agency to confirm it to.")
    settings = current_app.config["REFERRALS_SETTINGS"]
    request = hold.request
    agency = hold.agency or (request.agency if request is not None else None)
    kind = HOLD_KINDS.get(hold.kind)
    live = hold.status in LIVE_STATUSES and (
        hold.expires_at is None or as_utc(hold.expires_at) > now())
    request_reference = request.reference if request is not None else None
    status = STATUSES.get(hold.status, hold.status)
    if hold.status in LIVE_STATUSES and not live:
        status = "Expired"
    return {
        "entity": _entity(hold),
        "issued_on": hold_date(hold, now()),
        "reference": hold.reference,
        "request_reference": request_reference or "",
        "their_reference": hold.external_reference or "",
        "agency_name": agency.name if agency is not None else "",
        "addressee": request.officer_name if request is not None else "",
        "badge_number": request.badge_number if request is not None else "",
        "issuing_authority": request.issuing_authority if request is not None else "",
        "request_received_on": hold_date(hold, request.received_at) if request is not None else "",
        "kind_label": kind.label if kind else hold.kind,
        "legal_basis": LEGAL_BASIS.get(hold.kind, kind.label if kind else ""),
        "legal_basis_detail": kind.source if kind else "",
        "legal_basis_cited": hold.legal_basis or "",
        "voluntary": VOLUNTARY_WORDING.get(hold.kind, ""),
        "identifiers": [{"kind": IDENTIFIER_KINDS.get(i.kind, i.kind), "value": i.value}
                        for i in hold.identifiers],
        "data_categories": [DATA_CATEGORIES.get(c, c) for c in (hold.data_categories or [])],
        "date_range": _date_range(hold),
        "preserved_since": hold_time(hold, hold.snapshot_at or hold.placed_at),
        "period_starts": hold_time(hold, hold.starts_at),
        "expires": _expiry(hold),
        "open_ended": hold.expires_at is None,
        "status": status,
        "live": live,
        "ended": hold_time(hold, hold.ended_at or hold.expires_at) if not live else "",
        "renewals": hold.renewals,
        "extensions": hold.extensions,
        "renewal": renewal_options(hold.kind, hold.renewals, hold.extensions,
                                   request_reference) if live and hold.expires_at else "",
        "zone": hold_zone(hold),
        "portal_url": (f"{settings.base_url}/portal/requests/{request_reference}"
                       if request_reference else f"{settings.base_url}/portal/"),
    }


def preservation_letter(hold: PreservationHold) -> bytes:
    """The letter as PDF bytes."""
    return render_pdf(TEMPLATE, {"letter": letter_values(hold)})


def issue_preservation_letter(actor: Identity, hold: PreservationHold) -> bytes:
    """Make the letter for ``actor`` (who has been allowed to see the hold) and record that
    it was issued, to whom."""
    pdf = preservation_letter(hold)
    record_event(actor, "hold.letter_issued", object_type="hold", object_id=hold.reference,
                 agency_id=hold.agency_id,
                 after={"audience": "agency" if actor.is_agency else "staff",
                        "status": hold.status, "bytes": len(pdf)})
    return pdf
