"""Staff pages for disclosure requests: the queue, and the workflow on one request."""

from __future__ import annotations

from flask import Response, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from referrals.accounts.services import assignable_staff
from referrals.audit.services import record_view
from referrals.core.acting import act
from referrals.core.clock import now
from referrals.core.forms import ConfirmForm
from referrals.audit.services import record_event
from referrals.core.errors import NotFound
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.inputs import int_arg
from referrals.core.identity import READERS, WORKERS, current_identity
from referrals.core.progress import STATES as PROGRESS_STATES
from referrals.core.progress import progress_json
from referrals.core.storage import get_store
from referrals.core.two_person import APPROVE, RELEASE, second_person_refusal
from referrals.disclosures.models import DISCLOSURE_KINDS
from referrals.extensions import db
from referrals.evidence.policies import evidence_policy
from referrals.evidence.services import open_content
from referrals.evidence.staff_views import bytes_response, content_disposition
from referrals.requests import canned, clock, collection, preservation, rules
from referrals.requests.canned import canned_policy
from referrals.requests.requester import who_is_asking
from referrals.requests import clock, collection, preservation, rules
from referrals.requests.letters import LETTERS, issue_request_letter
from referrals.requests import services as requests
from referrals.requests.forms import (AssignForm, CallbackForm, ClockNoteForm, MoveForm,
                                      StaffMessageForm)
from referrals.requests.queue import RequestFilters, agencies_to_filter
from referrals.requests.models import LegalProcessDocument, UserNoticeTask
from referrals.vocabulary.categories import DATA_CATEGORIES

bp = staff_blueprint("requests", __name__, url_prefix="/requests")


@bp.get("/")
@roles_required(*READERS)
def index():
    identity = current_identity()
    filters = RequestFilters.from_args(request.args)
    may_assign = requests.request_policy.can(identity, "assign")
    return render_template("requests/queue.html", requests=requests.staff_queue(identity, filters),
                           notices=requests.user_notices_due(), rules=rules, filters=filters,
                           open_only=filters.open_only, now=now(),
                           agencies=agencies_to_filter(filters), staff=assignable_staff(),
                           may_assign=may_assign, confirm=ConfirmForm())


@bp.get("/nondisclosure-reviews")
@roles_required(*READERS)
def nondisclosure_reviews():
    """The legal-review queue of non-disclosure orders without an end date."""
    found = clock.nondisclosure_reviews(current_identity())
    return render_template("requests/nondisclosure_reviews.html", requests=found, now=now(),
                           zone_of=clock.request_zone, form=ClockNoteForm(),
                           rule=clock.RULES["nondisclosure_indefinite_review"])


@bp.get("/<reference>")
@roles_required(*READERS)
def detail(reference: str):
    identity = current_identity()
    found = requests.get_request_for_staff(identity, reference)
    message_form = StaffMessageForm()
    canned_id = int_arg("canned")
    if canned_id and canned_policy.can(identity, "read"):
        # "Insert" a canned text: it lands in the message form, to be read and sent as any.
        message_form.body.data = canned.get_canned_text(identity, canned_id).body
    return _detail_page(identity, found, message_form)


