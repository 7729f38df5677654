"""Issue 11: the officer's good-faith statement on an emergency (18 U.S.C. 2702(b)(8)), an
officer not yet approved who may still send an emergency (flagged; the call-back verifies
them), and the emergency line on every portal page."""

from __future__ import annotations

import pytest

from referrals.accounts.models import User
from referrals.extensions import db
from referrals.requests import services
from referrals.requests.rules import GOOD_FAITH, GOOD_FAITH_MISSING
from tests.requests.helpers import (after, as_identity, audit_events, flashes, move,
                                    reload_request, unescape)
from tests.requests.test_emergency import ONCALL, emergency_form, post_emergency
from tests.conftest import csrf_from

LINE = "+1 202 555 0199"


@pytest.fixture
def oncall(override_settings, mailbox):
    override_settings(oncall_emails=(ONCALL,), emergency_line=LINE)
    return mailbox


@pytest.fixture
def unverified_officer(make_user, agency_a):
    """Confirmed, on a domain verified for agency A, not yet approved by the LER team."""
    return make_user("officer", agency=agency_a, approved_at=None,
                     email="ptl.newcomer@metro-a.police.example", full_name="Ptl. Made-up Newcomer")


def reference_of(response) -> str:
    assert response.status_code == 302, response.text[:3000]
    return response.headers["Location"].rsplit("/", 1)[1]


def test_an_emergency_without_the_good_faith_statement_is_refused_plainly(new_client, officer_a,
                                                                          oncall):
    browser = new_client(officer_a)
    page = browser.get("/portal/requests/emergency")
    assert GOOD_FAITH.text in unescape(page.text)  # the statement's words are on the form
    response = post_emergency(browser, good_faith_attested=None)
    assert response.status_code == 422
    box = unescape(response.text).split('id="good-faith"')[1].split("</div>\n    </div>")[0]
    assert GOOD_FAITH_MISSING in box
    summary = unescape(response.text).split('id="error-summary"')[1].split("</div>")[0]
    assert f'<a href="#good_faith_attested">Good-faith statement</a>: {GOOD_FAITH_MISSING}' in summary
    assert oncall.messages == []


def test_the_statement_is_recorded_with_the_request_and_shown_to_staff_and_officer(
        new_client, officer_a, make_user, oncall):
    officer = new_client(officer_a)
    reference = reference_of(post_emergency(officer))
    stored = reload_request(reference)
    assert stored.attestation_version == GOOD_FAITH.version
    assert stored.attestation_text == GOOD_FAITH.text
    assert stored.attested_by_id == officer_a.id and stored.attested_at == stored.received_at
    [event] = audit_events("request.submitted", reference)
    assert after(event)["attestation_version"] == GOOD_FAITH.version
    staff_page = unescape(new_client(make_user("agent")).get(f"/requests/{reference}").text)
    attested = staff_page.split('id="attestation"')[1].split("</dd>")[0]
    assert GOOD_FAITH.text in attested and officer_a.email in attested
    assert GOOD_FAITH.version in attested
    portal_page = unescape(officer.get(f"/portal/requests/{reference}").text)
    assert GOOD_FAITH.text in portal_page.split('id="attestation"')[1].split("</dd>")[0]
    assert "Made-up caller threatens" in portal_page.split('id="emergency-narrative"')[1]


def test_an_officer_not_yet_approved_can_send_an_emergency_flagged(new_client, make_user,
                                                                   unverified_officer, oncall):
    browser = new_client(unverified_officer)
    page = unescape(browser.get("/portal/requests/emergency").text)
    assert "officer not yet verified" in page and LINE in page
    reference = reference_of(post_emergency(browser))
    stored = reload_request(reference)
    assert stored.officer_unverified is True
    [message] = oncall.to(ONCALL)
    assert "not yet verified" in oncall.body(message)
    # Prominent for staff: the request page, the queue and the home's emergencies.
    agent = new_client(make_user("agent"))
    detail = unescape(agent.get(f"/requests/{reference}").text)
    assert 'id="officer-unverified"' in detail and "Officer not yet verified" in detail
    assert "officer not yet verified" in unescape(agent.get("/requests/").text)
    work = agent.get("/dashboard/work.json").json
    [item] = [e for e in work["emergencies"] if e["reference"] == reference]
    assert item["label"] == "Emergency · officer not yet verified"


def test_nothing_but_an_emergency_is_open_to_an_officer_not_yet_approved(
        new_client, unverified_officer, oncall):
    from tests.requests.helpers import portal_form

    browser = new_client(unverified_officer)
    reference = reference_of(post_emergency(browser))
    page = browser.get("/portal/requests/new")
    refused = browser.post("/portal/requests/new", data=portal_form(csrf_from(page.text)),
                           content_type="multipart/form-data")
    assert "waiting for approval" in unescape(refused.text)
    detail = browser.get(f"/portal/requests/{reference}")
    message = browser.post(f"/portal/requests/{reference}/messages",
                           data={"csrf_token": csrf_from(detail.text), "body": "Made-up note"},
                           follow_redirects=True)
    assert ("error", "Your account is waiting for approval by the LER team. You can submit "
            "requests once it is approved.") in flashes(unescape(message.text))
    assert services.messages_for(reload_request(reference), include_internal=True) == []


def test_an_officer_off_the_agencys_verified_domain_cannot_send_one(new_client, make_user,
                                                                   agency_a, oncall):
    officer = make_user("officer", agency=agency_a, approved_at=None,
                        email="someone@elsewhere.example")
    response = post_emergency(new_client(officer))
    assert response.status_code == 200 and reload_request("REQ-none") is None
    assert "waiting for approval" in unescape(response.text)
    assert oncall.messages == []


def test_the_callback_verifies_the_officer(new_client, make_user, unverified_officer, oncall):
    reference = reference_of(post_emergency(new_client(unverified_officer)))
    request = reload_request(reference)
    agent = make_user("agent")
    move(agent, request, "verifying")
    services.record_callback(as_identity(agent), request, request.agency.phones[0].id,
                             "Made-up desk sergeant confirmed Ptl. Newcomer and the emergency")
    officer = db.session.get(User, unverified_officer.id)
    assert officer.approved_at is not None and officer.approved_by_id == agent.id
    [approved] = audit_events("account.approved", unverified_officer.id)
    assert after(approved) == {"via": "emergency call-back", "request": reference,
                               "number": request.agency.phones[0].number}
    assert approved.actor_id == agent.id
    [callback] = audit_events("request.callback_recorded", reference)
    assert after(callback)["verifies_officer"] is True


def test_the_emergency_line_is_on_every_portal_page_and_sign_in(client, new_client, officer_a,
                                                                oncall):
    for url in ("/login", "/portal/register"):
        assert LINE in unescape(client.get(url).text), url
    browser = new_client(officer_a)
    for url in ("/portal/", "/portal/requests/new", "/portal/requests/emergency",
                "/portal/tokens"):
        page = unescape(browser.get(url).text)
        assert 'id="emergency-line"' in page and LINE in page, url


def test_a_malformed_emergency_line_stops_the_start():
    from config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="REFERRALS_EMERGENCY_LINE"):
        load_settings({"REFERRALS_ENV": "test", "REFERRALS_EMERGENCY_LINE": "call Bob"})
    assert load_settings({"REFERRALS_ENV": "test",
                          "REFERRALS_EMERGENCY_LINE": " +1  202 555 0199 "}).emergency_line == LINE
