"""The audit log, for compliance reviewers: filter, open an event, export, verify."""

from flask import Response, jsonify, redirect, render_template, request, stream_with_context, url_for

from referrals.audit import log, verification
from referrals.audit.difference import event_difference
from referrals.audit.labels import agency_choices
from referrals.core.acting import act, attempt
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import current_identity
from referrals.core.inputs import int_arg
from referrals.core.progress import STATES, progress_json

bp = staff_blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
@roles_required("compliance")
def index():
    identity = current_identity()
    parsed = attempt(log.parse_filters, request.args)
    filters = parsed.value if parsed.ok else log.AuditFilters()
    page = log.event_page(identity, filters, before=int_arg("before"))
    return render_template(
        "audit/index.html", page=page, filters=filters, typed=request.args,
        agencies=agency_choices(), checkpoint=verification.checkpoint_status(),
        verifying=verification.latest_verification(), result=verification.last_result(),
        progress_labels=STATES)


@bp.get("/events/<int:seq>")
@roles_required("compliance")
def event(seq: int):
    found = log.get_event(current_identity(), seq)
    return render_template("audit/event.html", event=found, difference=event_difference(found))


@bp.get("/export.<any(csv, json):fmt>")
@roles_required("compliance")
def export(fmt: str):
    identity = current_identity()
    filters = log.parse_filters(request.args)  # a bad filter is a plain 422, nothing streamed
    made = log.export_events(identity, filters, fmt)
    return Response(stream_with_context(made.chunks), content_type=made.content_type, headers={
        "Content-Disposition": f'attachment; filename="{made.filename}"',
        "X-Audit-Up-To-Seq": str(made.up_to)})


@bp.post("/verify")
@roles_required("compliance")
def verify():
    act(None, verification.start_verification, current_identity(),
        done="The chain is being checked; this page shows how far it got.")
    return redirect(url_for("audit.index", _anchor="integrity"))


@bp.get("/verify/progress")
@roles_required("compliance")
def verify_progress():
    log.audit_policy.require(current_identity(), "verify")
    return jsonify(progress_json(verification.latest_verification()))
