"""Compliance pages: the disclosure log and the transparency report (compliance reviewers and
supervisors read them; nothing here changes a disclosure)."""

from __future__ import annotations

from flask import Response, render_template, request, stream_with_context

from referrals.compliance import disclosure_log
from referrals.compliance import transparency as reports
from referrals.compliance.forms import DisclosureFilterForm
from referrals.compliance.policies import READ_ROLES, compliance_policy
from referrals.compliance.transparency_export import (csv_name, export_pdf, export_table_csv,
                                                      page_values, pdf_name)
from referrals.core.clock import now
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import current_identity
from referrals.core.inputs import int_arg

bp = staff_blueprint("compliance", __name__, url_prefix="/compliance")


def attachment(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _nearby(period: reports.Period) -> list[str]:
    """The half-years before and after, for quick moves."""
    year, half = period.start.year, 1 if period.key.endswith("H1") else 2
    before = f"{year - 1}-H2" if half == 1 else f"{year}-H1"
    after = f"{year}-H2" if half == 1 else f"{year + 1}-H1"
    return [key for key in (before, after) if reports.FIRST_YEAR <= int(key[:4]) <= reports.LAST_YEAR]


@bp.get("/transparency")
@roles_required(*READ_ROLES)
def transparency():
    identity = current_identity()
    compliance_policy.require(identity, "read")
    wanted = request.args.get("period")
    period = reports.parse_period(wanted) if wanted else reports.period_of(now())
    report = reports.build_report(period)
    return render_template("compliance/transparency.html", nearby=_nearby(period),
                           **page_values(report))


@bp.get("/transparency/<period>.pdf")
@roles_required(*READ_ROLES)
def transparency_pdf(period: str):
    identity = current_identity()
    compliance_policy.require(identity, "export")
    report = reports.build_report(reports.parse_period(period))
    return attachment(export_pdf(identity, report), "application/pdf", pdf_name(report))


@bp.get("/transparency/<period>/<table>.csv")
@roles_required(*READ_ROLES)
def transparency_csv(period: str, table: str):
    identity = current_identity()
    compliance_policy.require(identity, "export")
    report = reports.build_report(reports.parse_period(period))
    text = export_table_csv(identity, report, table)
    response = attachment(text.encode("utf-8-sig"), "text/csv", csv_name(report, table))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    return response


# --- the disclosure log --------------------------------------------------------------------


def _filter_form() -> DisclosureFilterForm:
    form = DisclosureFilterForm(request.args)
    form.agency_id.choices = [("", "Any recipient"), *[
        (str(agency_id), label) for agency_id, label in disclosure_log.recipients()]]
    return form


@bp.get("/disclosures")
@roles_required(*READ_ROLES)
def disclosure_log_page():
    identity = current_identity()
    form = _filter_form()
    filters = form.filters()
    page = disclosure_log.log_page(identity, filters, before=int_arg("before"))
    return render_template("compliance/disclosures.html", form=form, page=page,
                           args=filters.as_args())


@bp.get("/disclosures/<int:disclosure_id>")
@roles_required(*READ_ROLES)
def disclosure(disclosure_id: int):
    identity = current_identity()
    return render_template("compliance/disclosure.html",
                           record=disclosure_log.open_disclosure(identity, disclosure_id))


def _export(fmt: str, mimetype: str):
    identity = current_identity()
    filters = _filter_form().filters()
    chunks = disclosure_log.start_export(identity, filters, fmt)
    response = Response(stream_with_context(chunks), mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="disclosures-{now():%Y%m%d-%H%M%S}.{fmt}"')
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/disclosures.csv")
@roles_required(*READ_ROLES)
def disclosures_csv():
    return _export("csv", "text/csv")


@bp.get("/disclosures.json")
@roles_required(*READ_ROLES)
def disclosures_json():
    return _export("json", "application/json")
