"""The holds API (scope holds:read): who may read, what a hold says, the expiring filter,
plain refusals for bad input, and the spec that describes it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from referrals.accounts.services import ensure_roles
from referrals.core.errors import InvalidInput
from referrals.core.transaction import commit
from referrals.extensions import db
from referrals.holds.services import place_internal_hold
from tests.cases.helpers import bearer, make_token, open_case
from tests.holds.helpers import hold_of, me, preserve

RECEIVED = datetime(2026, 3, 25, 10, 20, tzinfo=UTC)


@pytest.fixture
def holds(officer_a, agent, frozen):
    """A 2703(f) hold (expires 23 June 2026) and an internal one on a case (no expiry)."""
    frozen(RECEIVED)
    request = preserve(officer_a)
    internal = place_internal_hold(me(agent), open_case(agent), [("username", "@made_up_target_one")],
                                   ["subscriber"], None, None, "Made-up litigation hold")
    commit()
    return hold_of(request), internal


def get(client, path, token):
    return client.get(path, headers=bearer(token))


@pytest.mark.parametrize("role", ["agent", "supervisor", "compliance"])
def test_staff_who_read_holds_list_them_open_soonest_first(client, holds, make_user, role):
    token = make_token(make_user(role), "holds:read")
    response = get(client, "/api/v1/holds", token)
    assert response.status_code == 200
    first = response.json[0]
    assert first["reference"] == holds[0].reference
    assert first["kind"] == "us_2703f" and first["status"] == "active"
    assert first["expires_at"].startswith("2026-06-23T")
    assert first["time_zone"] == "America/Los_Angeles"
    assert first["renewals_left"] == 1 and first["request"] == holds[0].request.reference
    assert {i["normalized"] for i in first["identifiers"]} == {
        "made_up_target_one", "target.two@example.invalid"}
    assert response.json[1]["reference"] == holds[1].reference
    assert response.json[1]["expires_at"] is None and response.json[1]["case"]


def test_expiring_within_days_keeps_only_what_expires_in_that_window(client, holds, agent, frozen):
    token = make_token(agent, "holds:read")
    frozen(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))  # 22 days before the 2703(f) expiry
    assert [h["reference"] for h in get(client, "/api/v1/holds?expiring_within_days=30",
                                        token).json] == [holds[0].reference]
    assert get(client, "/api/v1/holds?expiring_within_days=7", token).json == []


def test_one_hold_by_reference_and_an_unknown_one_is_a_plain_404(client, holds, agent):
    token = make_token(agent, "holds:read")
    response = get(client, f"/api/v1/holds/{holds[0].reference.lower()}", token)
    assert response.status_code == 200 and response.json["reference"] == holds[0].reference
    missing = get(client, "/api/v1/holds/HOLD-2026-999999", token)
    assert missing.status_code == 404
    assert "HOLD-2026-999999" in missing.json["message"]


@pytest.mark.parametrize("query, message", [
    ("status=frozen", "Use open, all or one of"),
    ("kind=forever", "Use one of"),
    ("expiring_within_days=0", "from 1 to 366"),
    ("expiring_within_days=soon", "Not a valid integer"),
])
def test_bad_filters_are_refused_in_plain_words(client, holds, agent, query, message):
    response = get(client, f"/api/v1/holds?{query}", make_token(agent, "holds:read"))
    assert response.status_code == 422
    assert message in str(response.json)
    assert "Traceback" not in response.text


def test_a_token_without_the_scope_is_refused(client, holds, agent):
    response = get(client, "/api/v1/holds", make_token(agent, "cases:read"))
    assert response.status_code == 403
    assert response.json["message"] == "This token does not have the holds:read scope."


def test_an_admin_token_cannot_read_holds(client, holds, make_user):
    with pytest.raises(InvalidInput, match="goes beyond what this account's roles"):
        make_token(make_user("admin"), "holds:read")
    # Nor a reader's token once the reader is only an admin.
    reader = make_user("compliance")
    token = make_token(reader, "holds:read")
    reader.roles = [ensure_roles()["admin"]]
    db.session.flush()
    response = get(client, "/api/v1/holds", token)
    assert response.status_code == 403


def test_an_agency_account_cannot_have_the_scope(make_user):
    from referrals.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="The scope holds:read is not for an agency account."):
        make_token(make_user("officer"), "holds:read")


def test_the_spec_describes_the_holds_api(client):
    spec = client.get("/api/v1/openapi.json").json
    assert {"/api/v1/holds", "/api/v1/holds/{reference}"} <= set(spec["paths"])
    parameters = {p["name"] for p in spec["paths"]["/api/v1/holds"]["get"]["parameters"]}
    assert {"status", "kind", "expiring_within_days"} <= parameters
