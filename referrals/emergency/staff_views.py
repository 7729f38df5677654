"""The emergency fast path's page: every step of an emergency request on one screen
(``emergency.services``). Each press calls one service and comes back here."""

from __future__ import annotations

from flask import jsonify, redirect, render_template, request, url_for

from referrals.audit.services import record_view
from referrals.core.acting import act
from referrals.core.clock import now
from referrals.core.forms import ConfirmForm
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import READERS, WORKERS, current_identity
from referrals.core.progress import STATES as PROGRESS_STATES
from referrals.emergency import services as emergency
from referrals.requests import rules
from referrals.requests.forms import CallbackForm
from referrals.requests.services import approve_request

bp = staff_blueprint("emergency", __name__, url_prefix="/requests")


def _callback_form(found) -> CallbackForm:
    form = CallbackForm()
    form.phone_id.choices = [(p.id, f"{p.number} {p.label}".strip()) for p in found.agency.phones]
    return form


@bp.get("/<reference>/emergency")
@roles_required(*READERS)
def fast_path(reference: str):
    identity = current_identity()
    found = emergency.get_emergency(identity, reference)
    path = emergency.fast_path(identity, found)
    page = render_template("emergency/fast_path.html", req=found, path=path, rules=rules,
                           now=now(), callback_form=_callback_form(found), confirm=ConfirmForm(),
                           progress_labels=PROGRESS_STATES)
    record_view(identity, "request", found.reference, agency_id=found.agency_id)  # last
    return page


@bp.get("/<reference>/emergency/state")
@roles_required(*READERS)
def state(reference: str):
    """What the page polls: it reloads itself when another person's press moved the request."""
    identity = current_identity()
    path = emergency.fast_path(identity, emergency.get_emergency(identity, reference))
    return jsonify(state=path.state_token, current=path.current, status=path.request.status)


def _press(reference: str, form, service, done: str, *args):
    identity = current_identity()
    found = emergency.get_emergency(identity, reference)
    act(form, service, identity, found, *args, done=done)
    return redirect(url_for(".fast_path", reference=found.reference))


@bp.post("/<reference>/emergency/callback")
@roles_required(*WORKERS)
def callback(reference: str):
    identity = current_identity()
    form = _callback_form(emergency.get_emergency(identity, reference))
    return _press(reference, form, lambda who, req: emergency.record_emergency_callback(
        who, req, form.phone_id.data, form.outcome.data), "Call-back recorded.")


@bp.post("/<reference>/emergency/decisions")
@roles_required(*WORKERS)
def decisions(reference: str):
    def prepare(who, req):
        emergency.prepare_emergency_decisions(who, req, {
            t.id: (request.form.get(f"decision_{t.id}", ""), request.form.get(f"reason_{t.id}", ""))
            for t in req.targets})

    return _press(reference, ConfirmForm(), prepare,
                  "Decisions prepared: a second supervisor approves them on this page.")


@bp.post("/<reference>/emergency/approve")
@roles_required("supervisor")
def approve(reference: str):
    return _press(reference, ConfirmForm(), approve_request,
                  "Approved: the agent collects next.")


@bp.post("/<reference>/emergency/collect")
@roles_required(*WORKERS)
def collect(reference: str):
    return _press(reference, ConfirmForm(), emergency.collect_emergency,
                  "Collecting from the platform: the box below follows it.")


@bp.post("/<reference>/emergency/release")
@roles_required("supervisor")
def release(reference: str):
    return _press(reference, ConfirmForm(), emergency.release_emergency,
                  "Released: the package is being built; the officer is told when it is ready.")
