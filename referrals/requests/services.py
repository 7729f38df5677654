"""The staff workflow on disclosure requests, and what officers may do on their own.

Two people, always (``core.two_person``): whoever prepared the decisions cannot approve
them, and whoever prepared or collected the production cannot release it. An emergency request is released only after
an out-of-band call-back to a number from the agency registry.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from referrals.accounts.models import User
from referrals.accounts.registration import require_approved, verify_officer_by_callback
from referrals.accounts.services import find_user_by_email, is_assignable
from referrals.audit.services import record_event
from referrals.core.clock import now
from referrals.core.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from referrals.core.identity import Identity
from referrals.core.mail import queue_mail
from referrals.core.policy import Policy, has_role
from referrals.core.states import TransitionRefused
from referrals.core.two_person import APPROVE, RELEASE, Participants, require_second_person
from referrals.disclosures import services as disclosures
from referrals.disclosures.models import Disclosure
from referrals.evidence.models import EvidenceItem
from referrals.extensions import db
from referrals.requests import pause, preservation, rules
from referrals.requests.queue import RequestFilters, filtered
from referrals.requests.models import (DisclosureRequest, RequestCollaborator, RequestMessage,
                                       UserNoticeTask)
from referrals.requests.scope import is_officer, officer_request_clause


class RequestPolicy(Policy):
    rules = {
        "view": has_role("agent", "supervisor", "compliance"),
        "work": has_role("agent", "supervisor"),
        "approve": has_role("supervisor"),
        "release": has_role("supervisor"),
        "assign": has_role("supervisor"),
    }


request_policy = RequestPolicy()


def snapshot(request: DisclosureRequest) -> dict:
    return {"status": request.status, "assignee_id": request.assignee_id,
            "decisions": {t.id: t.decision for t in request.targets},
            "prepared_by_id": request.prepared_by_id, "approved_by_id": request.approved_by_id}


# --- loading: staff see every request; officers only those in the officer scope
# (``requests.scope``). Anything else is "not found", never "forbidden".


def get_request_for_staff(identity: Identity, reference: str) -> DisclosureRequest:
    request_policy.require(identity, "view")
    request = db.session.scalar(select(DisclosureRequest)
                                .where(DisclosureRequest.reference == reference.upper()))
    if request is None:
        raise NotFound(f"There is no request {reference}.")
    return request


def get_request_for_officer(identity: Identity, reference: str) -> DisclosureRequest:
    """One request in the officer scope (``requests.scope``); anything else, whether it
    exists or not, is the same "not found"."""
    request = db.session.scalar(select(DisclosureRequest).where(
        officer_request_clause(identity), DisclosureRequest.reference == reference.upper()))
    if request is None:
        raise NotFound("There is no such request.")
    return request


def officer_requests(identity: Identity) -> list[DisclosureRequest]:
    if not is_officer(identity):
        raise NotFound("There is nothing here.")
    return list(db.session.scalars(select(DisclosureRequest).where(officer_request_clause(identity))
                                   .order_by(DisclosureRequest.received_at.desc()).limit(200)))


# --- timeline (messages double as the record of what the agency was told) ------------


def tell_agency(request: DisclosureRequest, body: str, author: Identity | None = None) -> None:
    db.session.add(RequestMessage(request_id=request.id, author_id=author.user_id if author else None,
                                  from_agency=False, internal=False, body=body, created_at=now()))
    _notify_officers(request)


def _officer_emails(request: DisclosureRequest) -> list[str]:
    emails = [request.submitted_by.email] + [c.user.email for c in request.collaborators]
    return list(dict.fromkeys(emails))


def officer_names(request: DisclosureRequest) -> list[str]:
    """Who reads what is sent to the agency: the submitting officer and their colleagues."""
    people = [request.submitted_by] + [c.user for c in request.collaborators]
    return list(dict.fromkeys(p.display_name for p in people))


def _notify_officers(request: DisclosureRequest) -> None:
    settings = current_app.config["REFERRALS_SETTINGS"]
    # The mail says only that there is an update: nothing about the case travels by e-mail.
    queue_mail(_officer_emails(request), "An update on your request",
               f"There is an update on request {request.reference}. Sign in to the portal to "
               f"read it:\n\n{settings.base_url}/portal/requests/{request.reference}\n")


def _notify_team(request: DisclosureRequest) -> None:
    settings = current_app.config["REFERRALS_SETTINGS"]
    recipients = []
    if request.assignee_id:
        assignee = db.session.get(User, request.assignee_id)
        if assignee is not None:
            recipients.append(assignee.email)
    elif request.emergency:
        recipients.extend(settings.oncall_emails)
    queue_mail(recipients, "An update on a request",
               f"The agency wrote on {request.reference}.\n\n{settings.base_url}/requests/"
               f"{request.reference}\n")


# --- staff workflow ----------------------------------------------------------------------


def assign_request(actor: Identity, request: DisclosureRequest, assignee_id: int | None) -> None:
    """Who works the request. Anyone who works requests may take an unassigned one for
    themselves; giving it to someone else, taking it from someone, or unassigning it is a
    supervisor's (audited like every change)."""
    request_policy.require(actor, "work", request)
    taking = assignee_id == actor.user_id and request.assignee_id is None
    if not taking:
        request_policy.require(actor, "assign", request)
    if assignee_id is not None and not is_assignable(assignee_id):
        raise InvalidInput("Assign the request to an active agent or supervisor.",
                           field="assignee_id")
    if request.assignee_id == assignee_id:
        raise DomainError("The request is already assigned that way.")
    before = snapshot(request)
    request.assignee_id = assignee_id
    request.updated_at = now()
    db.session.flush()
    record_event(actor, "request.assigned", object_type="request", object_id=request.reference,
                 agency_id=request.agency_id, before=before, after=snapshot(request))


