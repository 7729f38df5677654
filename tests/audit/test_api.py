"""The audit log's JSON API (scope audit:read): compliance reviewers only; filtered pages,
an event's difference, streamed exports, starting and following a verification; the spec."""

from __future__ import annotations

import csv
import io

import pytest

from referrals.audit.log import CSV_COLUMNS
from referrals.audit.services import record_event
from referrals.core.errors import DomainError
from referrals.core.identity import Identity, system_identity
from referrals.core.transaction import commit
from tests import factories
from tests.cases.helpers import bearer, make_token

ACTOR = system_identity("test:audit api")


@pytest.fixture
def reviewer(make_user):
    return make_token(make_user("compliance"), "audit:read")


@pytest.fixture
def made_up_log(make_user):
    agency = factories.AgencyFactory(name="Made-up API Police")
    owner = make_user("agent", email="owner.api@staff.example")
    record_event(Identity.for_user(owner), "request.assigned", object_type="request",
                 object_id="REQ-2026-000009", agency_id=agency.id,
                 before={"assignee_id": None}, after={"assignee_id": owner.id})
    record_event(ACTOR, "case.viewed", object_type="case", object_id="CASE-2026-000009")
    commit()
    return {"agency": agency, "owner": owner}


@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
def test_only_compliance_may_hold_the_scope(make_user, role):
    with pytest.raises(DomainError):
        make_token(make_user(role), "audit:read")


def test_a_filtered_page_and_an_event_with_names(client, reviewer, made_up_log):
    agency = made_up_log["agency"]
    page = client.get(f"/api/v1/audit/events?agency_id={agency.id}&limit=5",
                      headers=bearer(reviewer))
    assert page.status_code == 200
    [event] = page.json["events"]
    assert event["action"] == "request.assigned" and page.json["next_before"] is None
    detail = client.get(f"/api/v1/audit/events/{event['seq']}", headers=bearer(reviewer)).json
    assert detail["agency"] == "Made-up API Police"
    [change] = detail["changes"]
    assert change["title"] == "Assignee" and change["before"] == "—"
    assert change["after"] == f"owner.api@staff.example (#{made_up_log['owner'].id})"


def test_a_bad_filter_is_a_plain_422(client, reviewer):
    response = client.get("/api/v1/audit/events?date_from=2026-03-05&date_to=2026-03-01",
                          headers=bearer(reviewer))
    assert response.status_code == 422 and "after" in response.json["message"]
    response = client.get("/api/v1/audit/events?date_from=soon", headers=bearer(reviewer))
    assert response.status_code == 422


def test_the_export_streams_csv(client, reviewer, made_up_log):
    response = client.get("/api/v1/audit/export/csv?action=case.viewed", headers=bearer(reviewer))
    assert response.status_code == 200 and response.is_streamed
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert tuple(rows[0]) == CSV_COLUMNS and [r[5] for r in rows[1:]] == ["case.viewed"]


def test_a_verification_is_started_and_followed(client, reviewer, checkpoint_dir, made_up_log):
    started = client.post("/api/v1/audit/verification", headers=bearer(reviewer))
    assert started.status_code == 202
    followed = client.get("/api/v1/audit/verification", headers=bearer(reviewer)).json
    assert followed["progress"]["finished"] is True
    # No checkpoint was ever written: the chain is not vouched for, so it does not verify.
    assert followed["last_result"]["ok"] is False
    assert followed["checkpoint"]["state"] == "missing"


def test_the_spec_describes_the_audit_api(client):
    spec = client.get("/api/v1/openapi.json").json
    paths = spec["paths"]
    assert {"/api/v1/audit/events", "/api/v1/audit/events/{seq}",
            "/api/v1/audit/export/{fmt}", "/api/v1/audit/verification"} <= set(paths)
    assert set(paths["/api/v1/audit/verification"]) >= {"get", "post"}
    export = paths["/api/v1/audit/export/{fmt}"]["get"]
    assert "text/csv" in export["responses"]["200"]["content"]
    assert {p["name"] for p in paths["/api/v1/audit/events"]["get"]["parameters"]} >= {
        "action", "actor", "object_type", "object_id", "agency_id", "date_from", "date_to",
        "before", "limit"}
