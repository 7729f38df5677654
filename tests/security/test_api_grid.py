"""The API's grid: every endpoint × every token a person could hold (account role × scope)
× no token, and the status each gets.

A token can exist only where ``core.scopes`` allows its scope for the account's kind and
roles (refused at creation otherwise; tested in tests/tokens). For every token that can
exist, an endpoint answers 401 with no token, 403 to a token without the endpoint's scope,
and REACHED[endpoint] to one with it: the status the sample request below gets once the
guard has let it through. A new API endpoint nobody classified here fails
``test_every_api_endpoint_is_in_the_grid``.
"""

from __future__ import annotations

import io
import itertools

import pytest

from referrals.core.guards import TOKEN_BLUEPRINTS
from referrals.core.identity import Identity, system_identity
from referrals.core.scopes import SCOPES, scope_allowed
from referrals.evidence.services import add_evidence
from referrals.holds.reading import hold_for_request
from referrals.tokens.services import create_token
from tests import factories
from tests.cases.helpers import open_case
from tests.requests.helpers import bearer, submit

SYSTEM = system_identity("test:api grid")
STAFF_ROLES = ("integration", "agent", "supervisor", "compliance", "admin")

# endpoint → (method, path template, body, status once the guard lets the request through)
REACHED = {
    "escalations_api.post_escalation": ("POST", "/api/v1/escalations", {}, 422),
    "cases_api.get_case": ("GET", "/api/v1/cases/{case}", None, 200),
    "evidence_api.upload": ("POST", "/api/v1/cases/{case}/evidence?filename=grid.txt",
                            b"synthetic grid bytes", 201),
    "evidence_api.download": ("GET", "/api/v1/cases/{case}/evidence/{item}/content", None, 200),
    "requests_api.create": ("POST", "/api/v1/requests", {}, 422),
    "requests_api.index": ("GET", "/api/v1/requests", None, 200),
    "requests_api.detail": ("GET", "/api/v1/requests/{request}", None, 200),
    "requests_api.post_message": ("POST", "/api/v1/requests/{request}/messages", {}, 422),
    "requests_api.withdraw": ("POST", "/api/v1/requests/{request}/withdraw", None, 200),
    # packages: the sample request has none yet (a listing, and "no such package")
    "packages_api.index": ("GET", "/api/v1/requests/{request}/packages", None, 200),
    "packages_api.download": ("GET", "/api/v1/requests/{request}/packages/999999", None, 404),
    "packages_api.checksum": ("GET", "/api/v1/requests/{request}/packages/999999/sha256", None,
                              404),
    "packages_api.take_key": ("POST", "/api/v1/requests/{request}/packages/999999/key", None,
                              404),
    # referrals to the officer's agency: none yet (a listing, and "no such referral")
    "referrals_api.index": ("GET", "/api/v1/referrals", None, 200),
    "referrals_api.detail": ("GET", "/api/v1/referrals/RFL-999999", None, 404),
    "referrals_api.download": ("GET", "/api/v1/referrals/RFL-999999/package", None, 404),
    "referrals_api.checksum": ("GET", "/api/v1/referrals/RFL-999999/package/sha256", None, 404),
    "referrals_api.take_key": ("POST", "/api/v1/referrals/RFL-999999/package/key", None, 404),
    "referrals_api.acknowledge": ("POST", "/api/v1/referrals/RFL-999999/acknowledge",
                                  {"agency_reference": "GRID-1"}, 404),
    "holds_api.index": ("GET", "/api/v1/holds", None, 200),
    "holds_api.detail": ("GET", "/api/v1/holds/{hold}", None, 200),
    # compliance review: the log, a disclosure that does not exist, a half-year's report
    "compliance_api.disclosures": ("GET", "/api/v1/disclosures", None, 200),
    "compliance_api.disclosure": ("GET", "/api/v1/disclosures/999999", None, 404),
    "compliance_api.transparency": ("GET", "/api/v1/transparency/2026-H2", None, 200),
    # the audit log (compliance only): a page, an event that does not exist, an export, the
    # checks' state, and starting a verification (a job)
    "audit_api.events": ("GET", "/api/v1/audit/events", None, 200),
    "audit_api.event": ("GET", "/api/v1/audit/events/99999999", None, 404),
    "audit_api.export": ("GET", "/api/v1/audit/export/csv", None, 200),
    "audit_api.integrity": ("GET", "/api/v1/audit/verification", None, 200),
    "audit_api.start": ("POST", "/api/v1/audit/verification", None, 202),
}


def holders() -> list[tuple[str, str]]:
    """Every (account, scope) pair a token can be made for."""
    pairs = [("officer", "requests:write")]
    for role, scope in itertools.product(STAFF_ROLES, SCOPES):
        roles = () if role == "integration" else (role,)
        if scope_allowed(scope, "staff", roles):
            pairs.append((role, scope))
    return pairs


HOLDERS = holders()


def test_every_api_endpoint_is_in_the_grid(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                 if rule.endpoint.split(".")[0] in TOKEN_BLUEPRINTS}
    assert endpoints == set(REACHED)
    for endpoint in endpoints:  # and each says which scope opens it
        assert app.view_functions[endpoint].required_scope in SCOPES, endpoint


def test_the_grid_holds_tokens_of_every_scope_and_no_more_than_roles_allow():
    assert {scope for _, scope in HOLDERS} == set(SCOPES)
    assert ("admin", "cases:read") not in HOLDERS  # admins see no case content
    assert ("compliance", "escalations:write") not in HOLDERS  # compliance changes nothing


@pytest.fixture
def world(officer_a):
    """A case with an item, and the officer's preservation request with its hold."""
    worker = factories.make_user("supervisor")
    case = open_case(worker)
    item = add_evidence(Identity.for_user(worker), case, io.BytesIO(b"synthetic item"),
                        original_name="grid-item.txt")
    request = submit(officer_a, request_type="preservation")
    return {"case": case.reference, "item": item.id, "request": request.reference,
            "hold": hold_for_request(request).reference}


def token_for(holder: tuple[str, str], officer) -> str:
    role, scope = holder
    if role == "officer":
        user = officer
    else:
        user = factories.make_user(None if role == "integration" else role)
    _, secret = create_token(SYSTEM, user, scopes=[scope])
    return secret


def call(client, endpoint: str, world: dict, headers: dict):
    method, template, body, _ = REACHED[endpoint]
    path = template.format(**world)
    if isinstance(body, bytes):
        return client.open(path, method=method, data=body, headers={
            **headers, "Content-Type": "application/octet-stream"})
    return client.open(path, method=method, json=body, headers=headers)


@pytest.mark.parametrize("endpoint", sorted(REACHED))
def test_no_token_is_a_401(client, world, endpoint):
    response = call(client, endpoint, world, {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("holder", HOLDERS, ids=lambda h: f"{h[0]}:{h[1]}")
@pytest.mark.parametrize("endpoint", sorted(REACHED))
def test_api_grid(app, client, world, officer_a, endpoint, holder):
    secret = token_for(holder, officer_a)
    needed = app.view_functions[endpoint].required_scope
    expected = REACHED[endpoint][3] if holder[1] == needed else 403
    response = call(client, endpoint, world, bearer(secret))
    assert response.status_code == expected, response.get_data(as_text=True)[:300]
