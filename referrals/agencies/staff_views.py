"""Agencies: the registry that portal registration and call-backs rely on."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from sqlalchemy import select

from referrals.accounts.forms import ConfirmForm
from referrals.accounts.services import get_user
from referrals.agencies import services
from referrals.agencies.forms import AgencyForm, KeyForm
from referrals.agencies.models import AGENCY_KINDS, AGENCY_STATUSES, LEGAL_ENTITIES, Agency
from referrals.core.errors import DomainError
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import current_identity
from referrals.core.transaction import rollback
from referrals.extensions import db
from referrals.portal.registration import approve_officer, pending_officers

bp = staff_blueprint("agencies", __name__, url_prefix="/agencies")
MANAGERS = ("admin", "supervisor")


def _fields(form: AgencyForm) -> dict:
    return {name: getattr(form, name).data or "" for name in (
        "name", "kind", "country", "status", "legal_entity", "domains", "phones", "notes")}


@bp.get("/")
@roles_required(*MANAGERS)
def index():
    agencies = list(db.session.scalars(select(Agency).order_by(Agency.name)))
    return render_template("agencies/index.html", agencies=agencies, pending=pending_officers(),
                           kinds=AGENCY_KINDS, statuses=AGENCY_STATUSES, confirm=ConfirmForm())


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def create():
    form = AgencyForm()
    if form.validate_on_submit():
        try:
            agency = services.create_agency(current_identity(), **_fields(form))
        except DomainError as error:
            rollback()
            getattr(form, error.field or "name").errors.append(error.message)
        else:
            flash(f"{agency.name} added.", "success")
            return redirect(url_for(".detail", agency_id=agency.id))
    return render_template("agencies/form.html", form=form, agency=None), 422 if form.errors else 200


@bp.route("/<int:agency_id>", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def detail(agency_id: int):
    agency = services.get_agency(agency_id)
    form = AgencyForm()
    form.current_status = agency.status
    if form.validate_on_submit():
        try:
            services.update_agency(current_identity(), agency, **_fields(form))
        except DomainError as error:
            rollback()
            getattr(form, error.field or "name").errors.append(error.message)
        else:
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
    if form.validate_on_submit():
        try:
            services.add_key(current_identity(), agency, form.public_key.data, form.label.data)
        except DomainError as error:
            rollback()
            flash(error.message, "error")
        else:
            flash("Key added.", "success")
    return redirect(url_for(".detail", agency_id=agency.id) + "#keys")


@bp.post("/<int:agency_id>/keys/<int:key_id>/remove")
@roles_required(*MANAGERS)
def remove_key(agency_id: int, key_id: int):
    agency = services.get_agency(agency_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.remove_key(current_identity(), agency, key_id)
        except DomainError as error:
            rollback()
            flash(error.message, "error")
        else:
            flash("Key removed.", "success")
    return redirect(url_for(".detail", agency_id=agency.id) + "#keys")


@bp.post("/officers/<int:user_id>/approve")
@roles_required(*MANAGERS)
def approve(user_id: int):
    user = get_user(user_id)
    if ConfirmForm().validate_on_submit():
        try:
            approve_officer(current_identity(), user)
        except DomainError as error:
            rollback()
            flash(error.message, "error")
        else:
            flash(f"{user.email} approved.", "success")
    return redirect(url_for(".index"))
