"""Intake of a disclosure request: plain-language checks, then submission with its deadline."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import BinaryIO
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select, text

from referrals.accounts.registration import require_approved
from referrals.agencies.models import Agency
from referrals.vocabulary.entities import LEGAL_ENTITIES, legal_zone
from referrals.audit.services import record_event
from referrals.vocabulary.identifiers import KINDS, normalize, phone_region
from referrals.core.clock import now
from referrals.core.deadlines import compute_deadline, end_of, nondisclosure_notice_due
from referrals.core.errors import InvalidInput, PermissionDenied
from referrals.core.identity import Identity
from referrals.core.mail import queue_mail
from referrals.core.staging import stage_blob
from referrals.core.storage import PendingFile
from referrals.core.timefmt import format_day, format_instant
from referrals.evidence.services import safe_file_name
from referrals.extensions import db
from referrals.remote.webhooks import queue_webhook
from referrals.requests import preservation, rules
from referrals.requests.models import (DisclosureRequest, LegalProcessDocument, RequestTarget,
                                       UserNoticeTask)
from referrals.requests.rules import RENEWAL_REQUEST_TYPES
from referrals.vocabulary.jurisdictions import eu_order_refusal, is_us_governmental

ALL_DATA = re.compile(r"\b(all|any and all|every)\s+(data|information|records|content|account data)\b",
                      re.IGNORECASE)
def deadline_key(request_type: str, emergency: bool) -> str | None:
    kind = rules.REQUEST_TYPES[request_type]
    if request_type == "eu_epoc" and emergency:
        return "eu_production_order_emergency"
    return kind.deadline


def check_request(data: dict) -> tuple[dict[str, str], list[str]]:
    """(errors by field, warnings) for a request as submitted. Errors refuse it."""
    errors: dict[str, str] = {}
    warnings: list[str] = []
    kind = rules.REQUEST_TYPES.get(data.get("request_type", ""))
    if kind is None:
        errors["request_type"] = "Choose the type of legal process."
        return errors, warnings
    categories = list(dict.fromkeys(data.get("data_categories") or []))
    unknown = [c for c in categories if c not in rules.DATA_CATEGORIES]
    if unknown or not categories:
        errors["data_categories"] = "Choose the categories of data you need."
    free_text = " ".join(str(data.get(k) or "") for k in (
        "legal_basis", "offences", "why_data_helps", "emergency_description"))
    if ALL_DATA.search(free_text):
        errors["data_categories"] = ("Requests for “all data” are refused. Name the categories "
                                     "of data and the period you need, and why.")
    date_from, date_to = data.get("date_from"), data.get("date_to")
    if not date_from or not date_to:
        errors["date_from"] = "Give the period you need data for (from and to dates)."
    elif date_from > date_to:
        errors["date_from"] = "The period starts after it ends."
    elif date_from > now().date():
        errors["date_from"] = "The period starts in the future."
    elif (date_to - date_from).days > 366:
        warnings.append("The period is longer than a year; platforms expect the narrowest "
                        "period the investigation needs.")
    if not data.get("targets"):
        errors["targets"] = "Give at least one account identifier."
    if kind.key in RENEWAL_REQUEST_TYPES and not (data.get("related_reference") or "").strip():
        errors["related_reference"] = ("Give the reference of the preservation request this "
                                       "renews (REQ-…).")
    if kind.emergency:
        for field, label in (("emergency_description", "the emergency"),
                             ("person_at_risk", "who is at risk"),
                             ("why_data_helps", "why this data helps")):
            if not (data.get(field) or "").strip():
                errors[field] = f"Describe {label}."
        if data.get("good_faith_attested") is not True:
            errors["good_faith_attested"] = rules.GOOD_FAITH_MISSING
    else:
        if not (data.get("legal_basis") or "").strip():
            errors["legal_basis"] = "Cite the legal basis (statute, article or order)."
        if not (data.get("issuing_authority") or "").strip():
            errors["issuing_authority"] = "Name the court or authority that issued the process."
    beyond = [c for c in categories if c in rules.DATA_CATEGORIES and c not in kind.reaches]
    if beyond:
        # "log-in / log-out data (with IP addresses)": lower the first letter only.
        names = ", ".join(rules.DATA_CATEGORIES[c][:1].lower() + rules.DATA_CATEGORIES[c][1:]
                          for c in beyond)
        if request_type_is_subpoena(kind.key):
            warnings.append(f"A subpoena reaches subscriber information only; {names} needs a "
                            "court order or search warrant. We will produce subscriber "
                            "information only unless you send other process.")
        else:
            warnings.append(f"{kind.label} does not ordinarily reach {names}.")
    if len(categories) == len(rules.DATA_CATEGORIES):
        warnings.append("Every category of data is asked for; say why each is needed.")
    if data.get("nondisclosure_order") and not data.get("nondisclosure_until"):
        warnings.append("The non-disclosure order has no end date: indefinite orders are "
                        "flagged for legal review (18 U.S.C. 2705(b)).")
    return_date = data.get("return_date")
    if return_date is not None and return_date < now().date():
        errors["return_date"] = "The return date on the process has passed."
    if data.get("enforcing_authority_notified") and not kind.eu_order:
        errors["enforcing_authority_notified"] = ("Only a European Production Order notifies "
                                                  "an enforcing authority.")
    addressed = data.get("addressed_to")
    if addressed not in LEGAL_ENTITIES:
        errors["addressed_to"] = "Say which of our legal entities the process is addressed to."
    elif addressed != kind.legal_entity and not kind.entity_from_agency:
        # (Who receives a preservation request depends on who sent it: submit_request.)
        warnings.append(f"The process is addressed to {LEGAL_ENTITIES[addressed]}, but "
                        f"{kind.label} is received by {LEGAL_ENTITIES[kind.legal_entity]}.")
    return errors, warnings


def request_type_is_subpoena(key: str) -> bool:
    return key == "subpoena"


PDF_MAGIC = b"%PDF-"


def check_pdf(stream: BinaryIO, name: str, limit: int) -> tuple[bytes, int]:
    """The PDF's bytes and page count, or a plain refusal (checked by its bytes, not its name)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"{safe_file_name(name)} is larger than {limit // (1024 * 1024)} MB.",
                           field="documents")
    if not data.startswith(PDF_MAGIC):
        raise InvalidInput(f"{safe_file_name(name)} is not a PDF file.", field="documents")
    from pypdf import PdfReader  # loaded on the first PDF, not with the app (it pulls in fontTools)

    # pypdf parses what an outsider sent: a damaged file can make it raise almost anything
    # (AttributeError, LimitReachedError, RecursionError …), and each is "not readable".
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
        pages = None if encrypted else len(reader.pages)
    except Exception as error:  # noqa: BLE001 (see above)
        raise InvalidInput(f"{safe_file_name(name)} is not a readable PDF.",
                           field="documents") from error
    if encrypted:
        raise InvalidInput(f"{safe_file_name(name)} is password-protected; send it without "
                           "a password.", field="documents")
    return data, pages