def move_request(actor: Identity, request: DisclosureRequest, status: str, reason: str = "") -> None:
    request_policy.require(actor, "work", request)
    transition = rules.REQUEST_STATES.require(request.status, status, reason=reason)
    reason = (reason or "").strip()
    if status == "ready_for_review" and not request.approved_by_id:
        raise DomainError("The request has not been approved.")
    before = snapshot(request)
    at = now()
    request.status = status
    request.is_open = not rules.REQUEST_STATES.is_final(status)
    request.updated_at = at
    clock = pause.follow_status(request, status, at)
    if status in ("rejected", "redirected_mlat"):
        request.decision_reason = reason
    if status == "ready_for_review":
        request.collected_by_id = actor.user_id
    if status in ("narrowed",):
        request.prepared_by_id = None  # decisions must be prepared and approved again
        request.approved_by_id = None
    db.session.flush()
    record_event(actor, "request.status_changed", object_type="request",
                 object_id=request.reference, agency_id=request.agency_id, before=before,
                 after={**snapshot(request), "reason": reason, **clock})
    if transition.tells_agency:
        tell_agency(request, f"Status: {rules.STATUSES[status]}." + (f"\n\n{reason}" if reason else ""),
                     actor)


def decide_targets(actor: Identity, request: DisclosureRequest, decisions: dict[int, tuple[str, str]]) -> None:
    """Record produce / withhold (with a reason) for each target: this prepares the disclosure."""
    request_policy.require(actor, "work", request)
    if request.status not in rules.APPROVABLE_FROM:
        raise DomainError("Decisions are made during legal review.")
    before = snapshot(request)
    by_id = {t.id: t for t in request.targets}
    for target_id, (decision, reason) in decisions.items():
        target = by_id.get(target_id)
        if target is None:
            raise NotFound("There is no such target on this request.")
        if decision not in ("produce", "withhold"):
            raise InvalidInput("Decide produce or withhold for every target.", field="decision")
        if decision == "withhold" and not (reason or "").strip():
            raise InvalidInput(f"Say why {target.normalized} is withheld.", field="decision")
        target.decision, target.decision_reason = decision, (reason or "").strip()
    request.prepared_by_id = actor.user_id
    request.prepared_at = now()
    request.approved_by_id = None
    request.updated_at = now()
    db.session.flush()
    record_event(actor, "request.decisions_prepared", object_type="request",
                 object_id=request.reference, agency_id=request.agency_id, before=before,
                 after={**snapshot(request), "reasons": {t.id: t.decision_reason for t in request.targets}})