def _detail_page(identity, found, message_form: StaffMessageForm):
    move_form = MoveForm()
    move_form.status.choices = [("", "Choose…"), *rules.REQUEST_STATES.choices(found.status)]
    callback_form = CallbackForm()
    callback_form.phone_id.choices = [(p.id, f"{p.number} {p.label}".strip()) for p in found.agency.phones]
    notice = db.session.scalar(select(UserNoticeTask).where(UserNoticeTask.request_id == found.id))
    collected = collection.collected_items(found)
    participants = requests.participants(found)
    holds = preservation.hooks().holds_of(found)
    page = render_template(
        "requests/detail.html", req=found, rules=rules, now=now(), notice=notice, letters=LETTERS,
        messages=requests.messages_for(found, include_internal=True),
        move_form=move_form, callback_form=callback_form, message_form=message_form,
        canned_texts=canned.canned_texts(identity) if canned_policy.can(identity, "read") else [],
        may_assign=requests.request_policy.can(identity, "assign", found),
        staff=assignable_staff() if requests.request_policy.can(identity, "assign", found) else [],
        confirm=ConfirmForm(),
        can_work=requests.request_policy.can(identity, "work", found),
        # The role may (policy), and the two-person rule: None, or why this person may not.
        may_approve=requests.request_policy.can(identity, "approve", found)
        and found.prepared_by_id is not None,
        may_release=requests.request_policy.can(identity, "release", found),
        second_person={step: second_person_refusal(identity, step, participants)
                       for step in (APPROVE, RELEASE)},
        collected=collected, holds=holds, disclosures=found.disclosures,
        disclosure_kinds=DISCLOSURE_KINDS, data_categories=DATA_CATEGORIES,
        openable={c.id for c in collected if evidence_policy.can(identity, "read_bytes", c)},
        can_collect=found.status == "collecting"
        and requests.request_policy.can(identity, "work", found),
        collecting=collection.collection_progress(found), progress_labels=PROGRESS_STATES,
        clock_facts=clock.clock_facts(found), clock_form=ClockNoteForm(),
        requester=who_is_asking(found),
    )
    record_view(identity, "request", found.reference, agency_id=found.agency_id)  # last
    return page


def _act(reference: str, form, action, done: str):
    identity = current_identity()
    found = requests.get_request_for_staff(identity, reference)
    act(form, action, identity, found, done=done)
    return redirect(url_for(".detail", reference=found.reference))


@bp.post("/<reference>/take")
@roles_required(*WORKERS)
def take(reference: str):
    return _act(reference, ConfirmForm(), lambda who, req: requests.assign_request(who, req, who.user_id),
                "The request is yours.")


@bp.post("/<reference>/assign")
@roles_required("supervisor")
def assign(reference: str):
    """A supervisor gives the request to someone (or to nobody), from the queue or the page;
    back to where it was done from."""
    form = AssignForm()
    form.assignee_id.choices = [(0, "")] + [(u.id, u.display_name) for u in assignable_staff()]
    identity = current_identity()
    found = requests.get_request_for_staff(identity, reference)
    act(form, requests.assign_request, identity, found, form.assignee_id.data or None,
        done=f"{found.reference} assigned.")
    back = form.back.data if (form.back.data or "").startswith("/requests") else ""
    return redirect(back or url_for(".detail", reference=found.reference))


@bp.post("/<reference>/status")
@roles_required(*WORKERS)
def move(reference: str):
    form = MoveForm()
    return _act(reference, form, lambda who, req: requests.move_request(who, req, form.status.data,
                                                                        form.reason.data),
                "Status changed.")


def _with_note(reference: str, service, done: str):
    form = ClockNoteForm()
    return _act(reference, form, lambda who, req: service(who, req, form.note.data), done)


@bp.post("/<reference>/clock/stop")
@roles_required(*WORKERS)
def stop_clock(reference: str):
    return _with_note(reference, clock.stop_clock,
                      "Clock stopped: the agency was told we cannot comply until it clarifies.")


@bp.post("/<reference>/clock/restart")
@roles_required(*WORKERS)
def restart_clock(reference: str):
    return _with_note(reference, clock.restart_clock,
                      "Clock restarted: the deadlines moved on by the time it stood.")


@bp.post("/<reference>/nondisclosure-review")
@roles_required(*WORKERS)
def review_nondisclosure(reference: str):
    return _with_note(reference, clock.review_nondisclosure,
                      "Review recorded; the next one is scheduled.")


@bp.post("/<reference>/decisions")
@roles_required(*WORKERS)
def decide(reference: str):
    form = ConfirmForm()

    def act(who, req):
        decisions = {t.id: (request.form.get(f"decision_{t.id}", ""),
                            request.form.get(f"reason_{t.id}", "")) for t in req.targets}
        requests.decide_targets(who, req, decisions)

    return _act(reference, form, act, "Decisions saved. Another supervisor must approve them.")


@bp.post("/<reference>/approve")
@roles_required("supervisor")
def approve(reference: str):
    return _act(reference, ConfirmForm(), requests.approve_request, "Approved.")