@dataclass(frozen=True)
class CheckedDocument:
    """A PDF that passed ``check_pdf``, stored (staged) before the transaction writes."""

    name: str
    pages: int | None
    stored: PendingFile


def check_documents(documents: list[tuple[str, BinaryIO]]) -> list[CheckedDocument]:
    """Check every PDF first (a refusal stores nothing), then stage each one: call it before
    the transaction's first write (nothing slow inside the audit lock)."""
    limit = current_app.config["REFERRALS_SETTINGS"].legal_process_max_bytes
    checked = [(name, *check_pdf(stream, name, limit)) for name, stream in documents]
    return [CheckedDocument(name, pages, stage_blob(io.BytesIO(content)))
            for name, content, pages in checked]


def attach_documents(actor: Identity, request: DisclosureRequest,
                     checked: list[CheckedDocument], at) -> list[LegalProcessDocument]:
    added = []
    for document in checked:
        written = document.stored.written
        added.append(LegalProcessDocument(
            original_name=safe_file_name(document.name), storage_name=written.name,
            sha256=written.sha256, size=written.size, pages=document.pages, uploaded_at=at,
            uploaded_by_id=actor.user_id))
        request.documents.append(added[-1])
    return added


def next_reference(year: int) -> str:
    number = db.session.execute(text(
        "INSERT INTO request_counters (year, last) VALUES (:year, 1) "
        "ON CONFLICT (year) DO UPDATE SET last = request_counters.last + 1 RETURNING last"),
        {"year": year}).scalar_one()
    return f"REQ-{year:04d}-{number:06d}"