def approve_request(actor: Identity, request: DisclosureRequest) -> None:
    request_policy.require(actor, "approve", request)
    approval = rules.REQUEST_STATES.find(request.status, "approved", by="approve")
    if approval is None:
        raise TransitionRefused("Only a request in legal review can be approved.")
    if request.prepared_by_id is None or any(t.decision is None for t in request.targets):
        raise DomainError("Decide every target before approval.")
    require_second_person(actor, APPROVE, participants(request))
    if not any(t.decision == "produce" for t in request.targets):
        raise DomainError("Nothing is to be produced: reject the request instead.")
    before = snapshot(request)
    request.status = "approved"
    request.approved_by_id = actor.user_id
    request.approved_at = now()
    request.updated_at = now()
    db.session.flush()
    record_event(actor, "request.approved", object_type="request", object_id=request.reference,
                 agency_id=request.agency_id, before=before, after=snapshot(request))
    if approval.tells_agency:
        tell_agency(request, "Status: Approved. We are collecting the data.", actor)


def record_callback(actor: Identity, request: DisclosureRequest, phone_id: int, outcome: str) -> None:
    """The out-of-band call-back: to a number from the agency registry, not from the request.
    On an emergency sent by an officer not yet approved, it verifies the officer too."""
    request_policy.require(actor, "work", request)
    phone = next((p for p in request.agency.phones if p.id == phone_id), None)
    if phone is None:
        raise InvalidInput("Choose a number from the agency registry.", field="phone_id")
    outcome = (outcome or "").strip()
    if not outcome:
        raise InvalidInput("Say who you spoke to and what they confirmed.", field="outcome")
    request.callback_number = phone.number
    request.callback_at = now()
    request.callback_by_id = actor.user_id
    request.callback_outcome = outcome
    db.session.flush()
    record_event(actor, "request.callback_recorded", object_type="request",
                 object_id=request.reference, agency_id=request.agency_id,
                 after={"number": phone.number, "outcome": outcome,
                        "verifies_officer": request.officer_unverified})
    if request.officer_unverified:
        verify_officer_by_callback(actor, request.submitted_by, reference=request.reference,
                                   number=phone.number)


def collected_for(request: DisclosureRequest) -> list[EvidenceItem]:
    """What was collected from the platform for the request (see requests.collection): its
    production."""
    return list(db.session.scalars(select(EvidenceItem).where(EvidenceItem.request_id == request.id)
                                   .order_by(EvidenceItem.id)))


def _answers_produced_target(item: EvidenceItem, targets: list[tuple[str, str]]) -> bool:
    """The item answers a target decided "produce": its records file, or a content file, is
    named after it (``connector.services.store_exports``)."""
    category = item.data_category
    return any(item.original_name == f"{category}-{kind}-{value}.json"
               or (item.description or "") == f"File from {category} data of {kind} {value}"
               for kind, value in targets)


def produced_items(request: DisclosureRequest) -> list[EvidenceItem]:
    """What may leave of what was collected: the items for a target decided "produce", in a
    data category the request asked for, not destroyed. (The approved period was applied when
    the platform was asked.) The disclosure record and the package carry exactly these."""
    targets = [(t.kind, t.normalized) for t in request.targets if t.decision == "produce"]
    categories = set(request.data_categories or ())
    return [item for item in collected_for(request)
            if item.destroyed_at is None and item.blob_id is not None
            and item.data_category in categories and _answers_produced_target(item, targets)]


def participants(request: DisclosureRequest) -> Participants:
    """Who prepared the request's decisions and who collected its production, for the
    two-person rule."""
    return Participants.of(prepared_by=(request.prepared_by_id,),
                           collected_by=(request.collected_by_id,
                                         *disclosures.collectors(collected_for(request))))


