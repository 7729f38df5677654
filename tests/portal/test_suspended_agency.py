"""A suspended agency's officers stop at once: sign-in, pages, letters, messages, tokens
(issue 10, finding 6). Each answer says why, plainly."""

from __future__ import annotations

from sqlalchemy import func, select

from referrals.core.guards import AGENCY_SUSPENDED_MESSAGE
from referrals.extensions import db
from referrals.requests.models import RequestMessage
from tests.cases.helpers import bearer
from tests.conftest import SignIn, csrf_from
from tests.holds.helpers import hold_of, preserve

SUSPENDED = "Your agency&#39;s access to the portal and the API is suspended"


def _suspend(agency):
    agency.status = "suspended"
    db.session.flush()


def _messages() -> int:
    return db.session.scalar(select(func.count(RequestMessage.id)))


def test_an_officer_of_a_suspended_agency_cannot_sign_in(client, officer_a, agency_a):
    _suspend(agency_a)
    response = SignIn(client).password_step(officer_a.email)
    assert response.status_code == 200
    assert SUSPENDED in response.text
    assert client.get("/tf-validate").status_code == 302  # the code step is not reached
    assert client.get("/portal/").status_code == 302


def test_a_session_from_before_the_suspension_reads_and_writes_nothing(
        officer_a, agency_a, new_client):
    browser = new_client(officer_a)
    request = preserve(officer_a)
    hold = hold_of(request)
    detail = browser.get(f"/portal/requests/{request.reference}")
    assert detail.status_code == 200
    csrf = csrf_from(detail.text)
    _suspend(agency_a)

    for path in ("/portal/", f"/portal/requests/{request.reference}",
                 f"/portal/holds/{hold.reference}/letter.pdf", "/portal/tokens",
                 "/portal/requests/new"):
        response = browser.get(path)
        assert response.status_code == 403, path
        assert SUSPENDED in response.text, path
        assert "Traceback" not in response.text
    before = _messages()
    response = browser.post(f"/portal/requests/{request.reference}/messages",
                            data={"csrf_token": csrf, "body": "Made-up follow-up"})
    assert response.status_code == 403 and SUSPENDED in response.text
    assert _messages() == before


def test_a_suspended_agencys_tokens_are_refused_with_the_reason(client, officer_a, agency_a,
                                                                officer_token):
    secret = officer_token(officer_a)
    request = preserve(officer_a)
    assert client.get("/api/v1/requests", headers=bearer(secret)).status_code == 200
    _suspend(agency_a)
    for path in ("/api/v1/requests", f"/api/v1/requests/{request.reference}"):
        response = client.get(path, headers=bearer(secret))
        assert response.status_code == 403, path
        assert response.json["message"] == AGENCY_SUSPENDED_MESSAGE
        assert request.reference not in response.text


def test_verifying_the_agency_again_lets_its_officers_back(client, officer_a, agency_a,
                                                           officer_token):
    secret = officer_token(officer_a)
    _suspend(agency_a)
    assert client.get("/api/v1/requests", headers=bearer(secret)).status_code == 403
    agency_a.status = "verified"
    db.session.flush()
    assert client.get("/api/v1/requests", headers=bearer(secret)).status_code == 200


def test_the_portal_token_list_shows_expiry_and_last_use(client, officer_a, new_client,
                                                         officer_token):
    secret = officer_token(officer_a)
    browser = new_client(officer_a)
    page = browser.get("/portal/tokens").text
    assert "<th>Expires</th>" in page and "<th>Last used</th>" in page and "Never" in page
    client.get("/api/v1/requests", headers=bearer(secret))
    assert "Never" not in browser.get("/portal/tokens").text
