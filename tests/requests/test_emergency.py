"""Emergency disclosure requests (18 U.S.C. 2702(b)(8)): top of the queue, the on-call alerted
by mail and webhook (with no request content), and nothing released before a call-back to a
number from the agency registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from referrals.core.errors import DomainError, InvalidInput
from referrals.extensions import db
from referrals.requests import services
from referrals.disclosures.models import Disclosure
from tests.conftest import csrf_from
from tests.requests.helpers import (RELEASED, after, as_identity, audit_events, collected_for,
                                    decide_all, flashes,
                                    keep_signed_in, move, post_form, reload_request, submit,
                                    unescape)

DESCRIPTION = "Made-up caller threatens to harm a made-up person tonight"
PERSON = "A made-up teenager, first name Robin"
WHY = "The made-up account's recent log-in IPs locate the caller"
TARGET = "made_up_threat_account"
ONCALL = "ler-oncall@made-up-platform.example"


def emergency_form(csrf: str, **overrides) -> dict:
    today = datetime.now(UTC).date()
    data = {"csrf_token": csrf, "officer_name": "Sgt. Made Up", "badge_number": "E-1",
            "official_email": "sgt.madeup@metro-a.police.example", "phone": "+1 202 555 0111",
            "emergency_description": DESCRIPTION, "person_at_risk": PERSON, "why_data_helps": WHY,
            "data_categories": ["subscriber", "login_logout"],
            "date_from": (today - timedelta(days=7)).isoformat(), "date_to": today.isoformat(),
            "target_kind_0": "username", "target_value_0": TARGET, "good_faith_attested": "y"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def oncall(override_settings, mailbox, webhook):
    override_settings(oncall_emails=(ONCALL,), oncall_webhook_url=webhook.url)
    return mailbox, webhook


def post_emergency(browser, **overrides):
    page = browser.get("/portal/requests/emergency")
    assert page.status_code == 200
    return browser.post("/portal/requests/emergency", data=emergency_form(csrf_from(page.text),
                                                                          **overrides),
                        content_type="multipart/form-data")


def test_an_emergency_alerts_the_oncall_by_mail_and_webhook(new_client, officer_a, oncall):
    mailbox, webhook = oncall
    response = post_emergency(new_client(officer_a))
    assert response.status_code == 302, response.text
    reference = response.headers["Location"].rsplit("/", 1)[1]
    stored = reload_request(reference)
    assert stored.emergency is True and stored.request_type == "emergency"
    assert stored.documents == []  # no PDF needed in an emergency
    assert stored.deadline_at == stored.received_at + timedelta(hours=1)

    [message] = mailbox.to(ONCALL)
    assert message["Subject"] == f"EMERGENCY request {reference}"
    body = mailbox.body(message)
    assert reference in body and f"/requests/{reference}" in body
    for secret in (DESCRIPTION, PERSON, WHY, TARGET, "Robin", officer_a.email):
        assert secret not in body and secret not in message["Subject"]

    [call] = webhook.calls
    assert call["content_type"] == "application/json"
    payload = call["json"]
    assert payload["reference"] == reference and payload["event"] == "emergency_request"
    assert set(payload) == {"event", "reference", "received_at", "url"}
    for secret in (DESCRIPTION, PERSON, WHY, TARGET, "Robin", officer_a.email):
        assert secret not in call["raw"].decode()


def test_an_ordinary_request_does_not_page_the_oncall(new_client, officer_a, oncall):
    mailbox, webhook = oncall
    submit(officer_a)
    from referrals.core.transaction import commit

    commit()
    assert mailbox.messages == [] and webhook.calls == []


def test_an_emergency_epoc_pages_the_oncall_too(officer_a, irish_agency_a, oncall):
    from referrals.core.transaction import commit

    mailbox, webhook = oncall
    request = submit(officer_a, request_type="eu_epoc", addressed_to="eu", emergency=True)
    commit()
    assert [m["Subject"] for m in mailbox.messages] == [f"EMERGENCY request {request.reference}"]
    assert [c["json"]["reference"] for c in webhook.calls] == [request.reference]


def test_no_oncall_configured_sends_nothing_and_still_accepts(officer_a, mailbox, webhook,
                                                              override_settings):
    from referrals.core.transaction import commit

    override_settings(oncall_emails=(), oncall_webhook_url=None)
    request = submit(officer_a, request_type="emergency", documents=[])
    commit()
    assert request.reference and mailbox.messages == [] and webhook.calls == []


def test_the_emergency_form_refuses_plainly(new_client, officer_a, oncall):
    mailbox, webhook = oncall
    browser = new_client(officer_a)
    response = post_emergency(browser, person_at_risk="")
    assert response.status_code == 422
    risk_field = unescape(response.text).split('for="person_at_risk"')[1].split("</div>")[0]
    assert "This field is required." in risk_field
    response = post_emergency(browser, date_from="")
    assert response.status_code == 422
    assert "Give the period you need data for (from and to dates)." in unescape(response.text)
    response = post_emergency(browser, why_data_helps="Send all data on the account")
    assert response.status_code == 422
    assert "Requests for “all data” are refused." in unescape(response.text)
    assert mailbox.messages == [] and webhook.calls == []


def test_an_unapproved_officer_off_a_verified_domain_cannot_send_an_emergency(
        new_client, make_user, agency_a, oncall):
    # (One on a domain verified for the agency can: tests/requests/test_emergency_officer.py.)
    officer = make_user("officer", agency=agency_a, approved_at=None)
    browser = new_client(officer)
    page = browser.get("/portal/requests/emergency")
    assert "Waiting for approval" in page.text
    response = post_emergency(browser)
    assert ("error", "Your account is waiting for approval by the LER team. You can submit "
            "requests once it is approved.") in flashes(unescape(response.text))
    mailbox, webhook = oncall
    assert mailbox.messages == [] and webhook.calls == []


def test_emergencies_go_to_the_top_of_the_queue(officer_a, officer_b, make_user, new_client,
                                                frozen):
    browser = new_client(make_user("agent"))
    frozen(datetime(2026, 2, 1, 9, 0, tzinfo=UTC))
    old_overdue = submit(officer_a, request_type="subpoena", data_categories=["subscriber"])
    frozen(datetime(2026, 2, 20, 9, 0, tzinfo=UTC))
    normal = submit(officer_b, request_type="court_order_2703d")
    frozen(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    emergency = submit(officer_b, request_type="emergency", documents=[])
    frozen(datetime(2026, 3, 1, 9, 30, tzinfo=UTC))
    later_emergency = submit(officer_a, request_type="emergency", documents=[])
    keep_signed_in(browser, datetime(2026, 3, 1, 9, 31, tzinfo=UTC))
    page = browser.get("/requests/").text
    order = sorted((page.index(r.reference), r.reference)
                   for r in (old_overdue, normal, emergency, later_emergency))
    assert [ref for _, ref in order] == [emergency.reference, later_emergency.reference,
                                         old_overdue.reference, normal.reference]
    row = page.split(emergency.reference)[0].rsplit("<tr", 1)[1]
    assert "row-emergency" in row
    assert "row-overdue" in page.split(old_overdue.reference)[0].rsplit("<tr", 1)[1]


def test_the_queue_service_orders_emergencies_first(officer_a, make_user):
    normal = submit(officer_a)
    emergency = submit(officer_a, request_type="emergency", documents=[])
    queue = services.staff_queue(as_identity(make_user("agent")))
    assert [r.reference for r in queue][:2] == [emergency.reference, normal.reference]


# --- call-back before release ---------------------------------------------------------------


@pytest.fixture
def staff(make_user):
    return {"agent": make_user("agent"), "s1": make_user("supervisor"),
            "s2": make_user("supervisor")}


def ready_emergency(officer, staff):
    request = submit(officer, request_type="emergency", documents=[])
    move(staff["agent"], request, "verifying", "legal_review")
    decide_all(staff["agent"], request)
    services.approve_request(as_identity(staff["s1"]), request)
    move(staff["agent"], request, "collecting")
    collected_for(request)
    move(staff["agent"], request, "ready_for_review")
    return request


def test_no_release_before_the_callback(officer_a, staff, agency_a):
    request = ready_emergency(officer_a, staff)
    with pytest.raises(DomainError) as refused:
        services.record_disclosure(as_identity(staff["s2"]), request)
    assert refused.value.message == (
        "Before anything is disclosed on an emergency request, record the call-back to a "
        "number from the agency registry.")
    assert request.status == "ready_for_review"
    assert db.session.scalars(select(Disclosure)).all() == []

    [phone] = agency_a.phones
    services.record_callback(as_identity(staff["agent"]), request, phone.id,
                             "Spoke to the made-up duty sergeant; request confirmed.")
    assert request.callback_number == "+12025550101"
    assert request.callback_by_id == staff["agent"].id
    disclosure = services.record_disclosure(as_identity(staff["s2"]), request)
    assert disclosure.disclosed_by_id == staff["s2"].id
    assert disclosure.approved_by_id == staff["s1"].id
    [event] = audit_events("request.callback_recorded", request.reference)
    assert after(event) == {"number": "+12025550101",
                            "outcome": "Spoke to the made-up duty sergeant; request confirmed.",
                            "verifies_officer": False}


def test_a_made_up_phone_id_is_refused(officer_a, staff):
    request = ready_emergency(officer_a, staff)
    with pytest.raises(InvalidInput) as refused:
        services.record_callback(as_identity(staff["agent"]), request, 999999, "Called someone")
    assert refused.value.message == "Choose a number from the agency registry."
    assert request.callback_at is None


def test_a_number_from_another_agencys_registry_is_refused(officer_a, staff, agency_b):
    request = ready_emergency(officer_a, staff)
    [foreign] = agency_b.phones
    with pytest.raises(InvalidInput):
        services.record_callback(as_identity(staff["agent"]), request, foreign.id, "Called")
    assert request.callback_at is None


def test_a_callback_needs_an_outcome(officer_a, staff, agency_a):
    request = ready_emergency(officer_a, staff)
    with pytest.raises(InvalidInput, match="Say who you spoke to"):
        services.record_callback(as_identity(staff["agent"]), request, agency_a.phones[0].id, " ")


def test_the_callback_through_the_page(officer_a, staff, agency_a, new_client):
    request = ready_emergency(officer_a, staff)
    url = f"/requests/{request.reference}"
    releaser = new_client(staff["s2"])
    response = post_form(releaser, url, f"{url}/disclose")
    assert any("record the call-back" in text for _, text in
               flashes(releaser.get(response.headers["Location"]).text))
    assert reload_request(request.reference).status == "ready_for_review"

    agent = new_client(staff["agent"])
    page = agent.get(url)
    assert "+12025550101" in page.text  # the registry's number is offered
    assert "+1 202 555 0111" not in page.text.split('id="record-callback"')[0].split("Call-back")[-1]
    response = post_form(agent, url, f"{url}/callback", {"phone_id": "999999",
                                                         "outcome": "Called a made-up number"})
    assert ("error", "Not a valid choice.") in flashes(agent.get(response.headers["Location"]).text)
    assert reload_request(request.reference).callback_at is None

    phone_id = agency_a.phones[0].id
    response = post_form(agent, url, f"{url}/callback", {
        "phone_id": str(phone_id), "outcome": "Made-up duty desk confirmed the request"})
    assert ("success", "Call-back recorded.") in flashes(agent.get(response.headers["Location"]).text)

    response = post_form(releaser, url, f"{url}/disclose")
    assert ("success", RELEASED) in flashes(releaser.get(response.headers["Location"]).text)
    assert reload_request(request.reference).status == "disclosed"


def test_the_page_says_when_the_registry_has_no_number(officer_b, staff, agency_b, new_client):
    agency_b.phones = []
    db.session.flush()
    request = submit(officer_b, request_type="emergency", documents=[])
    page = new_client(staff["agent"]).get(f"/requests/{request.reference}")
    assert "The agency registry has no call-back number." in page.text


def test_an_agency_message_on_an_emergency_reaches_the_oncall(officer_a, oncall):
    from referrals.core.transaction import commit

    mailbox, _ = oncall
    request = submit(officer_a, request_type="emergency", documents=[])
    commit()
    mailbox.clear()
    services.post_message(as_identity(officer_a), request, "Made-up update: suspect moved")
    commit()
    [message] = mailbox.to(ONCALL)
    assert "Made-up update" not in mailbox.body(message)
    assert request.reference in mailbox.body(message)


def test_a_disclosed_emergency_leaves_the_top_and_stops_counting_down(officer_a, make_user,
                                                                      new_client, frozen):
    """Issue 11: an answered request waits only to be closed; it must not sit above the
    requests still waiting, nor show as overdue, nor stay among the home's emergencies."""
    agent = make_user("agent")
    frozen(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    answered = submit(officer_a, request_type="emergency", documents=[])
    waiting = submit(officer_a)
    answered.status = "disclosed"  # as release leaves it (tests/requests/test_disclosure_record.py)
    db.session.flush()
    assert answered.is_open and not answered.clock_running and waiting.clock_running
    queue = services.staff_queue(as_identity(agent))
    assert [r.reference for r in queue][:2] == [waiting.reference, answered.reference]

    frozen(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))  # past the emergency's one hour
    browser = new_client(agent)
    keep_signed_in(browser, datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    page = browser.get("/requests/").text
    before, _, rest = page.partition(answered.reference)
    row = before.rsplit("<tr", 1)[1] + rest.split("</tr>")[0]
    assert "Answered: was due" in row and "Overdue" not in row
    assert "row-overdue" not in row
    work = browser.get("/dashboard/work.json").json
    assert f"request:{answered.reference}" not in [item["key"] for item in work["emergencies"]]
