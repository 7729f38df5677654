"""Staff pages for cases: queues, the case page, and the actions on it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import current_app, flash, redirect, render_template, request, url_for

from referrals.accounts.services import assignee_choices
from referrals.audit.services import record_view
from referrals.cases import queue as queues
from referrals.cases import corrections, reading, rules, services
from referrals.cases.forms import (AssignForm, DueForm, EvidenceForm, IdentifierCorrectionForm,
                                   IdentifierForm, NewCaseForm, NoteForm, StatusForm,
                                   SubjectCorrectionForm, SubjectForm)
from referrals.cases.models import Case, Subject
from referrals.cases.policies import case_policy
from referrals.core.clock import now
from referrals.core.display import viewer_zone
from referrals.core.acting import act, attempt
from referrals.core.errors import NotFound
from referrals.core.forms import ConfirmForm
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.inputs import int_arg
from referrals.core.identity import READERS, WORKERS, Identity, current_identity
from referrals.extensions import db

bp = staff_blueprint("cases", __name__, url_prefix="/cases")

# What features above cases add to the case page: evidence its items, holds the holds that
# cover the case. Each panel takes (identity, case) and returns template values.
case_panels: list[Callable[[Identity, Case], dict]] = []


def add_case_panel(panel: Callable[[Identity, Case], dict]) -> Callable[[Identity, Case], dict]:
    case_panels.append(panel)
    return panel


def _region() -> str:
    return current_app.config["REFERRALS_PHONE_REGION"]


def _as_utc(local: datetime | None) -> datetime | None:
    """A time typed in the viewer's zone, as UTC."""
    if local is None:
        return None
    return local.replace(tzinfo=viewer_zone()).astimezone(UTC)


@bp.get("/")
@roles_required(*READERS)
def index():
    identity = current_identity()
    view = request.args.get("view") or (queues.default_view(identity)
                                        if identity.has_role(*WORKERS) else "open")
    filters = queues.QueueFilters(
        view=view if view in queues.VIEWS else "open",
        category=request.args.get("category", "") if request.args.get("category") in rules.CATEGORIES else "",
        status=request.args.get("status", "") if request.args.get("status") in rules.STATUSES else "",
        assignee_id=int_arg("assignee_id"),
        q=request.args.get("q", "")[:320],
    )
    page = queues.case_queue(identity, filters, after=request.args.get("after"),
                             before=request.args.get("before"),
                             last=request.args.get("last") == "1", region=_region())
    return render_template("cases/queue.html", page=page, filters=filters, views=queues.VIEWS,
                           rules=rules, can_open=case_policy.can(identity, "open"))


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*WORKERS)
def create():
    form = NewCaseForm()
    if request.method == "GET":
        form.priority.data = "P2"
    if form.validate_on_submit():
        opened = attempt(services.open_case, current_identity(), title=form.title.data,
                         category=form.category.data, priority=form.priority.data,
                         summary=form.summary.data or "", form=form, field="title")
        if opened.ok:
            flash(f"{opened.value.reference} opened.", "success")
            return redirect(url_for(".detail", reference=opened.value.reference))
    return render_template("cases/new.html", form=form), 422 if form.errors else 200


@bp.get("/<reference>")
@roles_required(*READERS)
def detail(reference: str):
    identity = current_identity()
    case = services.get_case(reference)
    case_policy.require(identity, "view", case)
    allowed = case_policy.allowed(identity, case)
    record = reading.case_record(case)
    panels = {}
    for panel in case_panels:
        panels.update(panel(identity, case))
    page = render_template(
        "cases/detail.html", case=case, events=record.events, subjects=record.subjects,
        sharing=record.sharing, reported=record.reported, rules=rules, moment=now(),
        deadline_state=queues.deadline_state, can=allowed.__contains__,
        **_shown_forms(case, allowed), **panels,
    )
    record_view(identity, "case", case.reference)  # last: see record_view
    return page


def _shown_forms(case: Case, allowed: frozenset[str]) -> dict:
    """The case page's forms, each built only if the page shows it (``None`` if not): a
    reader who may not act gets none, and none is built only to be left out."""
    forms = dict.fromkeys(("status_form", "assign_form", "due_form", "note_form",
                           "subject_form", "identifier_form", "correction_form",
                           "subject_correction_form", "evidence_form"))
    if "change_status" in allowed:
        moves = rules.CASE_STATES.choices(case.status)
        forms["status_form"] = status_form = StatusForm()
        status_form.status.choices = [("", "Choose…"), *moves] if moves else []
    if "assign" in allowed:
        forms["assign_form"] = assign_form = AssignForm()
        assign_form.assignee_id.choices = [(0, "— Unassigned —"), *assignee_choices()]
        assign_form.assignee_id.data = case.assignee_id or 0
    if "set_due" in allowed:
        forms["due_form"] = due_form = DueForm()
        if case.due_at:
            due_form.due_at.data = case.due_at.astimezone(viewer_zone()).replace(tzinfo=None)
    if "add_note" in allowed:
        forms["note_form"] = NoteForm()
    if "edit_subjects" in allowed:
        forms.update(subject_form=SubjectForm(), identifier_form=IdentifierForm(),
                     correction_form=IdentifierCorrectionForm(),
                     subject_correction_form=SubjectCorrectionForm())
    if "add_evidence" in allowed:
        forms["evidence_form"] = EvidenceForm()
    return forms


