"""Pen-test finding (issue 10, 1): an officer could act on a colleague's preservation in the same
agency. The renewal and follow-up checks compared only the agency, while the portal shows an
officer only the requests they submitted or were added to. A colleague who could not see the
request renewed its hold (spending its only renewal), then downloaded its letter; and a
follow-up naming a colleague's reference was accepted where an unknown one was refused.

Now every reference an officer names goes through the officer scope (``requests.scope``) and a
reference outside it is answered exactly like one that does not exist: same status, same
message (but for the reference echoed back), same database statements.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from referrals.core.errors import PermissionDenied
from referrals.holds.services import renew_hold
from referrals.requests.services import add_colleague
from tests import factories
from tests.holds.helpers import hold_of, me, preserve, request_count
from tests.holds.officer_scope import MISSING_HOLD, MISSING_REQUEST, same_answer
from tests.requests.helpers import (api_body, bearer, field_errors, portal_form, post_form,
                                    unescape)
from tests.statements import recorded_statements

RECEIVED = datetime(2026, 1, 10, 18, 0, tzinfo=UTC)
FIRST_EXPIRY = datetime(2026, 4, 10, 17, 0, tzinfo=UTC)


@pytest.fixture
def preserved(officer_a, frozen, us_time):
    frozen(RECEIVED)
    request = preserve(officer_a)
    frozen(datetime(2026, 4, 1, 16, 0, tzinfo=UTC))  # nine days before expiry
    return request


@pytest.fixture
def colleague(agency_a):
    """An officer of the same agency, not added to the request."""
    return factories.make_user("officer", agency=agency_a,
                               email="det.charlie@metro-a.police.example",
                               full_name="Det. Charlie Made-up")


def renewal_body(related: str) -> dict:
    return api_body(request_type="preservation_renewal", related_reference=related,
                    legal_basis="Made-up renewal under 18 U.S.C. 2703(f)(2)",
                    data_categories=["subscriber"])


def follow_up_body(related: str) -> dict:
    return api_body(related_reference=related)


def api_post(client, secret, body):
    with recorded_statements(control=True) as statements:
        response = client.post("/api/v1/requests", json=body, headers=bearer(secret))
    return response, len(statements)


def assert_api_same_as_missing(client, secret, body_for, reference, missing):
    # The token's last use is written at most once a minute: have it written first, so
    # that it is in neither measured request.
    api_post(client, secret, body_for(missing))
    theirs, their_statements = api_post(client, secret, body_for(reference))
    unknown, unknown_statements = api_post(client, secret, body_for(missing))
    assert theirs.status_code == unknown.status_code == 422, theirs.text
    assert same_answer(theirs.text, reference, unknown.text, missing)
    assert their_statements == unknown_statements
    return theirs.json


# --- renewal ---------------------------------------------------------------------------------


def test_a_colleague_cannot_renew_a_hold_through_the_api_and_the_renewal_is_not_spent(
        preserved, colleague, client, officer_token):
    hold = hold_of(preserved)
    secret = officer_token(colleague)
    before = request_count()
    for reference, missing in ((hold.reference, MISSING_HOLD),
                               (preserved.reference, MISSING_REQUEST)):
        answer = assert_api_same_as_missing(client, secret, renewal_body, reference, missing)
        assert answer["errors"] == {"related_reference": [
            f"{reference} is not one of your preservation requests (those you submitted or "
            "were added to). Give the reference of the preservation request you renew "
            "(REQ-…), as shown on the portal."]}
    assert request_count() == before
    hold = hold_of(preserved)
    assert (hold.renewals, hold.status, hold.expires_at) == (0, "active", FIRST_EXPIRY)


def test_a_colleague_cannot_renew_a_hold_through_the_portal_form(preserved, colleague,
                                                                 new_client):
    hold = hold_of(preserved)
    browser = new_client(colleague)
    before = request_count()

    def renewal_form(related):
        data = portal_form("", request_type="preservation_renewal", related_reference=related,
                           legal_basis="Made-up renewal under 18 U.S.C. 2703(f)(2)")
        del data["csrf_token"]
        return post_form(browser, "/portal/requests/new", data=data)

    for reference, missing in ((hold.reference, MISSING_HOLD),
                               (preserved.reference, MISSING_REQUEST)):
        theirs, unknown = renewal_form(reference), renewal_form(missing)
        assert theirs.status_code == unknown.status_code == 422
        errors = field_errors(unescape(theirs.text))
        assert errors == [f"{reference} is not one of your preservation requests (those you "
                          "submitted or were added to). Give the reference of the "
                          "preservation request you renew (REQ-…), as shown on the portal."]
        assert [e.replace(reference, "REF") for e in errors] == \
            [e.replace(missing, "REF") for e in field_errors(unescape(unknown.text))]
    assert request_count() == before
    assert hold_of(preserved).renewals == 0


def test_the_letter_of_a_colleagues_hold_is_404_even_after_trying_to_renew_it(
        preserved, colleague, client, officer_token, new_client):
    hold = hold_of(preserved)
    client.post("/api/v1/requests", json=renewal_body(hold.reference),
                headers=bearer(officer_token(colleague)))
    browser = new_client(colleague)
    browser.get("/portal/")  # takes the sign-in's flash message
    theirs = browser.get(f"/portal/holds/{hold.reference}/letter.pdf")
    unknown = browser.get(f"/portal/holds/{MISSING_HOLD}/letter.pdf")
    assert theirs.status_code == unknown.status_code == 404
    assert same_answer(theirs.text, hold.reference, unknown.text, MISSING_HOLD)
    assert "Det. Made Up" not in theirs.text and "made_up_target_one" not in theirs.text.lower()


def test_the_renewal_service_refuses_a_colleague_even_when_handed_the_hold(preserved,
                                                                           colleague):
    hold = hold_of(preserved)
    with pytest.raises(PermissionDenied):
        renew_hold(me(colleague), hold, renewal_request=preserved)
    assert hold_of(preserved).renewals == 0


# --- follow-up ---------------------------------------------------------------------------------


def test_a_follow_up_naming_a_colleagues_reference_answers_like_an_unknown_one(
        preserved, colleague, client, officer_token, new_client):
    hold = hold_of(preserved)
    secret = officer_token(colleague)
    before = request_count()
    for reference, missing in ((preserved.reference, MISSING_REQUEST),
                               (hold.reference, MISSING_HOLD)):
        answer = assert_api_same_as_missing(client, secret, follow_up_body, reference, missing)
        assert answer["errors"] == {"related_reference": [
            f"{reference} is not one of your requests (those you submitted or were added to)."]}
    browser = new_client(colleague)

    def follow_up_form(related):
        data = portal_form("", related_reference=related)
        del data["csrf_token"]
        return post_form(browser, "/portal/requests/new", data=data)

    theirs, unknown = follow_up_form(preserved.reference), follow_up_form(MISSING_REQUEST)
    assert theirs.status_code == unknown.status_code == 422
    assert field_errors(unescape(theirs.text)) == [
        f"{preserved.reference} is not one of your requests (those you submitted or were "
        "added to)."]
    assert same_answer(theirs.text, preserved.reference, unknown.text, MISSING_REQUEST)
    assert request_count() == before


# --- a colleague who was added acts ---------------------------------------------------------


def test_a_colleague_added_to_the_request_renews_follows_up_and_gets_the_letter(
        preserved, officer_a, colleague, client, officer_token, new_client):
    hold = hold_of(preserved)
    add_colleague(me(officer_a), preserved, colleague.email)
    secret = officer_token(colleague)
    follow_up = client.post("/api/v1/requests", json=follow_up_body(hold.reference),
                            headers=bearer(secret))
    assert follow_up.status_code == 201, follow_up.text
    assert follow_up.json["related_reference"] == preserved.reference
    renewal = client.post("/api/v1/requests", json=renewal_body(hold.reference),
                          headers=bearer(secret))
    assert renewal.status_code == 201, renewal.text
    assert hold_of(preserved).renewals == 1
    letter = new_client(colleague).get(f"/portal/holds/{hold.reference}/letter.pdf")
    assert letter.status_code == 200 and letter.data.startswith(b"%PDF")


def test_a_shared_colleague_renews_through_the_portal_form(preserved, officer_a, colleague,
                                                          new_client):
    add_colleague(me(officer_a), preserved, colleague.email)
    browser = new_client(colleague)
    data = portal_form("", request_type="preservation_renewal",
                       related_reference=preserved.reference,
                       legal_basis="Made-up renewal under 18 U.S.C. 2703(f)(2)")
    del data["csrf_token"]
    response = post_form(browser, "/portal/requests/new", data=data)
    assert response.status_code == 302, field_errors(unescape(response.text))
    assert hold_of(preserved).renewals == 1