def submit_request(actor: Identity, data: dict, documents: list[tuple[str, BinaryIO]]) -> DisclosureRequest:
    """An officer submits legal process. Errors refuse; warnings are kept and shown."""
    if not actor.is_agency or actor.agency_id is None:
        raise PermissionDenied("Only agency officers submit requests.")
    if actor.scopes is not None and not actor.has_scope("requests:write"):
        raise PermissionDenied("This token may not submit requests.")
    kind = rules.REQUEST_TYPES.get(data.get("request_type", ""))
    # An officer not yet approved may send an emergency only; it arrives flagged.
    unverified = require_approved(actor, emergency=kind is not None and kind.emergency)
    errors, warnings = check_request(data)
    if kind is not None and not kind.emergency and not documents and "documents" not in errors:
        errors["documents"] = "Attach the legal process as a PDF."
    if errors:
        field, message = next(iter(errors.items()))
        raise InvalidInput(message, field=field, errors=errors)
    received = now()
    agency = db.session.get(Agency, actor.agency_id)
    if kind.eu_order:
        refusal = eu_order_refusal(agency.country, received.astimezone(
            ZoneInfo(legal_zone("eu"))).date())
        if refusal:
            raise InvalidInput(refusal, field="request_type")
    # A renewal names the preservation it renews; one that cannot be renewed is refused
    # here, before anything is stored.
    hooks = preservation.hooks()
    related, renewing = hooks.related(actor, kind.key, data.get("related_reference"))
    region = phone_region()
    targets = []
    for target in data["targets"]:
        if target.get("kind") not in KINDS:
            raise InvalidInput("Choose the type of each identifier.", field="targets")
        try:
            normalized = normalize(target["kind"], target["value"], region=region)
        except InvalidInput as error:  # it names its own field "value"; ours is "targets"
            raise InvalidInput(error.message, field="targets") from error
        targets.append(RequestTarget(kind=target["kind"], value=target["value"].strip()[:320],
                                     normalized=normalized))
    if renewing is not None:
        warnings = warnings + hooks.renewal_warnings(renewing,
                                                     [(t.kind, t.normalized) for t in targets])
    settings = current_app.config["REFERRALS_SETTINGS"]
    checked = check_documents(documents)
    emergency = kind.emergency or bool(data.get("emergency") and kind.key == "eu_epoc")
    key = deadline_key(kind.key, emergency)
    us_governmental = is_us_governmental(agency.country, agency.kind)
    if renewing is not None:  # one zone: the renewal counts where the request it renews does
        entity = db.session.scalar(select(DisclosureRequest.legal_entity)
                                   .where(DisclosureRequest.reference == related))
    else:
        entity = rules.receiving_entity(kind, us_governmental, agency.legal_entity)
    zone = legal_zone(entity)
    if kind.entity_from_agency and data["addressed_to"] != entity:
        warnings = warnings + [f"The process is addressed to {LEGAL_ENTITIES[data['addressed_to']]}"
                               f", but it is received by {LEGAL_ENTITIES[entity]}, whose time "
                               "zone counts its dates."]
    return_date = data.get("return_date")
    if return_date is not None:
        deadline = end_of(return_date, zone)  # rule process_return_date
    elif key:
        deadline = compute_deadline(key, received, zone, settings)
    else:
        deadline = None
    notified = bool(data.get("enforcing_authority_notified")) and kind.key == "eu_epoc"
    request = DisclosureRequest(
        reference=next_reference(received.year), agency_id=actor.agency_id,
        submitted_by_id=actor.user_id, request_type=kind.key, emergency=emergency,
        status="received", is_open=True, addressed_to=data["addressed_to"],
        legal_entity=entity, return_date=return_date, related_reference=related,
        issuing_authority=(data.get("issuing_authority") or "").strip()[:300],
        officer_name=(data.get("officer_name") or "").strip()[:200],
        badge_number=(data.get("badge_number") or "").strip()[:64],
        official_email=(data.get("official_email") or "").strip()[:255],
        phone=(data.get("phone") or "").strip()[:40],
        data_categories=list(dict.fromkeys(data["data_categories"])),
        date_from=data["date_from"], date_to=data["date_to"],
        legal_basis=(data.get("legal_basis") or "").strip(),
        offences=(data.get("offences") or "").strip(),
        user_notice_allowed=bool(data.get("user_notice_allowed")),
        nondisclosure_order=bool(data.get("nondisclosure_order")),
        nondisclosure_until=data.get("nondisclosure_until") if data.get("nondisclosure_order") else None,
        emergency_description=(data.get("emergency_description") or "").strip(),
        person_at_risk=(data.get("person_at_risk") or "").strip(),
        why_data_helps=(data.get("why_data_helps") or "").strip(),
        **(dict(attestation_version=rules.GOOD_FAITH.version,
                attestation_text=rules.GOOD_FAITH.text, attested_at=received,
                attested_by_id=actor.user_id) if kind.emergency else {}),
        officer_unverified=unverified,
        warnings=warnings, received_at=received,
        deadline_at=deadline,
        internal_target_at=(compute_deadline("eu_production_order_emergency_target", received,
                                             zone) if key == "eu_production_order_emergency"
                            else None),
        enforcing_authority_notified=notified,
        enforcement_window_ends_at=(compute_deadline(
            "eu_enforcing_authority_window_emergency" if emergency
            else "eu_enforcing_authority_window", received, zone) if notified else None),
        nondisclosure_review_due_at=(
            compute_deadline("nondisclosure_indefinite_review", received, zone)
            if data.get("nondisclosure_order") and not data.get("nondisclosure_until") else None),
        updated_at=received, targets=targets,
    )
    db.session.add(request)
    db.session.flush()
    attach_documents(actor, request, checked, received)
    if request.user_notice_allowed and not request.nondisclosure_order:
        db.session.add(UserNoticeTask(request_id=request.id, due_at=received,
                                      reason="The agency allows the user to be notified."))
    elif request.nondisclosure_order and request.nondisclosure_until:
        # Rule nondisclosure_end: the end date is the order's last day in force.
        db.session.add(UserNoticeTask(
            request_id=request.id,
            due_at=nondisclosure_notice_due(request.nondisclosure_until, zone),
            reason=f"The non-disclosure order is in force until the end of "
                   f"{format_day(request.nondisclosure_until)}."))
    db.session.flush()
    record_event(actor, "request.submitted", object_type="request", object_id=request.reference,
                 agency_id=request.agency_id,
                 after={"type": request.request_type, "emergency": request.emergency,
                        "targets": len(targets), "documents": len(checked),
                        "deadline_at": request.deadline_at.isoformat() if request.deadline_at else None,
                        "warnings": warnings, "related_reference": related,
                        "attestation_version": request.attestation_version,
                        "officer_unverified": unverified})
    hooks.submitted(actor, request, renewing)
    _notify_team(request)
    return request


def _notify_team(request: DisclosureRequest) -> None:
    settings = current_app.config["REFERRALS_SETTINGS"]
    link = f"{settings.base_url}/requests/{request.reference}"
    if request.emergency:
        unverified = ("\nThe officer is not yet verified: the call-back to the agency's "
                      "registered number verifies them.\n" if request.officer_unverified else "")
        queue_mail(list(settings.oncall_emails), f"EMERGENCY request {request.reference}",
                   f"An emergency disclosure request arrived at {format_instant(request.received_at)}.\n"
                   f"First response is due within the hour.\n{unverified}\n"
                   f"{settings.base_url}/requests/{request.reference}/emergency\n")
        queue_webhook(settings.oncall_webhook_url, {
            "event": "emergency_request", "reference": request.reference,
            "received_at": request.received_at.isoformat(), "url": link},
            object_type="request", object_id=request.reference)
