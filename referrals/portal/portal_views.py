"""The agency portal: an officer's own requests, messages, colleagues and API tokens."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from referrals.core.acting import act, attempt
from referrals.core.clock import now
from referrals.core.errors import InvalidInput
from referrals.core.guards import portal_blueprint
from referrals.core.identity import current_identity
from referrals.core.kept_uploads import forget_kept, keep_uploads, kept_uploads, open_kept
from referrals.holds.reading import hold_for_request
from referrals.holds.standing import portal_fields
from referrals.requests import rules
from referrals.requests import services as requests
from referrals.requests import follow_up
from referrals.accounts.services import set_time_zone, time_zone_choices
from referrals.requests.forms import (TARGET_ROWS, ColleagueForm, EmergencyForm, FollowUpForm,
                                      MessageForm, RequestForm, TimeZoneForm, TokenRequestForm,
                                      WithdrawForm)
from referrals.requests.intake import PDF_MAGIC, submit_request
from referrals.tokens.services import create_officer_token, officer_tokens

bp = portal_blueprint("portal", __name__, url_prefix="/portal")


def _zone_form() -> TimeZoneForm:
    form = TimeZoneForm()
    form.time_zone.choices = ["UTC", *time_zone_choices()]
    return form


@bp.get("/")
def index():
    identity = current_identity()
    zone_form = _zone_form()
    zone_form.time_zone.data = current_user.time_zone
    return render_template("portal/index.html", user=current_user, agency=current_user.agency,
                           requests=requests.officer_requests(identity), rules=rules,
                           zone_form=zone_form)


@bp.post("/time-zone")
def time_zone():
    form = _zone_form()
    act(form, lambda who: set_time_zone(who, form.time_zone.data), current_identity(),
        done="Times are shown in your zone now.")
    return redirect(url_for(".index"))


def _form_data(form) -> dict:
    data = {name: field.data for name, field in form._fields.items()
            if not name.startswith("target_") and name not in ("documents", "csrf_token")}
    data["targets"] = [
        {"kind": getattr(form, f"target_kind_{i}").data, "value": getattr(form, f"target_value_{i}").data}
        for i in range(TARGET_ROWS) if (getattr(form, f"target_value_{i}").data or "").strip()]
    return data


def _submit(form, template: str, extra: dict):
    # Files attached to an earlier try that the form refused, kept for this session.
    kept = kept_uploads(request.form.getlist("kept_upload"), request.form.getlist("drop_upload"))
    if form.validate_on_submit():
        data = _form_data(form) | extra
        files = [(f.filename, f.stream) for f in (form.documents.data or []) if f and f.filename]
        # Input errors go under the fields they name ("targets", and anything else without
        # a field of its own, at the top of the form, not under an unrelated field); any
        # other refusal (a hold that cannot be renewed …) is said as a message.
        submitted = attempt(submit_request, current_identity(), data, files + open_kept(kept),
                            form=form, on_form=InvalidInput)
        if submitted.ok:
            forget_kept(kept)
            flash(f"Request {submitted.value.reference} received.", "success")
            return redirect(url_for(".detail", reference=submitted.value.reference))
    if request.method == "POST":  # refused: what was attached stays attached
        for upload in form.documents.data or []:
            if upload and upload.filename:
                upload.stream.seek(0)
        kept += keep_uploads(
            [(f.filename, f.stream) for f in (form.documents.data or []) if f and f.filename],
            max_bytes=current_app.config["REFERRALS_SETTINGS"].legal_process_max_bytes,
            starts_with=PDF_MAGIC)
    if request.method == "GET":
        form.officer_name.data = form.officer_name.data or current_user.full_name
        form.official_email.data = form.official_email.data or current_user.email
        form.badge_number.data = form.badge_number.data or current_user.badge_number
    return render_template(template, form=form, rows=range(TARGET_ROWS), kept=kept,
                           approved=current_user.approved_at is not None), \
        422 if form.errors else 200


@bp.route("/requests/new", methods=["GET", "POST"])
def new_request():
    return _submit(RequestForm(), "portal/new_request.html", {})


@bp.route("/requests/emergency", methods=["GET", "POST"])
def new_emergency():
    form = EmergencyForm()
    return _submit(form, "portal/emergency.html",
                   {"request_type": "emergency", "addressed_to": "us"})


@bp.get("/requests/<reference>")
def detail(reference: str):
    identity = current_identity()
    found = requests.get_request_for_officer(identity, reference)
    hold = hold_for_request(found)
    return render_template(
        "portal/request.html", req=found, rules=rules,
        hold=portal_fields(hold) if hold is not None else None,
        messages=requests.messages_for(found, include_internal=False),
        message_form=MessageForm(), colleague_form=ColleagueForm(), withdraw_form=WithdrawForm(),
        follow_up_form=FollowUpForm(),
        is_submitter=found.submitted_by_id == identity.user_id)


def _act(reference: str, form, action, done: str):
    identity = current_identity()
    found = requests.get_request_for_officer(identity, reference)
    act(form, action, identity, found, done=done)
    return redirect(url_for(".detail", reference=found.reference))


@bp.post("/requests/<reference>/messages")
def post_message(reference: str):
    form = MessageForm()
    return _act(reference, form, lambda who, req: requests.post_message(who, req, form.body.data),
                "Message sent to the LER team.")


def _uploads(form) -> list:
    return [(f.filename, f.stream) for f in (form.documents.data or []) if f and f.filename]


@bp.post("/requests/<reference>/documents")
def add_documents(reference: str):
    form = FollowUpForm()
    return _act(reference, form, lambda who, req: follow_up.add_documents(
        who, req, _uploads(form), form.body.data), "Added to the request: the LER team is told.")


@bp.post("/requests/<reference>/answer")
def answer(reference: str):
    form = FollowUpForm()
    return _act(reference, form, lambda who, req: follow_up.answer_needs_info(
        who, req, form.body.data, _uploads(form)),
        "Answer sent: the LER team checks your request again.")


@bp.post("/requests/<reference>/colleagues")
def add_colleague(reference: str):
    form = ColleagueForm()
    return _act(reference, form, lambda who, req: requests.add_colleague(who, req, form.email.data),
                "Colleague added.")


@bp.post("/requests/<reference>/withdraw")
def withdraw(reference: str):
    form = WithdrawForm()
    return _act(reference, form, lambda who, req: requests.withdraw_request(who, req, form.reason.data),
                "Request withdrawn.")


@bp.route("/tokens", methods=["GET", "POST"])
def tokens():
    identity = current_identity()
    form = TokenRequestForm()
    secret = None
    if form.validate_on_submit():
        created = attempt(create_officer_token, identity, name=form.name.data)
        secret = created.value[1] if created.ok else None
    return render_template("portal/tokens.html", form=form, secret=secret,
                           tokens=officer_tokens(identity), moment=now(),
                           token_days=current_app.config["REFERRALS_SETTINGS"].api_token_days)
