"""The agency directory for staff: the .gov registry, the staff-kept official domains, and
for any domain, who it is registered to and why to look twice."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from referrals.agencies import services
from referrals.agencies.forms import LinkEntryForm, OfficialDomainForm
from referrals.agencies.models import Agency
from referrals.agencies.staff_views import MANAGERS
from referrals.core.acting import act, attempt
from referrals.core.forms import ConfirmForm
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import current_identity
from referrals.directory import services as directory
from referrals.directory.lookup import assess_domain
from referrals.directory.models import CHECK_METHODS
from referrals.extensions import db

bp = staff_blueprint("directory", __name__, url_prefix="/agencies/directory")
READERS = ("admin", "supervisor", "agent", "compliance")


@bp.get("/")
@roles_required(*READERS)
def index():
    query = request.args.get("q", "").strip()[:100]
    domain = request.args.get("domain", "").strip()[:253]
    return render_template(
        "agencies/directory.html", query=query, domain=domain,
        entries=directory.search_entries(query) if query else [],
        assessment=assess_domain(domain) if domain else None,
        counts=directory.registry_counts())


@bp.get("/entries/<int:entry_id>")
@roles_required(*READERS)
def entry(entry_id: int):
    record = directory.get_entry(entry_id)
    form = LinkEntryForm()
    form.agency_id.choices = [(a.id, a.name) for a in db.session.scalars(
        select(Agency).order_by(Agency.name))]
    return render_template("agencies/directory_entry.html", entry=record,
                           history=directory.entry_history(record),
                           agencies=services.agencies_on_domain(record.domain), link_form=form,
                           can_manage=current_identity().has_role(*MANAGERS))


@bp.post("/entries/<int:entry_id>/link")
@roles_required(*MANAGERS)
def link(entry_id: int):
    record = directory.get_entry(entry_id)
    form = LinkEntryForm()
    form.agency_id.choices = [(a.id, a.name) for a in db.session.scalars(select(Agency))]
    outcome = act(form, lambda: services.link_directory_entry(
        current_identity(), services.get_agency(form.agency_id.data), record),
        done=f"{record.domain} added to the agency's verified domains.")
    if outcome.ok:
        return redirect(url_for("agencies.detail", agency_id=form.agency_id.data))
    return redirect(url_for(".entry", entry_id=record.id))


def _official_page(form: OfficialDomainForm, status: int = 200):
    return render_template("agencies/official_domains.html", form=form,
                           official=directory.official_domains(), methods=CHECK_METHODS,
                           can_manage=current_identity().has_role(*MANAGERS),
                           confirm=ConfirmForm()), status


@bp.get("/official")
@roles_required(*READERS)
def official():
    return _official_page(OfficialDomainForm())


@bp.post("/official")
@roles_required(*MANAGERS)
def add_official():
    form = OfficialDomainForm()
    if form.validate_on_submit():
        added = attempt(directory.add_official_domain, current_identity(),
                        domain=form.domain.data, organization=form.organization.data,
                        country=form.country.data, method=form.method.data,
                        evidence=form.evidence.data, form=form, field="domain")
        if added.ok:
            flash(f"{added.value.domain} added to the official domains.", "success")
            return redirect(url_for(".official"))
    return _official_page(form, 422)


@bp.post("/official/<int:official_id>/remove")
@roles_required(*MANAGERS)
def remove_official(official_id: int):
    act(ConfirmForm(), directory.remove_official_domain, current_identity(), official_id,
        done="Removed from the list of official domains.")
    return redirect(url_for(".official"))
