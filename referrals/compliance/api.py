"""JSON API for compliance tooling (scope compliance:read; compliance reviewers and
supervisors): the disclosure log, one disclosure, and the transparency report of a half-year.
Reading only; opening one disclosure is audited as on the page."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from referrals.compliance import disclosure_log
from referrals.compliance.transparency import (FIRST_YEAR, LAST_YEAR, build_report,
                                               parse_period)
from referrals.core.api import BEARER, api_blueprint, require_scope
from referrals.core.identity import current_identity
from referrals.core.inputs import DB_INT_MAX, LEGAL_DATE_SPEC, legal_date
from referrals.disclosures.models import DISCLOSURE_KINDS

# The half-years ``parse_period`` takes (2000-H1 … 2199-H2), as the spec says it.
PERIOD_SPEC = r"^2[01][0-9]{2}-[Hh][12]$"

compliance_api = api_blueprint(
    "compliance_api", __name__, url_prefix="/api/v1",
    description="Compliance review (scope compliance:read; compliance reviewers and "
                "supervisors): the disclosure log and the transparency report.",
)


class DisclosureQuery(Schema):
    kind = fields.String(load_default="", validate=validate.OneOf(
        ["", *DISCLOSURE_KINDS], error="Use one of: " + ", ".join(DISCLOSURE_KINDS) + "."))
    agency_id = fields.Integer(load_default=None, validate=validate.Range(
        min=1, max=DB_INT_MAX, error="Give an agency id."))
    country = fields.String(load_default="", validate=validate.Regexp(
        r"^([A-Za-z]{2})?$", error="Give the country as its two-letter ISO code, e.g. US."),
        metadata={"pattern": "^([A-Za-z]{2})?$"})
    date_from = fields.Date(load_default=None, validate=legal_date, metadata=LEGAL_DATE_SPEC)
    date_to = fields.Date(load_default=None, validate=legal_date, metadata=LEGAL_DATE_SPEC)
    legal_basis = fields.String(load_default="", validate=validate.Length(max=200), metadata={
        "description": "Text the legal basis contains (any case)"})
    before = fields.Integer(load_default=None, validate=validate.Range(min=1, max=DB_INT_MAX),
                            metadata={"description": "The next page: disclosures older than "
                                                     "this id (the last one of this page)"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class DisclosureLogOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    disclosed_at = fields.DateTime()
    recipient_name = fields.String(metadata={"description": "As named when it left"})
    recipient_country = fields.String()
    agency_id = fields.Integer()
    legal_basis = fields.String()
    request_reference = fields.String()
    case_reference = fields.String()
    data_categories = fields.List(fields.String())
    subjects = fields.List(fields.String(), metadata={"description": "kind:identifier"})
    items = fields.Integer(metadata={"description": "How many evidence items left"})
    item_sha256 = fields.List(fields.String())
    prepared_by = fields.String()
    approved_by = fields.String()
    released_by = fields.String()
    package_sha256 = fields.String()
    package_downloads = fields.Integer()


class TransparencyReportOut(Schema):
    period = fields.String()
    label = fields.String()
    starts_at = fields.String()
    ends_at = fields.String()
    built_at = fields.String()
    tables = fields.Dict(keys=fields.String(), values=fields.List(fields.Dict()), metadata={
        "description": "Table name → its rows; the columns are the CSV files' columns"})


@compliance_api.route("/disclosures", methods=["GET"])
@require_scope("compliance:read")
@compliance_api.arguments(DisclosureQuery, location="query")
@compliance_api.response(200, DisclosureLogOut(many=True))
@compliance_api.doc(security=[BEARER])
def disclosures(query):
    """The disclosure log, newest first"""
    filters = disclosure_log.DisclosureFilters(
        kind=query["kind"], agency_id=query["agency_id"], country=query["country"].upper(),
        date_from=query["date_from"], date_to=query["date_to"],
        legal_basis=query["legal_basis"].strip())
    return disclosure_log.log_page(current_identity(), filters, before=query["before"],
                                   limit=query["limit"]).rows


@compliance_api.route("/disclosures/<int:disclosure_id>", methods=["GET"])
@require_scope("compliance:read")
@compliance_api.response(200, DisclosureLogOut)
@compliance_api.doc(security=[BEARER])
def disclosure(disclosure_id: int):
    """One disclosure (the view is audited)"""
    return disclosure_log.open_disclosure(current_identity(), disclosure_id)


@compliance_api.route("/transparency/<period>", methods=["GET"], parameters=[{
    "in": "path", "name": "period", "required": True,
    "description": f"The half-year: YYYY-H1 or YYYY-H2, years {FIRST_YEAR} to {LAST_YEAR}",
    "schema": {"type": "string", "pattern": PERIOD_SPEC}}])
@require_scope("compliance:read")
@compliance_api.response(200, TransparencyReportOut)
@compliance_api.doc(security=[BEARER])
def transparency(period: str):
    """The transparency report of a half-year, every table"""
    return build_report(parse_period(period)).as_json()


def register(api) -> None:
    api.register_blueprint(compliance_api)
