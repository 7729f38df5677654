"""Staff pages for a case's referrals: draft one, follow it through approval (a second
person), record how it was sent and the agency's acknowledgement, and its PDF report.
Agents and supervisors act, a supervisor approves; compliance reads."""

from __future__ import annotations

from datetime import UTC

from flask import Response, redirect, render_template, request, url_for

from referrals.audit.services import record_view
from referrals.cases.models import Case
from referrals.cases.rules import CATEGORIES
from referrals.cases.services import get_case
from referrals.cases.staff_views import add_case_panel
from referrals.core.acting import act, attempt
from referrals.core.display import viewer_zone
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import READERS, WORKERS, Identity, current_identity
from referrals.core.progress import STATES as PROGRESS_STATES
from referrals.outbound import delivery, report, rules, services
from referrals.outbound.forms import AcknowledgeForm, DraftForm, ReasonForm, SendForm
from referrals.outbound.policies import referral_policy

bp = staff_blueprint("outbound", __name__, url_prefix="/cases/<reference>/referrals")


@add_case_panel
def case_referrals_panel(identity: Identity, case: Case) -> dict:
    return {"referrals": services.referrals_for_case(case), "referral_statuses": rules.STATUSES,
            "can_draft_referral": referral_policy.can(identity, "draft", case)}


def _case(reference: str) -> Case:
    case = get_case(reference)
    referral_policy.require(current_identity(), "view", case)
    return case


def _draft_form(case: Case) -> DraftForm:
    form = DraftForm(prefix="draft")
    form.agency_id.choices = [(0, "Choose…")] + [
        (a.id, f"{a.name} ({a.country})") for a in services.referral_agencies()]
    form.subject_ids.choices = [(s.id, f"{s.label} ({s.role})")
                                for s in services.case_subjects(case)]
    form.evidence_ids.choices = [
        (i.id, f"{i.original_name} · SHA-256 {i.sha256[:16]}…"
               + (" · may be abuse material: listed by hash, never shown" if i.may_be_csam else ""))
        for i in services.case_items(case)]
    return form


def _send_form(case: Case) -> SendForm:
    form = SendForm(prefix="send")
    form.ncmec_report_id.choices = [(0, "—")] + [
        (r.id, f"Report {r.remote_report_id} (finished)")
        for r in services.finished_ncmec_reports(case)]
    form.package_id.choices = [(0, "No package (the report only)")] + [
        (p.id, f"{p.label} · SHA-256 {p.sha256[:16]}…") for p in services.ready_case_packages(case)]
    return form


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*WORKERS)
def new(reference: str):
    case = _case(reference)
    form = _draft_form(case)
    if request.method == "GET":
        form.incident_type.data = case.category
        form.summary.data = case.summary
        form.subject_ids.data = [s for s, _ in form.subject_ids.choices]
    if form.validate_on_submit():
        drafted = attempt(services.draft_referral, current_identity(), case,
                          agency_id=form.agency_id.data or None, reason=form.reason.data,
                          incident_type=form.incident_type.data, summary=form.summary.data,
                          legal_basis=form.legal_basis.data,
                          legal_basis_note=form.legal_basis_note.data or "",
                          subject_ids=form.subject_ids.data or [],
                          evidence_ids=form.evidence_ids.data or [], form=form, field="reason")
        if drafted.ok:
            return redirect(url_for(".detail", reference=case.reference,
                                    referral_id=drafted.value.id))
    return render_template("outbound/new.html", case=case, form=form), \
        422 if form.errors or form.form_errors else 200


