"""Staff pages for a case's CyberTipline reports: draft (choosing the files, seeing which no
person here has viewed), confirm (a second person), send (a job; the page follows its steps),
retract before finish. Agents and supervisors act; compliance reads."""

from __future__ import annotations

from flask import jsonify, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, widgets

from referrals.audit.services import record_view
from referrals.cases.services import get_case
from referrals.core.acting import act
from referrals.core.clock import now
from referrals.core.forms import ConfirmForm
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import READERS, WORKERS, current_identity
from referrals.ncmec import services
from referrals.ncmec.policies import ncmec_policy
from referrals.ncmec.reading import (case_evidence, checked_report, file_reviews,
                                     report_problems, settings as ncmec_settings)
from referrals.ncmec.sandbox import SANDBOX_PREFIX
from referrals.ncmec.xml import to_xml

bp = staff_blueprint("ncmec", __name__, url_prefix="/cases/<reference>/ncmec")

STATUS_LABELS = {"draft": "Draft", "confirmed": "Confirmed, not sent",
                 "submitting": "Sending", "finished": "Finished (received by NCMEC)",
                 "retracted": "Retracted", "failed": "Failed"}


class DraftForm(FlaskForm):
    evidence_ids = SelectMultipleField(
        "Files to report", coerce=int, validate_choice=True,
        widget=widgets.ListWidget(prefix_label=False), option_widget=widgets.CheckboxInput())


def _draft_form(case) -> DraftForm:
    form = DraftForm(prefix="draft")
    form.evidence_ids.choices = [(i.id, i.original_name) for i in case_evidence(case)]
    return form


def _case(reference: str):
    case = get_case(reference)
    ncmec_policy.require(current_identity(), "view", case)
    return case


def _endpoint() -> tuple[str, bool]:
    url = ncmec_settings().ncmec_base_url
    return url, SANDBOX_PREFIX in url


@bp.get("/")
@roles_required(*READERS)
def index(reference: str):
    identity = current_identity()
    case = _case(reference)
    items = case_evidence(case)
    form = _draft_form(case)
    form.evidence_ids.data = [i.id for i in items]
    page = render_template(
        "ncmec/index.html", case=case, reports=services.reports_for_case(case),
        reviews=file_reviews(items), problems=report_problems(case, items), form=form,
        can_draft=ncmec_policy.can(identity, "draft", case), labels=STATUS_LABELS,
        status_of=services.effective_status, remote_id_of=services.remote_report_id,
        endpoint=_endpoint())
    record_view(identity, "case", case.reference)
    return page


@bp.post("/draft")
@roles_required(*WORKERS)
def draft(reference: str):
    case = _case(reference)
    form = _draft_form(case)
    outcome = act(form, services.draft_report, current_identity(), case,
                  evidence_ids=form.evidence_ids.data or [],
                  done="Draft saved. Another person confirms it before it is sent.")
    if outcome.ok:
        return redirect(url_for(".detail", reference=case.reference, report_id=outcome.value.id))
    return redirect(url_for(".index", reference=case.reference))


@bp.get("/<int:report_id>")
@roles_required(*READERS)
def detail(reference: str, report_id: int):
    identity = current_identity()
    case = _case(reference)
    report = services.get_report(case, report_id)
    items = services.report_items(report)
    status = services.effective_status(report)
    problems = report_problems(case, items, exclude=report.id) if status in ("draft", "confirmed") \
        else []
    xml = ""
    if status in ("draft", "confirmed") and not problems:
        xml = to_xml(checked_report(case, items, exclude_report=report.id)).decode("utf-8")
    page = render_template(
        "ncmec/detail.html", case=case, report=report, status=status, labels=STATUS_LABELS,
        reviews=file_reviews(items), problems=problems, xml=xml,
        remote_id=services.remote_report_id(report),
        operation=services.operation_of(report),
        retraction=services.operation_of(report, retract=True), hold=services.hold_of(report),
        disclosure=services.disclosure_of(report),
        waited=services.waiting_since(report), now=now(),
        target_hours=ncmec_settings().ncmec_filing_target_hours,
        confirm_refusal=services.confirm_refusal(identity, report),
        submit_refusal=services.submit_refusal(identity, report, items),
        can_retract=status in ("submitting", "failed") and bool(
            services.remote_report_id(report)) and ncmec_policy.can(identity, "retract", report),
        can_act=ncmec_policy.can(identity, "confirm", report),
        endpoint=_endpoint(), form=ConfirmForm())
    record_view(identity, "ncmec_report", report.id)
    return page


def _act(reference: str, report_id: int, service, done: str):
    case = _case(reference)
    report = services.get_report(case, report_id)
    act(ConfirmForm(), service, current_identity(), case, report, done=done)
    return redirect(url_for(".detail", reference=case.reference, report_id=report.id))


@bp.post("/<int:report_id>/confirm")
@roles_required(*WORKERS)
def confirm(reference: str, report_id: int):
    return _act(reference, report_id, services.confirm_report,
                "Confirmed. It can be sent to NCMEC now.")


@bp.post("/<int:report_id>/submit")
@roles_required(*WORKERS)
def submit(reference: str, report_id: int):
    return _act(reference, report_id, services.submit_report,
                "Sending to NCMEC: the steps below follow it.")


@bp.post("/<int:report_id>/retract")
@roles_required(*WORKERS)
def retract(reference: str, report_id: int):
    return _act(reference, report_id, services.retract_report,
                "Retraction asked of NCMEC: the report is cancelled once NCMEC confirms.")


@bp.get("/<int:report_id>/progress")
@roles_required(*READERS)
def progress(reference: str, report_id: int):
    case = _case(reference)
    report = services.get_report(case, report_id)
    return jsonify(services.send_progress(report))