@bp.post("/<reference>/callback")
@roles_required(*WORKERS)
def callback(reference: str):
    form = CallbackForm()
    found = requests.get_request_for_staff(current_identity(), reference)
    form.phone_id.choices = [(p.id, p.number) for p in found.agency.phones]
    return _act(reference, form, lambda who, req: requests.record_callback(
        who, req, form.phone_id.data, form.outcome.data), "Call-back recorded.")


# Releasing (/<reference>/disclose) records the disclosure and builds its package: it is
# referrals.packages.staff_views.release (packages sit above requests).


@bp.post("/<reference>/collect")
@roles_required(*WORKERS)
def collect(reference: str):
    identity = current_identity()
    found = requests.get_request_for_staff(identity, reference)
    act(ConfirmForm(), collection.start_collection, identity, found,
        done="Collecting from the platform: this section shows how far it got.")
    return redirect(url_for(".detail", reference=found.reference) + "#collected")


@bp.get("/<reference>/collection/progress")
@roles_required(*READERS)
def collection_progress(reference: str):
    found = requests.get_request_for_staff(current_identity(), reference)
    return jsonify(progress_json(collection.collection_progress(found)))


@bp.get("/<reference>/collected/<int:item_id>")
@roles_required(*READERS)
def collected_item(reference: str, item_id: int):
    identity = current_identity()
    found = requests.get_request_for_staff(identity, reference)
    item = collection.get_collected_item(found, item_id)
    chunks = open_content(identity, item, action="downloaded",
                          purpose=f"Downloaded from request {found.reference}")
    return bytes_response(item, chunks)


@bp.post("/<reference>/messages")
@roles_required(*WORKERS)
def message(reference: str):
    """The message form's two buttons: keep it as an internal note (the default, and the
    Enter key), or see exactly what the agency would read before choosing to send it."""
    form = StaffMessageForm()
    if form.action.data == "preview" and form.validate_on_submit():
        identity = current_identity()
        found = requests.get_request_for_staff(identity, reference)
        return render_template("requests/message_preview.html", req=found, body=form.body.data,
                               form=form, recipients=requests.officer_names(found))
    if form.action.data == "edit":
        identity = current_identity()
        found = requests.get_request_for_staff(identity, reference)
        return _detail_page(identity, found, form)
    return _act(reference, form, lambda who, req: requests.post_message(
        who, req, form.body.data, internal=True), "Internal note saved: the agency does not see it.")


@bp.post("/<reference>/messages/send")
@roles_required(*WORKERS)
def send_message(reference: str):
    """Sent only from the preview, which showed the text the agency reads."""
    form = StaffMessageForm()
    return _act(reference, form, lambda who, req: requests.send_to_agency(who, req, form.body.data),
                "Sent to the agency: the officers were told by e-mail that there is an update.")


@bp.post("/notices/<int:task_id>/done")
@roles_required(*WORKERS)
def notice_done(task_id: int):
    form = ConfirmForm()
    task = db.session.get(UserNoticeTask, task_id)
    if task is not None:
        act(form, requests.complete_user_notice, current_identity(), task,
            done="User notice recorded.")
    return redirect(url_for(".index"))


@bp.get("/<reference>/documents/<int:document_id>")
@roles_required(*READERS)
def document(reference: str, document_id: int):
    from flask import Response

    identity = current_identity()
    found = requests.get_request_for_staff(identity, reference)
    doc = db.session.scalar(select(LegalProcessDocument).where(
        LegalProcessDocument.id == document_id, LegalProcessDocument.request_id == found.id))
    if doc is None:
        raise NotFound("There is no such document on this request.")
    record_event(identity, "request.document_viewed", object_type="request",
                 object_id=found.reference, agency_id=found.agency_id,
                 after={"document_id": doc.id, "sha256": doc.sha256})
    response = Response(get_store().read(doc.storage_name), mimetype="application/pdf",
                        direct_passthrough=True)
    response.headers["Content-Disposition"] = content_disposition("attachment", doc.original_name)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/<reference>/letter.pdf")
@roles_required(*READERS)
def letter(reference: str):
    """The letter answering a request that needs more information, is rejected or is
    redirected to an MLAT (``requests.letters``)."""
    found = requests.get_request_for_staff(current_identity(), reference)
    pdf = issue_request_letter(current_identity(), found)
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{found.reference}-letter.pdf"'})