def record_disclosure(actor: Identity, request: DisclosureRequest, package_sha256: str | None = None) -> Disclosure:
    """Release the production: the disclosure record with every collected item, then the
    request is disclosed."""
    request_policy.require(actor, "release", request)
    release = rules.REQUEST_STATES.find(request.status, "disclosed", by="disclose")
    if release is None:
        raise TransitionRefused("Only a production that is ready for review can be released.")
    require_second_person(actor, RELEASE, participants(request))
    if request.emergency and request.callback_at is None:
        raise DomainError("Before anything is disclosed on an emergency request, record the "
                          "call-back to a number from the agency registry.")
    disclosure = disclosures.record_disclosure(
        actor, kind="emergency_disclosure" if request.emergency else "production",
        agency=request.agency, request_id=request.id,
        legal_basis=request.legal_basis or rules.REQUEST_TYPES[request.request_type].label,
        data_categories=request.data_categories or (),
        subjects=[disclosures.Subject(t.kind, t.normalized)
                  for t in request.targets if t.decision == "produce"],
        items=produced_items(request), prepared_by_id=request.prepared_by_id,
        approved_by_id=request.approved_by_id,
        collector_ids={request.collected_by_id} - {None}, package_sha256=package_sha256)
    at = disclosure.disclosed_at
    before = snapshot(request)
    request.status = "disclosed"
    request.disclosed_by_id = actor.user_id
    request.disclosed_at = at
    request.updated_at = at
    db.session.flush()
    record_event(actor, "request.disclosed", object_type="request", object_id=request.reference,
                 agency_id=request.agency_id, before=before,
                 after={"disclosure_id": disclosure.id,
                        "targets": [s.identifier for s in disclosure.subjects],
                        "categories": disclosure.data_categories,
                        "items": len(disclosure.items),
                        "approved_by_id": disclosure.approved_by_id})
    if release.tells_agency:
        # The production is the agency's when its package is ready (referrals.packages
        # tells them then): released is not yet downloadable.
        tell_agency(request, "Status: Disclosed. The production is being packaged: you are "
                             "told here when it is ready to download.", actor)
    return disclosure


def complete_user_notice(actor: Identity, task: UserNoticeTask) -> None:
    request_policy.require(actor, "work")
    if task.done_at is not None:
        raise DomainError("This notice is already recorded as given.")
    task.done_at = now()
    task.done_by_id = actor.user_id
    db.session.flush()
    # Filed under the request's reference, like every other event on the request.
    record_event(actor, "request.user_notified", object_type="request",
                 object_id=task.request.reference, agency_id=task.request.agency_id,
                 after={"task_id": task.id, "reason": task.reason})


def user_notices_due() -> list[UserNoticeTask]:
    return list(db.session.scalars(select(UserNoticeTask).where(
        UserNoticeTask.done_at.is_(None), UserNoticeTask.due_at <= now())
        .order_by(UserNoticeTask.due_at)))


# --- messages, colleagues, withdrawal (both sides) ------------------------------------------


def post_message(actor: Identity, request: DisclosureRequest, body: str,
                 internal: bool | None = None) -> RequestMessage:
    """A message on the request. From staff it is an internal note unless ``internal`` is
    False said outright (``send_to_agency``): nothing reaches an agency by default. From an
    officer it always goes to the team."""
    if internal is None:
        internal = not actor.is_agency
    body = (body or "").strip()
    if not body:
        raise InvalidInput("Write the message first.", field="body")
    if len(body) > 20000:
        raise InvalidInput("A message can be at most 20,000 characters.", field="body")
    if actor.is_agency:
        get_request_for_officer(actor, request.reference)  # scope check again, in the service
        require_approved(actor)  # an officer not yet verified sends an emergency, nothing else
        internal = False
    else:
        request_policy.require(actor, "work", request)
    message = RequestMessage(request_id=request.id, author_id=actor.user_id,
                             from_agency=actor.is_agency, internal=internal, body=body,
                             created_at=now())
    db.session.add(message)
    request.updated_at = now()
    db.session.flush()
    record_event(actor, "request.message_posted", object_type="request",
                 object_id=request.reference, agency_id=request.agency_id,
                 after={"message_id": message.id, "internal": internal, "length": len(body)})
    if actor.is_agency:
        _notify_team(request)
    elif not internal:
        _notify_officers(request)
    return message