def _act(reference: str, form, action):
    """Validate the form, run one service, and come back to the case page."""
    case = services.get_case(reference)
    act(form, action, current_identity(), case, done=lambda message: message)
    return redirect(url_for(".detail", reference=case.reference))


@bp.post("/<reference>/take")
@roles_required(*WORKERS)
def take(reference: str):
    return _act(reference, ConfirmForm(), lambda who, case: (
        services.take_case(who, case), "The case is yours.")[1])


@bp.post("/<reference>/assign")
@roles_required("supervisor")
def assign(reference: str):
    form = AssignForm()
    form.assignee_id.choices = [(0, ""), *assignee_choices()]
    return _act(reference, form, lambda who, case: (
        services.assign_case(who, case, form.assignee_id.data or None), "Assignment saved.")[1])


@bp.post("/<reference>/status")
@roles_required(*WORKERS)
def status(reference: str):
    form = StatusForm()
    return _act(reference, form, lambda who, case: (
        services.change_status(who, case, form.status.data, form.note.data or ""),
        f"Status is now {rules.STATUSES[form.status.data]}.")[1])


@bp.post("/<reference>/notes")
@roles_required(*WORKERS)
def note(reference: str):
    form = NoteForm()
    return _act(reference, form, lambda who, case: (
        services.add_note(who, case, form.body.data), "Note added.")[1])


@bp.post("/<reference>/due")
@roles_required(*WORKERS)
def due(reference: str):
    form = DueForm()
    return _act(reference, form, lambda who, case: (
        services.set_due(who, case, _as_utc(form.due_at.data)), "Due date saved.")[1])


@bp.post("/<reference>/subjects")
@roles_required(*WORKERS)
def add_subject(reference: str):
    form = SubjectForm()
    return _act(reference, form, lambda who, case: (
        services.add_subject(who, case, label=form.label.data, role=form.role.data),
        "Subject added.")[1])


@bp.post("/<reference>/subjects/<int:subject_id>/identifiers")
@roles_required(*WORKERS)
def add_identifier(reference: str, subject_id: int):
    form = IdentifierForm()

    def act(who, case):
        subject = db.session.get(Subject, subject_id)
        if subject is None or subject.case_id != case.id:
            raise NotFound("There is no such subject in this case.")
        identifier = services.add_identifier(
            who, subject, kind=form.kind.data, value=form.value.data,
            observed_at=_as_utc(form.observed_at.data), port=form.port.data)
        return f"Identifier added as {identifier.normalized}."

    return _act(reference, form, act)


# --- corrections: a reason each, audited, on the timeline (cases.corrections) ------------


@bp.post("/<reference>/identifiers/<int:identifier_id>")
@roles_required(*WORKERS)
def correct_identifier(reference: str, identifier_id: int):
    form = IdentifierCorrectionForm()

    def act(who, case):
        identifier = corrections.identifier_of(case, identifier_id)
        if form.action.data == "remove":
            corrections.remove_identifier(who, case, identifier, form.reason.data)
            return "Identifier removed; the reason is on the timeline."
        corrections.correct_identifier(who, case, identifier, kind=form.kind.data,
                                       value=form.value.data, reason=form.reason.data)
        return "Identifier corrected; the reason is on the timeline."

    return _act(reference, form, act)


@bp.post("/<reference>/subjects/<int:subject_id>")
@roles_required(*WORKERS)
def correct_subject(reference: str, subject_id: int):
    form = SubjectCorrectionForm()

    def act(who, case):
        subject = corrections.subject_of(case, subject_id)
        if form.action.data == "remove":
            corrections.remove_subject(who, case, subject, form.reason.data)
            return "Subject removed with its identifiers; the reason is on the timeline."
        corrections.correct_subject(who, case, subject, label=form.label.data,
                                    role=form.role.data, reason=form.reason.data)
        return "Subject corrected; the reason is on the timeline."

    return _act(reference, form, act)
