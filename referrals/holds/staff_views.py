"""Staff pages for preservation holds: the list, one hold, and the actions on it.

Agents and supervisors read, place and work holds; compliance reads them; releasing and
converting (which end a hold early) are for supervisors (see ``holds.policies``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import flash, redirect, render_template, request, url_for

from referrals.audit.services import record_view
from referrals.core.forms import ConfirmForm
from referrals.vocabulary.identifiers import KINDS as IDENTIFIER_KINDS
from referrals.cases.policies import case_policy
from referrals.cases.models import Case
from referrals.cases.services import get_case
from referrals.core.acting import act, attempt
from referrals.cases.staff_views import add_case_panel
from referrals.core.clock import now
from referrals.core.display import viewer_zone
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import READERS, WORKERS, Identity, current_identity
from referrals.evidence.policies import evidence_policy
from referrals.evidence.services import open_content
from referrals.evidence.staff_views import bytes_response
from referrals.holds import reading, services
from referrals.holds.forms import (ExtendForm, PlaceHoldForm, ProductionForm, ReleaseForm,
                                   RenewForm, ReviewForm)
from referrals.holds.policies import hold_policy
from referrals.holds.refusals import actions_for
from referrals.holds.rules import HOLD_KINDS, STATUSES
from referrals.holds.standing import standing
from referrals.requests.rules import REQUEST_TYPES
from referrals.vocabulary.categories import DATA_CATEGORIES

bp = staff_blueprint("holds", __name__, url_prefix="/holds")


@add_case_panel
def case_holds_panel(identity: Identity, case: Case) -> dict:
    return {"holds": reading.holds_for_case(case), "hold_statuses": STATUSES,
            "can_place_hold": hold_policy.can(identity, "place", case)}


@bp.get("/")
@roles_required(*READERS)
def index():
    identity = current_identity()
    status = request.args.get("status", "open")
    status = status if status in reading.LIST_FILTERS else "open"
    kind = request.args.get("kind", "")
    kind = kind if kind in HOLD_KINDS else ""
    at = now()
    holds = reading.staff_holds(identity, status=status, kind=kind)
    return render_template("holds/index.html", rows=[(h, standing(h, at)) for h in holds],
                           status=status, kind=kind, filters=reading.LIST_FILTERS,
                           kinds=HOLD_KINDS, statuses=STATUSES, now=at)


@bp.get("/<reference>")
@roles_required(*READERS)
def detail(reference: str):
    identity = current_identity()
    hold = reading.get_hold(identity, reference)
    at = now()
    items = reading.snapshot_items(hold)
    page = render_template(
        "holds/detail.html", hold=hold, clock=standing(hold, at), now=at,
        actions=actions_for(identity, hold, at), owner=reading.owner_of(hold),
        items=items, openable={i.id for i in items
                               if evidence_policy.can(identity, "read_bytes", i)},
        kinds=HOLD_KINDS, statuses=STATUSES, categories=DATA_CATEGORIES,
        request_types=REQUEST_TYPES, identifier_kinds=IDENTIFIER_KINDS,
        renew_form=RenewForm(prefix="renew"), extend_form=ExtendForm(prefix="extend"),
        production_form=ProductionForm(prefix="production"),
        convert_form=ProductionForm(prefix="convert"), release_form=ReleaseForm(prefix="release"),
        review_form=ReviewForm(prefix="review"), confirm_form=ConfirmForm())
    record_view(identity, "hold", hold.reference, agency_id=hold.agency_id)  # last: see record_view
    return page


@bp.get("/<reference>/snapshot/<int:item_id>")
@roles_required(*READERS)
def item(reference: str, item_id: int):
    identity = current_identity()
    hold = reading.get_hold(identity, reference)
    hold_policy.require(identity, "download", hold)
    found = reading.get_snapshot_item(hold, item_id)
    # Checks clearance for media that may be CSAM, records custody and audits, before any byte.
    chunks = open_content(identity, found, action="downloaded",
                          purpose=f"Downloaded from the snapshot of {hold.reference}")
    return bytes_response(found, chunks)


def _act(reference: str, form, action, done: str):
    """Validate the form, run one service on the hold, and come back to its page."""
    identity = current_identity()
    hold = reading.get_hold(identity, reference)
    act(form, action, identity, hold, done=done)
    return redirect(url_for(".detail", reference=hold.reference))


@bp.post("/<reference>/renew")
@roles_required(*WORKERS)
def renew(reference: str):
    form = RenewForm(prefix="renew")
    return _act(reference, form, lambda who, hold: services.renew_hold(
        who, hold, note=form.note.data), "Renewal recorded: the hold runs 90 days more.")


@bp.post("/<reference>/extend")
@roles_required(*WORKERS)
def extend(reference: str):
    form = ExtendForm(prefix="extend")
    return _act(reference, form, lambda who, hold: services.extend_hold(
        who, hold, note=form.note.data or ""), "Extension recorded: the hold runs 30 days more.")


@bp.post("/<reference>/production")
@roles_required(*WORKERS)
def confirm_production(reference: str):
    form = ProductionForm(prefix="production")
    return _act(reference, form, lambda who, hold: services.confirm_production(
        who, hold, form.production_reference.data, note=form.note.data or ""),
        "Production order confirmed: the hold lasts until the data is produced.")


@bp.post("/<reference>/convert")
@roles_required("supervisor")
def convert(reference: str):
    form = ProductionForm(prefix="convert")
    return _act(reference, form, lambda who, hold: services.convert_hold(
        who, hold, form.production_reference.data, note=form.note.data or ""),
        "The hold is converted to the production.")


@bp.post("/<reference>/release")
@roles_required("supervisor")
def release(reference: str):
    form = ReleaseForm(prefix="release")
    return _act(reference, form, lambda who, hold: services.release_hold(
        who, hold, form.reason.data), "The hold is released.")


@bp.post("/<reference>/review")
@roles_required(*WORKERS)
def review(reference: str):
    form = ReviewForm(prefix="review")
    return _act(reference, form, lambda who, hold: services.record_hold_review(
        who, hold, form.note.data), "Review recorded.")


@bp.post("/<reference>/snapshot")
@roles_required(*WORKERS)
def snapshot(reference: str):
    return _act(reference, ConfirmForm(), services.request_snapshot,
                "The snapshot is being taken; reload the page in a moment.")


def _as_utc(local: datetime | None) -> datetime | None:
    """A time typed in the viewer's zone, as UTC."""
    if local is None:
        return None
    return local.replace(tzinfo=viewer_zone()).astimezone(UTC)


