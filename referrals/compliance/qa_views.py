"""QA sampling pages: draws, the samples to review, findings and their way to closure."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for
from flask_wtf import FlaskForm

from referrals.compliance.forms import (AssignFindingForm, CloseFindingForm, FindingForm,
                                        RespondFindingForm)
from referrals.core.acting import act, attempt
from referrals.core.errors import InvalidInput, NotFound
from referrals.core.forms import ConfirmForm
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import current_identity
from referrals.disclosures import qa
from referrals.disclosures.qa_models import QaDraw
from referrals.extensions import db

bp = staff_blueprint("qa", __name__, url_prefix="/compliance/qa")
QA_ROLES = ("compliance", "supervisor", "agent")


def _rate() -> str:
    return current_app.config["REFERRALS_SETTINGS"].qa_sample_rate


@bp.get("/")
@roles_required(*QA_ROLES)
def index():
    identity = current_identity()
    qa.qa_policy.require(identity, "read")
    status = request.args.get("status", "open")
    status = status if status in ("open", "closed", "all") else "open"
    return render_template("compliance/qa.html", rate=_rate(), draws=qa.recent_draws(),
                           samples=qa.samples_to_review(), findings=qa.findings(status),
                           status=status, open_count=qa.open_findings_count(),
                           can=lambda action: qa.qa_policy.can(identity, action),
                           draw_form=ConfirmForm())


@bp.post("/draw")
@roles_required("compliance")
def draw():
    identity = current_identity()
    form = ConfirmForm()
    act(form, qa.draw_sample, identity, _rate(),
        done=lambda d: f"Drew {d.drawn} of {d.population} disclosures for review (rate {d.rate}).")
    return redirect(url_for("qa.index"))


@bp.get("/draws/<int:draw_id>")
@roles_required(*QA_ROLES)
def draw_detail(draw_id: int):
    identity = current_identity()
    qa.qa_policy.require(identity, "read")
    found = db.session.get(QaDraw, draw_id)
    if found is None:
        raise NotFound("There is no such draw.")
    return render_template("compliance/qa_draw.html", draw=found,
                           recomputed=qa.recompute_draw(found))


def _sample_page(sample, finding_form=None, status=200):
    identity = current_identity()
    return render_template("compliance/qa_sample.html", sample=sample,
                           finding_form=finding_form or FindingForm(prefix="finding"),
                           reviewed_form=ConfirmForm(prefix="reviewed"),
                           can=lambda action: qa.qa_policy.can(identity, action)), status


@bp.get("/samples/<int:sample_id>")
@roles_required(*QA_ROLES)
def sample(sample_id: int):
    return _sample_page(qa.get_sample(current_identity(), sample_id))


@bp.post("/samples/<int:sample_id>/findings")
@roles_required("compliance")
def record_finding(sample_id: int):
    identity = current_identity()
    found = qa.get_sample(identity, sample_id)
    form = FindingForm(prefix="finding")
    if form.validate_on_submit():
        outcome = attempt(qa.record_finding, identity, found, form.category.data,
                          form.notes.data, form=form)
        if outcome.ok:
            return redirect(url_for("qa.finding", finding_id=outcome.value.id))
    return _sample_page(found, form, 422)


@bp.post("/samples/<int:sample_id>/reviewed")
@roles_required("compliance")
def mark_reviewed(sample_id: int):
    identity = current_identity()
    found = qa.get_sample(identity, sample_id)
    act(ConfirmForm(prefix="reviewed"), qa.mark_reviewed, identity, found,
        done="The sample is marked reviewed.")
    return redirect(url_for("qa.sample", sample_id=found.id))


def _finding_page(finding, status=200, **forms):
    identity = current_identity()
    assign = forms.get("assign")
    if assign is None:
        assign = _assign_form()
        assign.assignee_id.data = str(finding.assignee_id) if finding.assignee_id else None
    return render_template(
        "compliance/qa_finding.html", finding=finding, assign_form=assign,
        respond_form=forms.get("respond") or RespondFindingForm(prefix="respond"),
        close_form=forms.get("close") or CloseFindingForm(prefix="close"),
        can=lambda action: qa.qa_policy.can(identity, action, finding)), status


@bp.get("/findings/<int:finding_id>")
@roles_required(*QA_ROLES)
def finding(finding_id: int):
    return _finding_page(qa.get_finding(current_identity(), finding_id))


def _act_on_finding(finding_id: int, form: FlaskForm, name: str, service, value):
    """Post one step of a finding's way to closure: the form's value to ``service``, then
    back to the finding, or the finding's page with what is wrong (422)."""
    identity = current_identity()
    found = qa.get_finding(identity, finding_id)
    if form.validate_on_submit():
        # A refusal about the input shows under its field; any other (not this person's
        # finding, a closed one) at the top of the page, where it is read whatever forms show.
        if attempt(service, identity, found, value(form), form=form, on_form=InvalidInput).ok:
            return redirect(url_for("qa.finding", finding_id=found.id))
    return _finding_page(found, 422, **{name: form})


def _assign_form() -> AssignFindingForm:
    form = AssignFindingForm(prefix="assign")
    form.assignee_id.choices = [(str(u.id), u.full_name or u.email) for u in qa.assignable_staff()]
    return form


@bp.post("/findings/<int:finding_id>/assign")
@roles_required("supervisor")
def assign_finding(finding_id: int):
    return _act_on_finding(finding_id, _assign_form(), "assign", qa.assign_finding,
                           lambda form: int(form.assignee_id.data))


@bp.post("/findings/<int:finding_id>/respond")
@roles_required("agent", "supervisor")
def respond_finding(finding_id: int):
    return _act_on_finding(finding_id, RespondFindingForm(prefix="respond"), "respond",
                           qa.respond_to_finding, lambda form: form.response.data)


@bp.post("/findings/<int:finding_id>/close")
@roles_required("supervisor")
def close_finding(finding_id: int):
    return _act_on_finding(finding_id, CloseFindingForm(prefix="close"), "close",
                           qa.close_finding, lambda form: form.resolution.data)