def send_to_agency(actor: Identity, request: DisclosureRequest, body: str) -> RequestMessage:
    """Staff write to the agency: the officers read ``body`` exactly as given, and are told
    by mail that there is an update."""
    if actor.is_agency:
        raise PermissionDenied("Officers write to the team, not to an agency.")
    return post_message(actor, request, body, internal=False)


def messages_for(request: DisclosureRequest, *, include_internal: bool) -> list[RequestMessage]:
    query = select(RequestMessage).where(RequestMessage.request_id == request.id)
    if not include_internal:
        query = query.where(RequestMessage.internal.is_(False))
    return list(db.session.scalars(query.order_by(RequestMessage.created_at, RequestMessage.id)))


def add_colleague(actor: Identity, request: DisclosureRequest, email: str) -> User:
    request = get_request_for_officer(actor, request.reference)
    require_approved(actor)
    if request.submitted_by_id != actor.user_id:
        raise PermissionDenied("Only the officer who submitted the request can add colleagues.")
    if len(request.collaborators) >= rules.MAX_COLLEAGUES:
        raise DomainError(f"A request can have at most {rules.MAX_COLLEAGUES} colleagues.")
    # Addresses are stored as registered (the local part keeps its case): compare case-blind.
    colleague = find_user_by_email(email or "")
    # A colleague passes the checks a submitter passed (confirmed address, LER approval):
    # sharing must not be a way around approval.
    if (colleague is None or colleague.kind != "agency" or colleague.agency_id != actor.agency_id
            or not colleague.active or colleague.id == actor.user_id
            or colleague.confirmed_at is None or colleague.approved_at is None):
        # The same answer whether the address exists elsewhere or not.
        raise InvalidInput("No colleague of your agency has this address on the portal.",
                           field="email")
    if any(c.user_id == colleague.id for c in request.collaborators):
        raise InvalidInput("This colleague is already on the request.", field="email")
    request.collaborators.append(RequestCollaborator(user_id=colleague.id))
    db.session.flush()
    record_event(actor, "request.colleague_added", object_type="request",
                 object_id=request.reference, agency_id=request.agency_id,
                 after={"user_id": colleague.id})
    return colleague


def withdraw_request(actor: Identity, request: DisclosureRequest, reason: str = "") -> None:
    request = get_request_for_officer(actor, request.reference)
    require_approved(actor)
    withdrawal = rules.REQUEST_STATES.find(request.status, "withdrawn", by="withdraw")
    if withdrawal is None:
        raise TransitionRefused("This request can no longer be withdrawn.")
    before = snapshot(request)
    request.status = withdrawal.target
    request.is_open = not rules.REQUEST_STATES.is_final(withdrawal.target)
    request.updated_at = now()
    db.session.flush()
    record_event(actor, "request.withdrawn", object_type="request", object_id=request.reference,
                 agency_id=request.agency_id, before=before,
                 after={**snapshot(request), "reason": (reason or "").strip()})
    preservation.hooks().withdrawn(actor, request)
    _notify_team(request)


def staff_queue(identity: Identity, filters: RequestFilters | None = None, *,
                open_only: bool = True, limit: int = 200) -> list[DisclosureRequest]:
    """The queue (``requests.queue``): waiting before answered, emergencies first, then by
    deadline; narrowed to ``filters`` (default: every open request)."""
    request_policy.require(identity, "view")
    filters = filters or RequestFilters(open_only=open_only)
    return list(db.session.scalars(
        filtered(select(DisclosureRequest), filters, identity).limit(limit)))
