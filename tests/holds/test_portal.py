"""What an agency sees of its hold, on the portal and through the API; another agency sees
nothing of it (404, like a reference that does not exist)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.holds.helpers import committed, hold_of, preserve
from tests.requests.helpers import bearer, unescape


@pytest.fixture
def preserved(officer_a, frozen, us_time):
    frozen(datetime(2026, 1, 10, 18, 0, tzinfo=UTC))
    request = preserve(officer_a)
    committed()
    return request


def test_the_officer_sees_the_hold_on_the_request_page(preserved, officer_a, new_client):
    hold = hold_of(preserved)
    page = unescape(new_client(officer_a).get(f"/portal/requests/{preserved.reference}").text)
    assert 'id="preservation"' in page
    assert hold.reference in page and "Active" in page
    assert "Preserved until" in page
    assert "10 Apr 2026 10:00 PDT (America/Los_Angeles)" in page
    assert "Not renewed yet: one renewal of 90 days is available." in page
    # Nothing internal: no owner, no staff history, no snapshot.
    assert "Preservation snapshot" not in page and "Placed on receipt" not in page


def test_the_api_gives_the_hold_as_a_portal_field_set(preserved, officer_a, officer_token,
                                                      client):
    hold = hold_of(preserved)
    body = client.get(f"/api/v1/requests/{preserved.reference}",
                      headers=bearer(officer_token(officer_a))).json
    assert set(body["hold"]) == {"reference", "kind", "status", "starts_at", "expires_at",
                                 "renewals_remaining", "extensions_remaining"}
    assert body["hold"]["reference"] == hold.reference and body["hold"]["kind"] == "us_2703f"
    assert body["hold"]["renewals_remaining"] == 1
    assert datetime.fromisoformat(body["hold"]["expires_at"]) == datetime(2026, 4, 10, 17, 0,
                                                                          tzinfo=UTC)


def test_another_agency_cannot_see_the_hold(preserved, officer_b, officer_token, new_client,
                                            client):
    hold = hold_of(preserved)
    browser = new_client(officer_b)
    assert browser.get(f"/portal/requests/{preserved.reference}").status_code == 404
    secret = officer_token(officer_b)
    assert client.get(f"/api/v1/requests/{preserved.reference}",
                      headers=bearer(secret)).status_code == 404
    listing = client.get("/api/v1/requests", headers=bearer(secret))
    assert hold.reference not in listing.text and preserved.reference not in listing.text
    # Staff pages are not there for officers at all.
    assert browser.get(f"/holds/{hold.reference}").status_code == 404
    assert browser.get("/holds/").status_code == 404


def test_a_colleague_added_to_the_request_sees_it_too(preserved, officer_a, agency_a,
                                                      new_client, make_user):
    from referrals.requests.services import add_colleague
    from tests.holds.helpers import me

    colleague = make_user("officer", agency=agency_a, email="det.colleague@metro-a.police.example")
    outsider = make_user("officer", agency=agency_a, email="det.outsider@metro-a.police.example")
    add_colleague(me(officer_a), preserved, colleague.email)
    committed()
    hold = hold_of(preserved)
    assert hold.reference in new_client(colleague).get(
        f"/portal/requests/{preserved.reference}").text
    assert new_client(outsider).get(f"/portal/requests/{preserved.reference}").status_code == 404
