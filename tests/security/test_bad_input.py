"""Finding 8 of the penetration test: inputs that reached the database or the calendar and
came back as a 500. Each must be a 4xx with a plain message, on pages and on the API."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

DB_INT_MAX = 2**31 - 1  # INTEGER on PostgreSQL
from referrals.evidence.models import EvidenceItem
from referrals.extensions import db
from referrals.requests.models import DisclosureRequest
from tests.cases.helpers import SYSTEM, open_case
from tests.conftest import csrf_from
from tests.requests.helpers import api_body, bearer

HUGE = "99999999999999999999999"


@pytest.fixture
def officer_headers(officer_a, officer_token):
    return bearer(officer_token(officer_a))


def _requests() -> int:
    return db.session.scalar(select(func.count(DisclosureRequest.id)))


def post_raw(client, headers, body: str | bytes):
    return client.post("/api/v1/requests", data=body,
                       headers={**headers, "Content-Type": "application/json"})


def test_json_nested_five_thousand_deep_is_a_400(client, officer_headers):
    response = post_raw(client, officer_headers, "[" * 5000 + "]" * 5000)
    assert response.status_code == 400
    assert "nested more than" in response.json["message"]


def test_json_nested_within_the_limit_reaches_the_schema(client, officer_headers):
    body = api_body(legal_basis="x")
    body["extra"] = json.loads("[" * 30 + "]" * 30)
    response = client.post("/api/v1/requests", json=body, headers=officer_headers)
    assert response.status_code == 422  # unknown field, said by the schema
    assert "extra" in json.dumps(response.json["errors"])


@pytest.mark.parametrize("field", ["issuing_authority", "officer_name", "legal_basis"])
def test_a_lone_surrogate_in_any_string_field_is_a_400(client, officer_headers, field):
    before = _requests()
    body = json.dumps(api_body(**{field: "Made-up \ud800 text"}))
    assert "\\ud800" in body  # sent as JSON escapes, as an attacker would
    response = post_raw(client, officer_headers, body)
    assert response.status_code == 400
    assert "surrogate" in response.json["message"]
    assert _requests() == before


def test_a_lone_surrogate_in_a_key_is_a_400(client, officer_headers):
    response = post_raw(client, officer_headers, '{"\\udfff": 1}')
    assert response.status_code == 400


def test_nul_bytes_in_json_text_are_refused(client, officer_headers):
    before = _requests()
    response = client.post("/api/v1/requests", json=api_body(officer_name="Det.\x00Made Up"),
                           headers=officer_headers)
    assert response.status_code == 400
    assert "NUL" in response.json["message"]
    assert _requests() == before


def test_nul_bytes_in_a_query_string_are_refused(as_role, client):
    as_role("agent")
    response = client.get("/cases/?q=made%00up")
    assert response.status_code == 400
    assert "NUL" in response.text


def test_nul_bytes_in_a_multipart_form_field_are_refused_at_flush(as_role, client):
    """Multipart bodies are parsed by their view (after it raises the size limit), so
    their text meets the check when it would be written."""
    user = as_role("agent")
    case = open_case(user)
    page = client.get(f"/cases/{case.reference}")
    token = csrf_from(page.text)
    response = client.post(f"/cases/{case.reference}/evidence", data={
        "csrf_token": token, "file": (io.BytesIO(b"synthetic bytes"), "made\x00up.txt"),
        "description": "Synthetic\x00note", "source_system": "test"},
        content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 200
    assert "NUL characters" in response.text
    assert db.session.scalar(select(func.count(EvidenceItem.id))
                             .where(EvidenceItem.case_id == case.id)) == 0


def test_an_id_too_large_for_the_database_in_a_query_is_ignored(as_role, client):
    as_role("agent")
    response = client.get(f"/cases/?assignee_id={HUGE}")
    assert response.status_code == 200


def test_an_id_too_large_for_the_database_in_a_path_is_not_found(as_role, client):
    user = as_role("agent")
    case = open_case(user)
    for huge in (HUGE, str(DB_INT_MAX + 1)):
        response = client.get(f"/cases/{case.reference}/evidence/{huge}")
        assert response.status_code == 404
    assert client.get(f"/cases/{case.reference}/evidence/{DB_INT_MAX}").status_code == 404


def test_a_paging_cursor_too_large_for_the_database_is_ignored(as_role, client):
    as_role("compliance")
    assert client.get(f"/audit/?before={HUGE}").status_code == 200


def test_a_non_disclosure_order_ending_at_the_end_of_the_calendar_is_refused(client, officer_headers):
    response = client.post("/api/v1/requests", headers=officer_headers, json=api_body(
        nondisclosure_order=True, nondisclosure_until="9999-12-31"))
    assert response.status_code == 422
    assert "nondisclosure_until" in response.json["errors"]["json"]


def test_a_period_over_the_whole_calendar_is_refused_not_warned_about(client, officer_headers):
    before = _requests()
    response = client.post("/api/v1/requests", headers=officer_headers, json=api_body(
        date_from="0001-01-01", date_to="9999-12-31"))
    assert response.status_code == 422
    errors = response.json["errors"]["json"]
    assert "date_from" in errors and "date_to" in errors
    assert _requests() == before


def test_a_body_of_seventy_mebibytes_is_a_413(client, officer_headers):
    response = post_raw(client, officer_headers, b'{"a": "' + b"x" * (70 * 1024 * 1024) + b'"}')
    assert response.status_code == 413
    assert response.json["message"]


def test_a_405_names_the_allowed_methods(client, officer_headers):
    response = client.delete("/api/v1/requests", headers=officer_headers)
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
