"""JSON API: read preservation holds (scope holds:read), for the team's own tooling, e.g. a
legal-operations dashboard of what expires when. Holds are placed, renewed and ended on the
staff pages, where each action has its confirmation and its reason."""

from __future__ import annotations

from datetime import timedelta

from marshmallow import Schema, fields, validate

from referrals.core.api import BEARER, api_blueprint, require_scope
from referrals.core.clock import now
from referrals.core.identity import current_identity
from referrals.holds import reading
from referrals.holds.rules import HOLD_KINDS, STATUSES
from referrals.holds.standing import standing

holds_api = api_blueprint(
    "holds_api", __name__, url_prefix="/api/v1/holds",
    description="Read preservation holds (scope holds:read; agents, supervisors and "
                "compliance reviewers).",
)


class HoldQuery(Schema):
    status = fields.String(load_default="open", validate=validate.OneOf(
        ["open", "all", *STATUSES], error="Use open, all or one of: " + ", ".join(STATUSES) + "."),
        metadata={"description": "open (active or extended, the default), all, or one status"})
    kind = fields.String(load_default="", validate=validate.OneOf(
        ["", *HOLD_KINDS], error="Use one of: " + ", ".join(HOLD_KINDS) + "."))
    expiring_within_days = fields.Integer(load_default=None, validate=validate.Range(
        min=1, max=366, error="Give a number of days from 1 to 366."), metadata={
        "description": "Only live holds whose expiry falls within this many days"})


class HeldIdentifierOut(Schema):
    kind = fields.String()
    value = fields.String()
    normalized = fields.String()


class HoldOut(Schema):
    reference = fields.String()
    kind = fields.String()
    status = fields.String()
    legal_basis = fields.String()
    request = fields.Function(lambda h: h.request.reference if h.request else None,
                              metadata={"description": "The request that placed it, if any"})
    case = fields.Function(lambda h: h.case.reference if h.case else None,
                           metadata={"description": "The case it was placed from, if any"})
    agency = fields.Function(lambda h: h.agency.name if h.agency else None)
    owner = fields.Function(lambda h: h.owner.email if h.owner else None)
    identifiers = fields.List(fields.Nested(HeldIdentifierOut))
    data_categories = fields.List(fields.String())
    date_from = fields.Date(allow_none=True)
    date_to = fields.Date(allow_none=True)
    starts_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True, metadata={
        "description": "Null while open-ended (internal holds; confirmed production orders)"})
    review_due_at = fields.DateTime(allow_none=True)
    time_zone = fields.Function(lambda h: standing(h).zone, metadata={
        "description": "The legal time zone the hold's periods are counted in"})
    renewals = fields.Integer()
    renewals_left = fields.Function(lambda h: standing(h).renewals_left)
    extensions = fields.Integer()
    extensions_left = fields.Function(lambda h: standing(h).extensions_left)
    production_reference = fields.String()
    placed_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    end_reason = fields.String()
    snapshot_at = fields.DateTime(allow_none=True)


@holds_api.route("", methods=["GET"])
@require_scope("holds:read")
@holds_api.arguments(HoldQuery, location="query")
@holds_api.response(200, HoldOut(many=True))
@holds_api.doc(security=[BEARER])
def index(query):
    """Holds: open ones first, soonest expiry first"""
    days = query["expiring_within_days"]
    return reading.staff_holds(
        current_identity(), status=query["status"], kind=query["kind"],
        expiring_before=now() + timedelta(days=days) if days is not None else None)


@holds_api.route("/<reference>", methods=["GET"])
@require_scope("holds:read")
@holds_api.response(200, HoldOut)
@holds_api.doc(security=[BEARER])
def detail(reference: str):
    """One hold"""
    return reading.get_hold(current_identity(), reference)


def register(api) -> None:
    api.register_blueprint(holds_api)
