"""Agencies: the registry that portal registration and call-backs rely on."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from referrals.agencies import services
from referrals.agencies.forms import AgencyForm, KeyForm
from referrals.agencies.models import AGENCY_KINDS, AGENCY_STATUSES, Agency
from referrals.core.acting import act, attempt
from referrals.core.forms import ConfirmForm
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import current_identity
from referrals.directory.services import get_entry
from referrals.extensions import db
from referrals.vocabulary.entities import LEGAL_ENTITIES

bp = staff_blueprint("agencies", __name__, url_prefix="/agencies")
MANAGERS = ("admin", "supervisor")

# What features above agencies add to the registry page: accounts lists the officers waiting
# for approval (referrals/accounts/officer_views.py). Each panel returns template values.
index_panels: list[Callable[[], dict]] = []


def add_index_panel(panel: Callable[[], dict]) -> Callable[[], dict]:
    index_panels.append(panel)
    return panel


def _fields(form: AgencyForm) -> dict:
    return {name: getattr(form, name).data or "" for name in (
        "name", "kind", "country", "status", "legal_entity", "domains", "phones", "notes")}


@bp.get("/")
@roles_required(*MANAGERS)
def index():
    agencies = list(db.session.scalars(select(Agency).order_by(Agency.name)))
    panels = {}
    for panel in index_panels:
        panels.update(panel())
    return render_template("agencies/index.html", agencies=agencies, kinds=AGENCY_KINDS,
                           statuses=AGENCY_STATUSES, confirm=ConfirmForm(), **panels)


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def create():
    form = AgencyForm()
    entry_id = request.args.get("entry", type=int)
    if entry_id and not form.is_submitted():
        # "Create an agency from this entry" on a directory entry: the form comes filled in.
        form.process(data=services.prefill_from_entry(get_entry(entry_id)))
    if form.validate_on_submit():
        created = attempt(services.create_agency, current_identity(), **_fields(form),
                          form=form, field="name")
        if created.ok:
            flash(f"{created.value.name} added.", "success")
            return redirect(url_for(".detail", agency_id=created.value.id))
    return render_template("agencies/form.html", form=form, agency=None), 422 if form.errors else 200


@bp.route("/<int:agency_id>", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def detail(agency_id: int):
    agency = services.get_agency(agency_id)
    form = AgencyForm()
    form.current_status = agency.status
    if form.validate_on_submit():
        if attempt(services.update_agency, current_identity(), agency, **_fields(form),
                   form=form, field="name").ok:
            flash("Saved.", "success")
            return redirect(url_for(".detail", agency_id=agency.id))
    elif not form.is_submitted():
        form.process(obj=agency)
        form.domains.data = "\n".join(d.domain for d in agency.domains)
        form.phones.data = "\n".join(f"{p.number} {p.label}".strip() for p in agency.phones)
    return render_template("agencies/form.html", form=form, agency=agency, key_form=KeyForm(),
                           confirm=ConfirmForm(), entities=LEGAL_ENTITIES), 422 if form.errors else 200


@bp.post("/<int:agency_id>/keys")
@roles_required(*MANAGERS)
def add_key(agency_id: int):
    agency = services.get_agency(agency_id)
    form = KeyForm()
    act(form, lambda: services.add_key(current_identity(), agency, form.public_key.data,
                                       form.label.data), done="Key added.")
    return redirect(url_for(".detail", agency_id=agency.id) + "#keys")


@bp.post("/<int:agency_id>/keys/<int:key_id>/remove")
@roles_required(*MANAGERS)
def remove_key(agency_id: int, key_id: int):
    agency = services.get_agency(agency_id)
    act(ConfirmForm(), services.remove_key, current_identity(), agency, key_id, done="Key removed.")
    return redirect(url_for(".detail", agency_id=agency.id) + "#keys")
