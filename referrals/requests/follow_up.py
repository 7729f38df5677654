"""What an officer adds to a request already sent: further legal process (the missing page of
a warrant), and the answer to a "needs information" message, which hands the request back to
staff to be verified again.

The PDFs are checked as on intake (``intake.check_documents``: by their bytes, readable, not
password-protected, not too large) and stored before the transaction writes; each addition
is an audit event naming every document with its SHA-256, and a message on the request's
timeline that staff read (the LER team is told by mail, as for any message from the agency).
"""

from __future__ import annotations

from typing import BinaryIO

from referrals.accounts.registration import require_approved
from referrals.audit.services import record_event
from referrals.core.clock import now
from referrals.core.errors import DomainError, InvalidInput
from referrals.core.identity import Identity
from referrals.core.states import TransitionRefused
from referrals.extensions import db
from referrals.requests import pause, rules
from referrals.requests.intake import attach_documents, check_documents
from referrals.requests.models import DisclosureRequest, LegalProcessDocument
from referrals.requests.services import get_request_for_officer, post_message, snapshot

MAX_DOCUMENTS = 10


def _officer_request(actor: Identity, request: DisclosureRequest) -> DisclosureRequest:
    request = get_request_for_officer(actor, request.reference)  # the officer scope, again
    require_approved(actor)
    if not request.is_open or request.status in rules.CLOCK_STOPPED_STATUSES:
        raise DomainError("This request is over: send a new request instead.")
    return request


def _documents_text(added: list[LegalProcessDocument]) -> str:
    return "; ".join(f"{d.original_name} ({d.pages} page{'s' if d.pages != 1 else ''})"
                     for d in added)


def _attach(actor: Identity, request: DisclosureRequest, checked) -> list[LegalProcessDocument]:
    at = now()
    added = attach_documents(actor, request, checked, at)
    request.updated_at = at
    db.session.flush()
    record_event(actor, "request.documents_added", object_type="request",
                 object_id=request.reference, agency_id=request.agency_id,
                 after={"documents": [{"id": d.id, "name": d.original_name, "sha256": d.sha256,
                                       "size": d.size, "pages": d.pages} for d in added]})
    return added


def add_documents(actor: Identity, request: DisclosureRequest,
                  documents: list[tuple[str, BinaryIO]], note: str = "") -> list[LegalProcessDocument]:
    """Further legal process for an open request, with a word for the LER team."""
    request = _officer_request(actor, request)
    if not documents:
        raise InvalidInput("Attach the PDF to add.", field="documents")
    if len(documents) > MAX_DOCUMENTS:
        raise InvalidInput(f"Attach at most {MAX_DOCUMENTS} documents at a time.",
                           field="documents")
    added = _attach(actor, request, check_documents(documents))
    note = (note or "").strip()
    post_message(actor, request, f"Added: {_documents_text(added)}." + (f"\n\n{note}" if note else ""))
    return added


def answer_needs_info(actor: Identity, request: DisclosureRequest, body: str,
                      documents: list[tuple[str, BinaryIO]]) -> DisclosureRequest:
    """The officer answers "needs information": their message (and any documents) go on the
    request, it goes back to staff ("verifying"), and its clock runs again (every deadline
    moved on by the time it stood waiting for the agency)."""
    request = _officer_request(actor, request)
    answer = rules.REQUEST_STATES.find(request.status, "verifying", by="answer")
    if answer is None:
        raise TransitionRefused("The LER team has not asked for more information on this "
                                "request: send a message instead.")
    body = (body or "").strip()
    if not body and not documents:
        raise InvalidInput("Write your answer or attach a document.", field="body")
    if len(documents) > MAX_DOCUMENTS:
        raise InvalidInput(f"Attach at most {MAX_DOCUMENTS} documents at a time.",
                           field="documents")
    checked = check_documents(documents)  # before the first write
    before = snapshot(request)
    added = _attach(actor, request, checked) if checked else []
    text = body + (f"\n\nAdded: {_documents_text(added)}." if added else "")
    post_message(actor, request, text.strip())
    at = now()
    request.status = answer.target
    request.updated_at = at
    # The clock stood while we waited on the agency (requests.pause): it runs again now.
    clock = pause.follow_status(request, answer.target, at)
    db.session.flush()
    record_event(actor, "request.answered", object_type="request", object_id=request.reference,
                 agency_id=request.agency_id, before=before,
                 after={**snapshot(request), "documents": [d.id for d in added], **clock})
    return request
