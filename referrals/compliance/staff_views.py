"""Compliance pages: the disclosure log and the transparency report (compliance reviewers and
supervisors read them; nothing here changes a disclosure)."""

from __future__ import annotations

from flask import Response, render_template, request

from referrals.compliance import transparency as reports
from referrals.compliance.policies import READ_ROLES, compliance_policy
from referrals.compliance.transparency_export import (csv_name, export_pdf, export_table_csv,
                                                      page_values, pdf_name)
from referrals.core.clock import now
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import current_identity

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
