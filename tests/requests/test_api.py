"""The agencies' JSON API: /api/v1/requests with an officer's token (scope requests:write).
A token sees exactly what its officer sees."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from referrals.core.clock import now
from referrals.core.identity import system_identity
from referrals.extensions import db
from referrals.requests import services
from referrals.tokens.models import ApiToken
from referrals.tokens.services import TOKEN_PREFIX, create_token, hash_token, revoke_token
from referrals.requests.rules import GOOD_FAITH, GOOD_FAITH_MISSING
from tests import factories
from tests.requests.helpers import (after, api_body, as_identity, audit_events, bearer,
                                    post_form, reload_request, submit)

SYSTEM = system_identity("test")


@pytest.fixture
def secret_a(officer_a, officer_token):
    return officer_token(officer_a)


def test_a_token_made_on_the_portal_works_on_the_api(new_client, officer_a, client):
    browser = new_client(officer_a)
    page = post_form(browser, "/portal/tokens", data={"name": "Made-up case system"})
    assert page.status_code == 200
    secret = re.search(r'id="api-token">([^<]+)<', page.text).group(1)
    assert secret.startswith(TOKEN_PREFIX)
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == officer_a.id))
    assert token.scope_list == ["requests:write"] and token.name == "Made-up case system"
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    # Shown once: the list afterwards shows only the prefix.
    listing = browser.get("/portal/tokens").text
    assert secret not in listing and token.prefix in listing
    [event] = audit_events("api_token.created", token.id)
    assert after(event)["scopes"] == ["requests:write"] and secret not in (event.after or "")
    assert client.get("/api/v1/requests", headers=bearer(secret)).status_code == 200


def test_submit_returns_201_with_the_deadline(client, secret_a, officer_a, irish_agency_a,
                                              frozen):
    # An Irish authority's EPOC on Wednesday 23 September 2026: day 10 is Saturday 3
    # October, so it is due at the end of Monday 5 October (1182/71 art. 3(4)), IST.
    frozen(datetime(2026, 9, 23, 10, 20, tzinfo=UTC))
    response = client.post("/api/v1/requests", json=api_body(request_type="eu_epoc",
                                                             addressed_to="eu"),
                           headers=bearer(secret_a))
    assert response.status_code == 201, response.text
    body = response.json
    assert re.fullmatch(r"REQ-2026-\d{6}", body["reference"])
    assert body["status"] == "received" and body["request_type"] == "eu_epoc"
    assert datetime.fromisoformat(body["deadline_at"]) == datetime(2026, 10, 5, 22, 59, 59, 999999,
                                                                   tzinfo=UTC)
    assert body["targets"] == [{"kind": "platform_user_id", "value": "u-made-up-42"}]
    assert body["warnings"] == []
    stored = reload_request(body["reference"])
    assert stored.submitted_by_id == officer_a.id and len(stored.documents) == 1
    [event] = audit_events("request.submitted", body["reference"])
    assert "token" in event.actor_label  # the audit says it came through a token


def test_an_emergency_through_the_api(client, secret_a):
    body = api_body(request_type="emergency", documents=[], legal_basis="",
                    emergency_description="Made-up imminent threat",
                    person_at_risk="A made-up person", why_data_helps="Made-up location data",
                    good_faith_attested=True)
    response = client.post("/api/v1/requests", json=body, headers=bearer(secret_a))
    assert response.status_code == 201, response.text
    assert response.json["emergency"] is True
    assert response.json["attestation_version"] == GOOD_FAITH.version


def test_an_emergency_through_the_api_needs_the_good_faith_statement(client, secret_a):
    body = api_body(request_type="emergency", documents=[], legal_basis="",
                    emergency_description="Made-up imminent threat",
                    person_at_risk="A made-up person", why_data_helps="Made-up location data")
    response = client.post("/api/v1/requests", json=body, headers=bearer(secret_a))
    assert response.status_code == 422, response.text
    assert GOOD_FAITH_MISSING in response.text


def test_the_list_shows_only_the_officers_own_requests(client, secret_a, officer_a, officer_b,
                                                       agency_a):
    mine = submit(officer_a)
    colleague = factories.make_user("officer", agency=agency_a,
                                    email="det.other@metro-a.police.example")
    submit(colleague)                   # same agency, not shared
    submit(officer_b)                   # another agency
    shared = submit(colleague)
    services.add_colleague(as_identity(colleague), shared, officer_a.email)
    response = client.get("/api/v1/requests", headers=bearer(secret_a))
    assert response.status_code == 200
    assert sorted(r["reference"] for r in response.json) == sorted([mine.reference,
                                                                    shared.reference])
    assert "messages" not in response.json[0]


def test_detail_messages_and_withdraw(client, secret_a, officer_a, make_user):
    request = submit(officer_a)
    services.post_message(as_identity(make_user("agent", full_name="Staffer Made-up")), request,
                          "Made-up question from the team", internal=False)
    url = f"/api/v1/requests/{request.reference}"

    detail = client.get(url, headers=bearer(secret_a))
    assert detail.status_code == 200
    assert detail.json["reference"] == request.reference
    assert detail.json["messages"][0]["author"] == "LER team"
    # A lower-case reference finds the same request.
    assert client.get(f"/api/v1/requests/{request.reference.lower()}",
                      headers=bearer(secret_a)).json["reference"] == request.reference

    posted = client.post(f"{url}/messages", json={"body": "Made-up answer from the officer"},
                         headers=bearer(secret_a))
    assert posted.status_code == 201, posted.text
    assert posted.json["body"] == "Made-up answer from the officer"
    assert posted.json["author"] == "Det. Alex Alpha"
    bodies = [m["body"] for m in client.get(url, headers=bearer(secret_a)).json["messages"]]
    assert bodies == ["Made-up question from the team", "Made-up answer from the officer"]

    withdrawn = client.post(f"{url}/withdraw", headers=bearer(secret_a))
    assert withdrawn.status_code == 200 and withdrawn.json["status"] == "withdrawn"
    assert reload_request(request.reference).is_open is False
    again = client.post(f"{url}/withdraw", headers=bearer(secret_a))
    assert again.status_code == 409
    assert again.json["message"] == "This request can no longer be withdrawn."


@pytest.mark.parametrize(("body", "field"), [
    ({"body": ""}, "body"),
    ({}, "body"),
    ({"body": "x" * 20001}, "body"),
])
def test_a_bad_message_is_422_naming_the_field(client, secret_a, officer_a, body, field):
    request = submit(officer_a)
    response = client.post(f"/api/v1/requests/{request.reference}/messages", json=body,
                           headers=bearer(secret_a))
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


@pytest.mark.parametrize(("change", "field"), [
    ({"officer_name": None}, "officer_name"),
    ({"request_type": "pigeon_post"}, "request_type"),
    ({"data_categories": ["subscriber", "dreams"]}, "data_categories"),
    ({"data_categories": []}, "data_categories"),
    ({"targets": []}, "targets"),
    ({"targets": [{"kind": "aura", "value": "x"}]}, "targets"),
    ({"official_email": "not-an-address"}, "official_email"),
    ({"date_from": "31/01/2026"}, "date_from"),
    ({"addressed_to": "mars"}, "addressed_to"),
    ({"unexpected_field": "x"}, "unexpected_field"),
])
def test_schema_errors_are_422_naming_the_field(client, secret_a, change, field):
    response = client.post("/api/v1/requests", json=api_body(**change), headers=bearer(secret_a))
    assert response.status_code == 422, response.text
    assert field in response.json["errors"]["json"], response.json


def test_a_body_that_is_not_json_is_refused(client, secret_a):
    response = client.post("/api/v1/requests", data="not json", headers={
        **bearer(secret_a), "Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    assert response.is_json


# --- who may use it -------------------------------------------------------------------------


def test_no_token_is_401(client, officer_a):
    request = submit(officer_a)
    for method, path in [("GET", "/api/v1/requests"), ("POST", "/api/v1/requests"),
                         ("GET", f"/api/v1/requests/{request.reference}"),
                         ("POST", f"/api/v1/requests/{request.reference}/messages"),
                         ("POST", f"/api/v1/requests/{request.reference}/withdraw")]:
        response = client.open(path, method=method, json={})
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_forged_or_revoked_token_is_401(client, officer_a, secret_a):
    response = client.get("/api/v1/requests", headers=bearer(TOKEN_PREFIX + "made-up-token"))
    assert response.status_code == 401
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret_a)))
    revoke_token(SYSTEM, token)
    assert client.get("/api/v1/requests", headers=bearer(secret_a)).status_code == 401


def test_a_signed_in_browser_session_is_not_enough(new_client, officer_a):
    browser = new_client(officer_a)
    assert browser.get("/api/v1/requests").status_code == 401


def test_a_staff_token_is_403(client, make_user, officer_a):
    request = submit(officer_a)
    agent = make_user("agent")
    _, secret = create_token(SYSTEM, agent, scopes=["cases:read"])
    for method, path in [("GET", "/api/v1/requests"), ("POST", "/api/v1/requests"),
                         ("GET", f"/api/v1/requests/{request.reference}"),
                         ("POST", f"/api/v1/requests/{request.reference}/withdraw")]:
        response = client.open(path, method=method, json=api_body(), headers=bearer(secret))
        assert response.status_code == 403, path
        assert response.json["message"] == "This token does not have the requests:write scope."
    assert reload_request(request.reference).status == "received"


def test_requests_write_cannot_be_given_to_staff(make_user):
    from referrals.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        create_token(SYSTEM, make_user("supervisor"), scopes=["requests:write"])


def test_a_staff_token_with_the_scope_still_cannot_submit(client, make_user):
    """Even a staff token that somehow holds requests:write is not an agency officer: the
    scope is not one a staff account may hold, so it is dropped at use (issue 10, finding 5)."""
    supervisor = make_user("supervisor")
    secret = TOKEN_PREFIX + "made-up-staff-token-with-the-agency-scope-0001"
    db.session.add(ApiToken(user_id=supervisor.id, name="Made-up", prefix=secret[:12],
                            token_hash=hash_token(secret), scopes="requests:write",
                            created_at=now()))
    db.session.flush()
    response = client.post("/api/v1/requests", json=api_body(), headers=bearer(secret))
    assert response.status_code == 403
    assert client.get("/api/v1/requests", headers=bearer(secret)).status_code == 403


def test_an_officer_token_without_the_scope_is_403(client, officer_a):
    secret = TOKEN_PREFIX + "made-up-officer-token-without-the-scope-001"
    db.session.add(ApiToken(user_id=officer_a.id, name="Made-up", prefix=secret[:12],
                            token_hash=hash_token(secret), scopes="cases:read", created_at=now()))
    db.session.flush()
    request = submit(officer_a)
    for method, path in [("GET", "/api/v1/requests"), ("POST", "/api/v1/requests"),
                         ("GET", f"/api/v1/requests/{request.reference}"),
                         ("POST", f"/api/v1/requests/{request.reference}/messages")]:
        assert client.open(path, method=method, json={"body": "x"},
                           headers=bearer(secret)).status_code == 403, path


def test_a_token_of_a_disabled_officer_is_refused(client, officer_a, secret_a):
    officer_a.active = False
    db.session.flush()
    assert client.get("/api/v1/requests", headers=bearer(secret_a)).status_code == 401


def test_the_token_of_an_officer_whose_approval_was_withdrawn_cannot_submit(client, officer_a,
                                                                            secret_a):
    officer_a.approved_at = None
    db.session.flush()
    response = client.post("/api/v1/requests", json=api_body(), headers=bearer(secret_a))
    assert response.status_code == 403
    assert "waiting for approval" in response.json["message"]


def test_officers_of_a_suspended_agency_cannot_submit(client, officer_a, secret_a, agency_a,
                                                      new_client):
    """An agency suspended after its officers registered: their tokens and pages stop, reads
    included, with a plain message (issue 10, finding 6)."""
    browser = new_client(officer_a)
    existing = submit(officer_a)
    agency_a.status = "suspended"
    db.session.flush()
    response = client.post("/api/v1/requests", json=api_body(), headers=bearer(secret_a))
    assert response.status_code == 403
    assert "suspended" in response.json["message"]
    read = client.get(f"/api/v1/requests/{existing.reference}", headers=bearer(secret_a))
    assert read.status_code == 403 and "suspended" in read.json["message"]
    assert existing.reference not in read.text
    page = browser.get("/portal/tokens")
    assert page.status_code == 403 and "suspended" in page.text


def test_the_api_paths_are_in_the_openapi_description(client):
    spec = client.get("/api/v1/openapi.json").json
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/requests"])
    assert "get" in paths["/api/v1/requests/{reference}"]
    assert "post" in paths["/api/v1/requests/{reference}/messages"]
    assert "post" in paths["/api/v1/requests/{reference}/withdraw"]
    for path in ("/api/v1/requests", "/api/v1/requests/{reference}"):
        for method, operation in paths[path].items():
            if method in ("get", "post"):
                assert {"bearerAuth": []} in operation["security"], (path, method)
    schema_ref = paths["/api/v1/requests"]["post"]["requestBody"]["content"]["application/json"][
        "schema"]["$ref"]
    variants = spec["components"]["schemas"][schema_ref.rsplit("/", 1)[-1]]["oneOf"]
    assert len(variants) == len({v["properties"]["request_type"]["enum"][0] for v in variants})
    for schema in variants:  # one per type of legal process
        assert {"request_type", "targets", "documents", "date_from", "date_to"} <= set(
            schema["properties"])


def test_a_request_refused_on_several_fields_names_each_of_them(client, secret_a):
    """Regression: the API named only the first field the intake checks refused."""
    today = now().date()
    response = client.post("/api/v1/requests", headers=bearer(secret_a), json=api_body(
        date_from=(today - timedelta(days=1)).isoformat(),
        date_to=(today - timedelta(days=30)).isoformat(), documents=[]))
    assert response.status_code == 422, response.json
    assert set(response.json["errors"]) == {"date_from", "documents"}, response.json
