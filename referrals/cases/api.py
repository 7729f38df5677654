"""JSON API: escalations from upstream detection systems, and reading cases."""

from __future__ import annotations

from referrals.cases import services
from referrals.cases.escalations import receive_escalation
from referrals.cases.policies import case_policy
from referrals.cases.schemas import CaseOut, EscalationIn, EscalationOut
from referrals.core.api import BEARER, api_blueprint, require_scope
from referrals.core.identity import current_identity
from referrals.vocabulary.identifiers import describe_identifier_kinds

escalations_api = api_blueprint(
    "escalations_api", __name__, url_prefix="/api/v1/escalations",
    description="Upstream detection systems file escalations (scope escalations:write). "
    "Idempotent on (source_system, external_id).",
)
cases_api = api_blueprint(
    "cases_api", __name__, url_prefix="/api/v1/cases",
    description="Read cases (scope cases:read).",
)


@escalations_api.route("", methods=["POST"])
@require_scope("escalations:write")
@escalations_api.arguments(EscalationIn)
@escalations_api.response(201, EscalationOut, description="A new case was opened, or the "
                          "escalation joined an open case that shares an identifier")
@escalations_api.alt_response(200, schema=EscalationOut,
                              description="Already received: the same case, nothing changed")
@escalations_api.doc(security=[BEARER])
def post_escalation(data):
    """File an escalation"""
    intake = receive_escalation(current_identity(), data)
    body = {"case_reference": intake.case.reference, "escalation_id": intake.escalation.id,
            "created": intake.created, "attached": intake.attached,
            "duplicate": intake.duplicate}
    return body, 200 if intake.duplicate else 201


@cases_api.route("/<reference>", methods=["GET"])
@require_scope("cases:read")
@cases_api.response(200, CaseOut)
@cases_api.doc(security=[BEARER])
def get_case(reference: str):
    """Read a case"""
    identity = current_identity()
    case = services.get_case(reference)
    case_policy.require(identity, "view", case)
    return case


def register(api) -> None:
    api.register_blueprint(escalations_api)
    api.register_blueprint(cases_api)
    describe_identifier_kinds(api.spec, "IdentifierIn")