@bp.route("/new/<case_reference>", methods=["GET", "POST"])
@roles_required(*WORKERS)
def place(case_reference: str):
    identity = current_identity()
    case = get_case(case_reference)
    case_policy.require(identity, "view", case)
    hold_policy.require(identity, "place", case)
    identifiers = reading.case_identifiers(case)
    form = PlaceHoldForm()
    form.identifiers.choices = [
        (i.id, f"{IDENTIFIER_KINDS.get(i.kind, i.kind)}: {i.normalized} ({i.subject.label})")
        for i in identifiers]
    if request.method == "GET":
        form.identifiers.data = [i.id for i in identifiers]
        form.data_categories.data = ["subscriber", "login_logout", "content"]
    if form.validate_on_submit():
        chosen = [(i.kind, i.normalized) for i in identifiers
                  if i.id in set(form.identifiers.data or ())]
        if form.kind.data == "ncmec_report":
            placed = attempt(services.place_ncmec_hold, identity, case, form.report_id.data,
                             _as_utc(form.completed_at.data), chosen, form.data_categories.data,
                             form.date_from.data, form.date_to.data, form=form)
        else:
            placed = attempt(services.place_internal_hold, identity, case, chosen,
                             form.data_categories.data, form.date_from.data, form.date_to.data,
                             form.legal_basis.data, form=form)
        if placed.ok:
            flash(f"{placed.value.reference} placed. The snapshot is being taken from the "
                  "platform.", "success")
            return redirect(url_for(".detail", reference=placed.value.reference))
    return render_template("holds/new.html", form=form, case=case, has_identifiers=bool(identifiers),
                           zone=viewer_zone().key), 422 if form.errors or form.form_errors else 200