@bp.get("/<int:referral_id>")
@roles_required(*READERS)
def detail(reference: str, referral_id: int):
    identity = current_identity()
    case = _case(reference)
    referral = services.get_referral(case, referral_id)
    page = render_template(
        "outbound/detail.html", case=case, referral=referral, statuses=rules.STATUSES,
        states=rules.REFERRAL_STATES, legal_bases=rules.LEGAL_BASES, incidents=CATEGORIES,
        methods=rules.DELIVERY_METHODS, channels=rules.HAND_CHANNELS,
        subjects=services.subjects_of(referral), items=services.items_of(referral),
        approve_refusal=services.approve_refusal(identity, referral),
        send_refusal=services.send_refusal(identity, referral),
        can=lambda action: referral_policy.can(identity, action, referral),
        send_form=_send_form(case), reason_form=ReasonForm(prefix="why"),
        portal=delivery.portal_state(referral), progress_labels=PROGRESS_STATES,
        availability=delivery.packages.availability,
        portal_refusal=delivery.portal_refusal(referral.agency),
        ack_form=AcknowledgeForm(prefix="ack"))
    record_view(identity, "referral", referral.reference, agency_id=referral.agency_id)
    return page


def _act(reference: str, referral_id: int, form, service, *args, done: str, **kwargs):
    case = _case(reference)
    referral = services.get_referral(case, referral_id)
    act(form, service, current_identity(), case, referral, *args, done=done, **kwargs)
    return redirect(url_for(".detail", reference=case.reference, referral_id=referral.id))


def _with_reason(reference: str, referral_id: int, service, *, done: str):
    """A move that needs the reason typed in the page's "why" field."""
    form = ReasonForm(prefix="why")
    return _act(reference, referral_id, form, service, form.reason.data or "", done=done)


@bp.post("/<int:referral_id>/submit")
@roles_required(*WORKERS)
def submit(reference: str, referral_id: int):
    return _act(reference, referral_id, ReasonForm(prefix="why"), services.submit_referral,
                done="Submitted: another supervisor approves it before it is sent.")


@bp.post("/<int:referral_id>/return")
@roles_required(*WORKERS)
def send_back(reference: str, referral_id: int):
    return _with_reason(reference, referral_id, services.return_referral,
                        done="Returned to the drafter.")


@bp.post("/<int:referral_id>/approve")
@roles_required(*WORKERS)
def approve(reference: str, referral_id: int):
    return _act(reference, referral_id, ReasonForm(prefix="why"), services.approve_referral,
                done="Approved: it may be sent.")


@bp.post("/<int:referral_id>/send")
@roles_required(*WORKERS)
def send(reference: str, referral_id: int):
    case = _case(reference)
    form = _send_form(case)
    delivered_at = form.delivered_at.data if form.validate_on_submit() else None
    if delivered_at is not None:
        delivered_at = delivered_at.replace(tzinfo=viewer_zone()).astimezone(UTC)
    if form.method.data == "portal":
        return _act(reference, referral_id, form, delivery.send_through_portal,
                    form.note.data or "",
                    done="Being packaged for the portal: the referral is sent, and its "
                         "officers told, when the package is ready.")
    return _act(reference, referral_id, form, services.send_referral,
                method=form.method.data, delivered_by=form.delivered_by.data or "",
                channel=form.channel.data or "", delivered_at=delivered_at,
                note=form.note.data or "", ncmec_report_id=form.ncmec_report_id.data or None,
                package_id=form.package_id.data or None,
                done="Sent: recorded as a disclosure.")


@bp.post("/<int:referral_id>/acknowledge")
@roles_required(*WORKERS)
def acknowledge(reference: str, referral_id: int):
    form = AcknowledgeForm(prefix="ack")
    return _act(reference, referral_id, form, services.acknowledge_referral,
                form.agency_reference.data or "", done="Acknowledgement recorded.")


@bp.post("/<int:referral_id>/withdraw")
@roles_required(*WORKERS)
def withdraw(reference: str, referral_id: int):
    return _with_reason(reference, referral_id, services.withdraw_referral, done="Withdrawn.")


@bp.get("/<int:referral_id>/report.pdf")
@roles_required(*READERS)
def report_pdf(reference: str, referral_id: int):
    case = _case(reference)
    referral = services.get_referral(case, referral_id)
    pdf = report.issue_referral_report(current_identity(), referral)
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{referral.reference}.pdf"'})
