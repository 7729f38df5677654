"""A 2703(f) hold is renewed once, by 90 days from its expiry; a second renewal is refused
with a plain explanation, before anything is stored: through the service, the portal form
and the API alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from referrals.core.errors import InvalidInput, PermissionDenied
from referrals.holds.services import HoldRefused, release_hold, renew_hold
from tests.holds.helpers import (by_reference, hold_of, me, preserve, renew, request_count)
from tests.requests.helpers import (api_body, bearer, field_errors, flashes, portal_form,
                                    post_form, reload_request, unescape)

RECEIVED = datetime(2026, 1, 10, 18, 0, tzinfo=UTC)  # 10:00 PST
FIRST_EXPIRY = datetime(2026, 4, 10, 17, 0, tzinfo=UTC)  # 10:00 PDT
SECOND_EXPIRY = datetime(2026, 7, 9, 17, 0, tzinfo=UTC)  # 90 days on, 10:00 PDT


@pytest.fixture
def preserved(officer_a, frozen, us_time):
    frozen(RECEIVED)
    request = preserve(officer_a)
    frozen(datetime(2026, 4, 1, 16, 0, tzinfo=UTC))  # nine days before expiry
    return request


def test_a_renewal_request_renews_once_and_a_second_is_refused_plainly(preserved, officer_a):
    renewal = renew(officer_a, preserved.reference.lower())  # case does not matter
    assert renewal.related_reference == preserved.reference
    hold = hold_of(preserved)
    assert (hold.renewals, hold.status, hold.expires_at) == (1, "extended", SECOND_EXPIRY)
    assert hold.events[-1].kind == "renewed" and renewal.reference in hold.events[-1].body
    assert "9 Jul 2026 10:00 PDT (America/Los_Angeles)" in hold.events[-1].body

    before = request_count()
    with pytest.raises(HoldRefused) as refused:
        renew(officer_a, preserved.reference)
    assert refused.value.field == "related_reference" and refused.value.status == 409
    assert refused.value.message == (
        f"{hold.reference} was already renewed once, on 1 April 2026. 18 U.S.C. 2703(f) allows "
        "one 90-day renewal; to keep the data past 9 Jul 2026 10:00 PDT "
        "(America/Los_Angeles), serve legal process (a subpoena, 2703(d) order or search "
        "warrant) before then.")
    assert request_count() == before
    assert by_reference(hold.reference).expires_at == SECOND_EXPIRY


def test_staff_record_a_renewal_that_came_another_way_and_the_second_is_refused(
        preserved, agent, compliance):
    hold = hold_of(preserved)
    with pytest.raises(InvalidInput, match="how the renewal arrived"):
        renew_hold(me(agent), hold)
    with pytest.raises(PermissionDenied):
        renew_hold(me(compliance), hold, note="Made-up letter")
    renew_hold(me(agent), hold, note="Made-up letter received by e-mail on 1 April")
    assert hold.expires_at == SECOND_EXPIRY and hold.renewals == 1
    with pytest.raises(HoldRefused, match="already renewed once, on 1 April 2026"):
        renew_hold(me(agent), hold, note="Another made-up letter")


def test_an_ended_or_run_out_hold_cannot_be_renewed(preserved, officer_a, supervisor, frozen):
    hold = hold_of(preserved)
    frozen(datetime(2026, 4, 10, 17, 0, tzinfo=UTC))  # the moment it expires
    with pytest.raises(HoldRefused, match="expired on 10 Apr 2026 10:00 PDT"):
        renew(officer_a, preserved.reference)
    frozen(datetime(2026, 4, 2, 16, 0, tzinfo=UTC))
    release_hold(me(supervisor), hold, "Made-up: the agency withdrew its interest.")
    with pytest.raises(HoldRefused, match="was released on 2 April 2026"):
        renew(officer_a, preserved.reference)


def test_a_renewal_must_name_one_of_the_officers_preservation_requests(
        preserved, officer_a, officer_b):
    before = request_count()
    with pytest.raises(InvalidInput) as missing:
        renew(officer_a, "")
    assert missing.value.field == "related_reference"
    for reference in ("REQ-2026-999999", preserved.reference):
        who = officer_a if reference.endswith("999999") else officer_b  # B names A's request
        with pytest.raises(InvalidInput) as unknown:
            renew(who, reference)
        assert unknown.value.field == "related_reference"
        assert unknown.value.message.startswith(f"{reference} is not one of your "
                                                "preservation requests")
    court_order = preserve(officer_a, request_type="court_order_2703d")
    with pytest.raises(InvalidInput, match="not one of your preservation requests"):
        renew(officer_a, court_order.reference)
    assert request_count() == before + 1  # only the court order
    assert hold_of(preserved).renewals == 0


def test_the_hold_reference_names_the_preservation_too(preserved, officer_a):
    hold = hold_of(preserved)
    renewal = renew(officer_a, hold.reference)
    assert renewal.related_reference == preserved.reference
    assert hold_of(preserved).renewals == 1


def test_an_epoc_pr_is_not_renewed_but_extended(officer_a, irish_agency_a, frozen):
    frozen(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    order = preserve(officer_a, request_type="eu_epoc_pr", addressed_to="eu")
    with pytest.raises(HoldRefused, match="extended once by 30 days on an Annex VI request"):
        renew(officer_a, order.reference)


def test_a_renewal_naming_other_accounts_is_warned_about(preserved, officer_a):
    renewal = renew(officer_a, preserved.reference,
                    targets=[{"kind": "username", "value": "@someone_else_made_up"}])
    assert any("does not hold (someone_else_made_up)" in w for w in renewal.warnings)


# --- through the portal form ------------------------------------------------------------------


def _renewal_form(csrf, related):
    """The new-request form for a renewal; without ``csrf`` for ``post_form``, which adds it."""
    data = portal_form(csrf, request_type="preservation_renewal", related_reference=related,
                       legal_basis="Made-up renewal under 18 U.S.C. 2703(f)(2)")
    return data if csrf else {k: v for k, v in data.items() if k != "csrf_token"}


def test_the_portal_renews_once_then_shows_the_refusal_on_the_form(preserved, officer_a,
                                                                   new_client):
    browser = new_client(officer_a)
    page = browser.get("/portal/requests/new")
    assert 'name="related_reference"' in page.text
    assert "Required for a preservation renewal" in page.text
    from tests.conftest import csrf_from

    response = browser.post("/portal/requests/new",
                            data=_renewal_form(csrf_from(page.text), preserved.reference))
    assert response.status_code == 302, response.text[:3000]
    assert hold_of(preserved).expires_at == SECOND_EXPIRY

    before = request_count()
    page = browser.get("/portal/requests/new")
    response = browser.post("/portal/requests/new",
                            data=_renewal_form(csrf_from(page.text), preserved.reference))
    assert response.status_code == 200
    [(kind, message)] = flashes(unescape(response.text))
    assert kind == "error" and "was already renewed once, on 1 April 2026" in message
    assert "serve legal process" in message
    assert request_count() == before
    # What the officer typed is still in the form.
    assert preserved.reference in response.text


def test_the_portal_says_under_the_field_when_the_reference_is_wrong(preserved, officer_a,
                                                                     new_client):
    browser = new_client(officer_a)
    before = request_count()
    response = post_form(browser, "/portal/requests/new",
                         data=_renewal_form(None, "REQ-2020-000001"))
    assert response.status_code == 422
    assert any("REQ-2020-000001 is not one of your preservation requests" in e
               for e in field_errors(unescape(response.text)))
    response = post_form(browser, "/portal/requests/new",
                         data=_renewal_form(None, ""))
    assert "Give the reference of the preservation request this renews (REQ-…)." in \
        field_errors(unescape(response.text))
    assert request_count() == before


# --- through the API --------------------------------------------------------------------------


def test_the_api_renews_once_then_answers_409_with_the_reason(preserved, officer_a,
                                                              officer_token, client):
    secret = officer_token(officer_a)
    body = api_body(request_type="preservation_renewal", related_reference=preserved.reference,
                    data_categories=["subscriber"])
    response = client.post("/api/v1/requests", json=body, headers=bearer(secret))
    assert response.status_code == 201, response.text
    assert response.json["related_reference"] == preserved.reference
    renewal = response.json["reference"]

    detail = client.get(f"/api/v1/requests/{preserved.reference}", headers=bearer(secret)).json
    assert detail["hold"]["status"] == "extended"
    assert detail["hold"]["renewals_remaining"] == 0
    assert datetime.fromisoformat(detail["hold"]["expires_at"]) == SECOND_EXPIRY
    # The renewal request shows the hold it renewed.
    renewed = client.get(f"/api/v1/requests/{renewal}", headers=bearer(secret)).json["hold"]
    assert renewed["reference"] == detail["hold"]["reference"]

    before = request_count()
    response = client.post("/api/v1/requests", json=body, headers=bearer(secret))
    assert response.status_code == 409
    assert "already renewed once, on 1 April 2026" in response.json["message"]
    assert response.json["errors"] == {"related_reference": [response.json["message"]]}
    assert request_count() == before

    response = client.post("/api/v1/requests", headers=bearer(secret), json=api_body(
        request_type="preservation_renewal", related_reference="REQ-2020-000001"))
    assert response.status_code == 422
    assert "related_reference" in response.json["errors"]
    assert reload_request(renewal).request_type == "preservation_renewal"
