"""Issue 11: officers follow up in the portal: further documents for a request already sent
(the missing page of a warrant), and the answer to "needs information", which goes back to
staff. Checked as on intake, audited with each document's SHA-256, read by staff."""

from __future__ import annotations

import hashlib
import io

from referrals.requests import services
from referrals.requests.models import RequestMessage
from referrals.extensions import db
from sqlalchemy import select
from tests.conftest import csrf_from
from tests.requests.helpers import (after, audit_events, flashes, move, pdf_bytes,
                                    reload_request, submit, unescape)

NEEDS = "Made-up: page 2 of the warrant is missing"


def _post(browser, reference: str, action: str, **data):
    page = browser.get(f"/portal/requests/{reference}")
    response = browser.post(f"/portal/requests/{reference}/{action}",
                            data={"csrf_token": csrf_from(page.text), **data},
                            content_type="multipart/form-data")
    assert response.status_code == 302, response.text[:2000]
    return unescape(browser.get(response.headers["Location"]).text)


def test_an_officer_adds_the_missing_page_and_staff_see_it(new_client, officer_a, make_user):
    request = submit(officer_a)
    missing = pdf_bytes(1, padding=64)
    page = _post(new_client(officer_a), request.reference, "documents",
                 documents=(io.BytesIO(missing), "warrant-page-2.pdf"),
                 body="The second page of the made-up warrant.")
    assert ("success", "Added to the request: the LER team is told.") in flashes(page)
    assert "warrant-page-2.pdf" in page.split('id="documents"')[1].split("</dd>")[0]
    stored = reload_request(request.reference)
    added = stored.documents[-1]
    assert added.original_name == "warrant-page-2.pdf"
    assert added.sha256 == hashlib.sha256(missing).hexdigest() and added.pages == 1
    assert added.uploaded_by_id == officer_a.id
    [event] = audit_events("request.documents_added", request.reference)
    assert after(event)["documents"][0]["sha256"] == added.sha256
    staff_page = unescape(new_client(make_user("agent")).get(f"/requests/{request.reference}").text)
    assert "warrant-page-2.pdf" in staff_page
    assert "Added: warrant-page-2.pdf (1 page)." in staff_page  # on the timeline, from the agency


def test_a_file_that_is_not_a_pdf_is_refused_and_nothing_is_kept(new_client, officer_a):
    request = submit(officer_a)
    page = _post(new_client(officer_a), request.reference, "documents",
                 documents=(io.BytesIO(b"not a pdf at all"), "page2.pdf"))
    assert ("error", "page2.pdf is not a PDF file.") in flashes(page)
    assert len(reload_request(request.reference).documents) == 1
    assert audit_events("request.documents_added", request.reference) == []


def test_the_officer_answers_needs_information_with_a_document(new_client, officer_a,
                                                               make_user):
    request = submit(officer_a)
    agent = make_user("agent")
    move(agent, request, "verifying")
    move(agent, request, "needs_info", reason=NEEDS)
    browser = new_client(officer_a)
    page = unescape(browser.get(f"/portal/requests/{request.reference}").text)
    asked = page.split('id="needs-info"')[1].split("</section>")[0]
    assert NEEDS in asked and 'id="send-answer"' in asked
    page = _post(browser, request.reference, "answer", body="Here is page 2, made up.",
                 documents=(io.BytesIO(pdf_bytes(1)), "page-2.pdf"))
    assert ("success", "Answer sent: the LER team checks your request again.") in flashes(page)
    assert 'id="needs-info"' not in page
    stored = reload_request(request.reference)
    assert stored.status == "verifying"
    assert stored.documents[-1].original_name == "page-2.pdf"
    [event] = audit_events("request.answered", request.reference)
    assert after(event)["status"] == "verifying"
    assert after(event)["documents"] == [stored.documents[-1].id]
    [answer] = db.session.scalars(select(RequestMessage).where(
        RequestMessage.request_id == stored.id, RequestMessage.from_agency.is_(True)))
    assert answer.body.startswith("Here is page 2, made up.") and "page-2.pdf" in answer.body
    staff = unescape(new_client(agent).get(f"/requests/{request.reference}").text)
    assert "Here is page 2, made up." in staff and "page-2.pdf" in staff


def test_the_answer_runs_the_clock_again(new_client, officer_a, make_user, frozen):
    from datetime import UTC, datetime, timedelta

    frozen(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    request = submit(officer_a)
    due = request.deadline_at
    agent = make_user("agent")
    move(agent, request, "verifying")
    move(agent, request, "needs_info", reason=NEEDS)
    assert reload_request(request.reference).clock_paused_at is not None
    frozen(datetime(2026, 11, 5, 9, 0, tzinfo=UTC))  # the agency answers three days later
    browser = new_client(officer_a)
    _post(browser, request.reference, "answer", body="Here it is, made up.")
    stored = reload_request(request.reference)
    assert stored.status == "verifying" and stored.clock_paused_at is None
    assert stored.deadline_at == due + timedelta(days=3)
    [event] = audit_events("request.answered", request.reference)
    assert after(event)["stood_seconds"] == 3 * 86400


def test_an_answer_when_nothing_was_asked_is_refused(new_client, officer_a):
    request = submit(officer_a)
    page = _post(new_client(officer_a), request.reference, "answer", body="Unasked")
    assert ("error", "The LER team has not asked for more information on this request: send "
            "a message instead.") in flashes(page)
    assert reload_request(request.reference).status == "received"
    assert services.messages_for(reload_request(request.reference), include_internal=True) == []


def test_another_agencys_officer_cannot_add_to_the_request(new_client, officer_a, officer_b):
    request = submit(officer_a)
    browser = new_client(officer_b)
    page = browser.get("/portal/")
    response = browser.post(f"/portal/requests/{request.reference}/documents",
                            data={"csrf_token": csrf_from(page.text),
                                  "documents": (io.BytesIO(pdf_bytes(1)), "x.pdf")},
                            content_type="multipart/form-data")
    assert response.status_code == 404
    assert len(reload_request(request.reference).documents) == 1


def test_portal_times_are_in_the_zone_the_officer_chose(new_client, officer_a, frozen):
    from datetime import UTC, datetime

    from referrals.accounts.models import User

    frozen(datetime(2026, 11, 24, 3, 14, tzinfo=UTC))
    request = submit(officer_a)
    browser = new_client(officer_a)
    page = browser.get("/portal/")
    assert "24 Nov 2026 03:14 UTC" in unescape(page.text)
    response = browser.post("/portal/time-zone", data={
        "csrf_token": csrf_from(page.text), "time_zone": "America/Chicago"})
    page = unescape(browser.get(response.headers["Location"]).text)
    assert ("success", "Times are shown in your zone now.") in flashes(page)
    assert "23 Nov 2026 21:14 CST" in page
    detail = unescape(browser.get(f"/portal/requests/{request.reference}").text)
    assert "23 Nov 2026 21:14 CST" in detail
    assert db.session.get(User, officer_a.id).time_zone == "America/Chicago"
    [event] = audit_events("account.time_zone_changed", officer_a.id)
    assert after(event) == {"time_zone": "America/Chicago"}
    refused = browser.post("/portal/time-zone", data={
        "csrf_token": csrf_from(page), "time_zone": "Mars/Olympus"})
    assert ("error", "Not a valid choice.") in flashes(unescape(
        browser.get(refused.headers["Location"]).text))
