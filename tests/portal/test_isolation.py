"""Isolation, the portal's core security property: an officer reaches only the requests they
submitted or were added to, in their own agency. Anything else answers exactly like a
reference that does not exist — same status, same body — through every portal and API route."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from referrals.extensions import db
from referrals.requests import services
from referrals.requests.models import RequestCollaborator, RequestMessage
from tests import factories
from tests.conftest import csrf_from
from tests.requests.helpers import (as_identity, bearer, flashes, normalized, post_form,
                                    reload_request, submit, unescape)

MISSING = "REQ-2026-999999"
NO_COLLEAGUE = "No colleague of your agency has this address on the portal."
SECRET_BASIS = "Made-up sealed order 26-SW-7781 under 18 U.S.C. 2703(d)"
SECRET_TARGET = "made_up_secret_target_77"


@pytest.fixture
def request_a(officer_a):
    return submit(officer_a, legal_basis=SECRET_BASIS,
                  targets=[{"kind": "username", "value": SECRET_TARGET}])


def portal_routes(reference: str) -> list[tuple[str, str, dict]]:
    base = f"/portal/requests/{reference}"
    return [
        ("GET", base, {}),
        ("POST", f"{base}/messages", {"body": "Made-up probing message"}),
        ("POST", f"{base}/colleagues", {"email": "dep.bravo@county-b.sheriff.example"}),
        ("POST", f"{base}/withdraw", {"reason": "Made-up probing withdrawal"}),
    ]


def api_routes(reference: str) -> list[tuple[str, str, dict | None]]:
    base = f"/api/v1/requests/{reference}"
    return [
        ("GET", base, None),
        ("POST", f"{base}/messages", {"body": "Made-up probing message"}),
        ("POST", f"{base}/withdraw", None),
    ]


def portal_call(browser, csrf, method, path, data):
    if method == "GET":
        return browser.get(path)
    return browser.post(path, data={"csrf_token": csrf, **data})


def api_call(client, secret, method, path, body):
    if method == "GET":
        return client.get(path, headers=bearer(secret))
    return client.post(path, json=body, headers=bearer(secret))


def assert_untouched(request):
    stored = reload_request(request.reference)
    assert stored.status == "received" and stored.is_open
    assert stored.collaborators == []
    assert db.session.scalars(select(RequestMessage)
                              .where(RequestMessage.request_id == stored.id)).all() == []


def assert_same_as_missing(foreign, missing):
    assert foreign.status_code == missing.status_code == 404, (foreign.status_code,
                                                                missing.status_code)
    assert normalized(foreign.text) == normalized(missing.text)
    assert foreign.headers.get("Content-Type") == missing.headers.get("Content-Type")


# --- another agency -------------------------------------------------------------------------


def test_another_agency_cannot_detect_a_request_on_the_portal(request_a, officer_b, new_client,
                                                              mailbox):
    browser = new_client(officer_b)
    csrf = csrf_from(browser.get("/portal/").text)
    for (method, path, data), (_, missing_path, _) in zip(
            portal_routes(request_a.reference), portal_routes(MISSING), strict=True):
        foreign = portal_call(browser, csrf, method, path, data)
        missing = portal_call(browser, csrf, method, missing_path, data)
        assert_same_as_missing(foreign, missing)
        assert request_a.reference not in foreign.text
        assert SECRET_TARGET not in foreign.text and SECRET_BASIS not in foreign.text
    # Lower case is the same reference to the lookup: still nothing.
    assert_same_as_missing(browser.get(f"/portal/requests/{request_a.reference.lower()}"),
                           browser.get(f"/portal/requests/{MISSING.lower()}"))
    assert request_a.reference not in browser.get("/portal/").text
    assert_untouched(request_a)
    assert mailbox.messages == []


def test_another_agency_cannot_detect_a_request_through_the_api(request_a, officer_b, client,
                                                                officer_token, mailbox):
    secret = officer_token(officer_b)
    for (method, path, body), (_, missing_path, _) in zip(
            api_routes(request_a.reference), api_routes(MISSING), strict=True):
        foreign = api_call(client, secret, method, path, body)
        missing = api_call(client, secret, method, missing_path, body)
        assert_same_as_missing(foreign, missing)
        assert foreign.json == missing.json == {"code": 404, "status": "Not found",
                                                "message": "There is no such request."}
    listing = client.get("/api/v1/requests", headers=bearer(secret))
    assert listing.status_code == 200 and listing.json == []
    assert_untouched(request_a)
    assert mailbox.messages == []


def test_the_services_refuse_a_foreign_request_even_when_handed_the_object(request_a,
                                                                           officer_b):
    from referrals.core.errors import NotFound

    identity = as_identity(officer_b)
    with pytest.raises(NotFound):
        services.post_message(identity, request_a, "Made-up")
    with pytest.raises(NotFound):
        services.add_colleague(identity, request_a, officer_b.email)
    with pytest.raises(NotFound):
        services.withdraw_request(identity, request_a)
    assert_untouched(request_a)


def test_a_foreign_officer_gets_404_from_staff_pages_too(request_a, officer_b, new_client):
    browser = new_client(officer_b)
    assert browser.get(f"/requests/{request_a.reference}").status_code == 404
    [doc] = request_a.documents
    assert browser.get(f"/requests/{request_a.reference}/documents/{doc.id}").status_code == 404
    assert browser.get("/agencies/").status_code == 404


def test_staff_get_404_on_the_portal(request_a, make_user, new_client):
    browser = new_client(make_user("supervisor"))
    assert browser.get(f"/portal/requests/{request_a.reference}").status_code == 404
    assert browser.get("/portal/").status_code == 404


# --- the same agency ------------------------------------------------------------------------


def test_a_colleague_who_was_not_added_cannot_detect_it(request_a, agency_a, new_client, client,
                                                        officer_token):
    colleague = factories.make_user("officer", agency=agency_a,
                                    email="det.charlie@metro-a.police.example")
    browser = new_client(colleague)
    csrf = csrf_from(browser.get("/portal/").text)
    for (method, path, data), (_, missing_path, _) in zip(
            portal_routes(request_a.reference), portal_routes(MISSING), strict=True):
        assert_same_as_missing(portal_call(browser, csrf, method, path, data),
                               portal_call(browser, csrf, method, missing_path, data))
    secret = officer_token(colleague)
    for (method, path, body), (_, missing_path, _) in zip(
            api_routes(request_a.reference), api_routes(MISSING), strict=True):
        assert_same_as_missing(api_call(client, secret, method, path, body),
                               api_call(client, secret, method, missing_path, body))
    assert request_a.reference not in browser.get("/portal/").text
    assert_untouched(request_a)


def test_an_added_colleague_sees_and_follows_the_request(request_a, officer_a, agency_a,
                                                         new_client, client, officer_token,
                                                         mailbox):
    colleague = factories.make_user("officer", agency=agency_a,
                                    email="det.charlie@metro-a.police.example",
                                    full_name="Det. Charlie Made-up")
    submitter = new_client(officer_a)
    url = f"/portal/requests/{request_a.reference}"
    response = post_form(submitter, url, f"{url}/colleagues",
                         {"email": "Det.Charlie@metro-a.police.example"})
    assert ("success", "Colleague added.") in flashes(submitter.get(response.headers["Location"]).text)
    assert "Det. Charlie Made-up" in submitter.get(url).text

    browser = new_client(colleague)
    page = browser.get(url)
    assert page.status_code == 200 and SECRET_TARGET in page.text
    assert request_a.reference in browser.get("/portal/").text
    secret = officer_token(colleague)
    assert client.get(f"/api/v1/requests/{request_a.reference}",
                      headers=bearer(secret)).status_code == 200
    assert [r["reference"] for r in client.get("/api/v1/requests", headers=bearer(secret)).json] \
        == [request_a.reference]

    # A colleague may write, but not add further colleagues.
    response = post_form(browser, url, f"{url}/colleagues",
                         {"email": "det.alpha@metro-a.police.example"})
    assert ("error", "Only the officer who submitted the request can add colleagues.") in \
        flashes(browser.get(response.headers["Location"]).text)

    # Both officers hear about staff updates — and only that there is one.
    mailbox.clear()
    staff = factories.make_user("agent")
    services.post_message(as_identity(staff), reload_request(request_a.reference),
                          "Made-up staff question about the order", internal=False)
    from referrals.core.transaction import commit

    commit()
    assert sorted(m["X-Envelope-To"] for m in mailbox.messages) == [
        "det.alpha@metro-a.police.example, det.charlie@metro-a.police.example"]


def test_at_most_five_colleagues(request_a, officer_a, agency_a):
    identity = as_identity(officer_a)
    for n in range(5):
        colleague = factories.make_user("officer", agency=agency_a,
                                        email=f"colleague{n}@metro-a.police.example")
        services.add_colleague(identity, request_a, colleague.email)
    sixth = factories.make_user("officer", agency=agency_a, email="sixth@metro-a.police.example")
    from referrals.core.errors import DomainError

    with pytest.raises(DomainError) as refused:
        services.add_colleague(identity, request_a, sixth.email)
    assert refused.value.message == "A request can have at most 5 colleagues."
    assert len(reload_request(request_a.reference).collaborators) == 5


def test_the_sixth_colleague_is_refused_on_the_page(request_a, officer_a, agency_a, new_client):
    for n in range(5):
        colleague = factories.make_user("officer", agency=agency_a,
                                        email=f"colleague{n}@metro-a.police.example")
        db.session.add(RequestCollaborator(request_id=request_a.id, user_id=colleague.id))
    factories.make_user("officer", agency=agency_a, email="sixth@metro-a.police.example")
    db.session.flush()
    browser = new_client(officer_a)
    url = f"/portal/requests/{request_a.reference}"
    response = post_form(browser, url, f"{url}/colleagues",
                         {"email": "sixth@metro-a.police.example"})
    assert ("error", "A request can have at most 5 colleagues.") in \
        flashes(browser.get(response.headers["Location"]).text)


def colleague_answer(browser, reference, email):
    url = f"/portal/requests/{reference}"
    response = post_form(browser, url, f"{url}/colleagues", {"email": email})
    assert response.status_code == 302
    return flashes(unescape(browser.get(response.headers["Location"]).text))


def test_colleagues_elsewhere_are_refused_like_unknown_addresses(request_a, officer_a, officer_b,
                                                                 agency_a, make_user, new_client):
    staff = make_user("agent", email="agent.someone@metro-a.police.example")
    disabled = factories.make_user("officer", agency=agency_a,
                                   email="disabled@metro-a.police.example")
    disabled.active = False
    db.session.flush()
    browser = new_client(officer_a)
    answers = {email: colleague_answer(browser, request_a.reference, email) for email in (
        officer_b.email,                          # another agency
        "nobody.at.all@metro-a.police.example",    # no account
        staff.email,                              # a staff account
        disabled.email,                           # disabled
        officer_a.email,                          # oneself
    )}
    for email, answer in answers.items():
        assert answer == [("error", NO_COLLEAGUE)], email
    assert reload_request(request_a.reference).collaborators == []


def test_an_officer_not_yet_approved_cannot_be_added(request_a, officer_a, agency_a, new_client):
    """A colleague must have passed the same checks as a submitter: confirmed and approved."""
    pending = factories.make_user("officer", agency=agency_a, approved_at=None,
                                  email="pending@metro-a.police.example")
    unconfirmed = factories.make_user("officer", agency=agency_a, confirmed_at=None,
                                      email="unconfirmed@metro-a.police.example")
    browser = new_client(officer_a)
    assert colleague_answer(browser, request_a.reference, pending.email) == [("error", NO_COLLEAGUE)]
    assert colleague_answer(browser, request_a.reference, unconfirmed.email) == \
        [("error", NO_COLLEAGUE)]
    assert reload_request(request_a.reference).collaborators == []


def test_adding_the_same_colleague_twice(request_a, officer_a, agency_a):
    from referrals.core.errors import InvalidInput

    colleague = factories.make_user("officer", agency=agency_a,
                                    email="twice@metro-a.police.example")
    services.add_colleague(as_identity(officer_a), request_a, colleague.email)
    with pytest.raises(InvalidInput, match="already on the request"):
        services.add_colleague(as_identity(officer_a), request_a, colleague.email)


def test_a_colleague_address_is_matched_whatever_its_case(request_a, officer_a, agency_a):
    """Regression: the lookup lower-cased the address given but compared it with the stored
    address as registered, so Det.Charlie@… could never be added."""
    colleague = factories.make_user("officer", agency=agency_a,
                                    email="Det.Charlie@metro-a.police.example")
    added = services.add_colleague(as_identity(officer_a), request_a,
                                   " det.charlie@METRO-A.police.example ")
    assert added.id == colleague.id


def test_a_colleague_who_moves_agency_loses_access(request_a, officer_a, agency_a, agency_b,
                                                   new_client):
    colleague = factories.make_user("officer", agency=agency_a,
                                    email="mover@metro-a.police.example")
    services.add_colleague(as_identity(officer_a), request_a, colleague.email)
    colleague.agency_id = agency_b.id
    db.session.flush()
    assert new_client(colleague).get(f"/portal/requests/{request_a.reference}").status_code == 404


# --- what an agency reads -------------------------------------------------------------------


def test_internal_notes_and_staff_names_never_reach_the_agency(request_a, officer_a, new_client,
                                                               client, officer_token, make_user,
                                                               mailbox):
    agent = make_user("agent", full_name="Agent Avery Madeupname")
    identity = as_identity(agent)
    services.post_message(identity, request_a, "INTERNAL made-up note: suspect is a VIP",
                          internal=True)
    services.send_to_agency(identity, request_a, "Please send page 2 of the made-up order.")
    services.move_request(identity, request_a, "verifying")
    services.move_request(identity, request_a, "needs_info", "Made-up: the signature is missing")
    from referrals.core.transaction import commit

    commit()

    page = new_client(officer_a).get(f"/portal/requests/{request_a.reference}").text
    assert "Please send page 2 of the made-up order." in page
    assert "INTERNAL made-up note" not in page and "VIP" not in page
    assert "Avery" not in page and "Madeupname" not in page and agent.email not in page
    assert page.count("LER team") >= 3

    detail = client.get(f"/api/v1/requests/{request_a.reference}",
                        headers=bearer(officer_token(officer_a))).json
    bodies = [m["body"] for m in detail["messages"]]
    assert bodies == ["Please send page 2 of the made-up order.",
                      "Status: Needs information.\n\nMade-up: the signature is missing"]
    assert {m["author"] for m in detail["messages"]} == {"LER team"}
    assert "Avery" not in str(detail) and "VIP" not in str(detail)
    assert set(detail) == {"reference", "request_type", "emergency", "status", "received_at",
                           "deadline_at", "data_categories", "date_from", "date_to", "warnings",
                           "targets", "messages", "related_reference", "hold", "disclosures",
                           "attestation_version", "attested_at",
                           # the clock as the law counts it (issue 12); our internal target
                           # for an emergency EPOC stays inside
                           "legal_entity", "return_date", "enforcement_window_ends_at",
                           "clock_paused_at"}
    assert detail["hold"] is None  # a court order places no hold

    # The mails say only that there is an update.
    assert mailbox.messages, "the officer was not told"
    for message in mailbox.messages:
        body = mailbox.body(message)
        assert body.startswith(f"There is an update on request {request_a.reference}.")
        for secret in (SECRET_TARGET, SECRET_BASIS, "page 2", "signature", "VIP", "Avery",
                       "Needs information"):
            assert secret not in body and secret not in message["Subject"], secret


def test_an_officers_own_message_shows_their_name(request_a, officer_a, new_client):
    browser = new_client(officer_a)
    url = f"/portal/requests/{request_a.reference}"
    response = post_form(browser, url, f"{url}/messages", {"body": "Made-up: here is page 2"})
    page = browser.get(response.headers["Location"]).text
    assert "Message sent to the LER team." in page
    assert "Det. Alex Alpha" in page and "Made-up: here is page 2" in page
    [message] = db.session.scalars(select(RequestMessage)).all()
    assert message.from_agency is True and message.internal is False


def test_an_officer_cannot_post_an_internal_note(request_a, officer_a, new_client):
    browser = new_client(officer_a)
    url = f"/portal/requests/{request_a.reference}"
    post_form(browser, url, f"{url}/messages", {"body": "Made-up hidden?", "internal": "y"})
    [message] = db.session.scalars(select(RequestMessage)).all()
    assert message.internal is False


def test_an_officers_message_tells_the_assignee_only_that_there_is_one(request_a, officer_a,
                                                                       make_user, mailbox):
    agent = make_user("agent")
    services.assign_request(as_identity(agent), request_a, agent.id)
    services.post_message(as_identity(officer_a), request_a, "Made-up officer detail 4411")
    from referrals.core.transaction import commit

    commit()
    [message] = mailbox.to(agent.email)
    assert "4411" not in mailbox.body(message)
    assert request_a.reference in mailbox.body(message)


def test_withdrawing_on_the_portal(request_a, officer_a, new_client):
    browser = new_client(officer_a)
    url = f"/portal/requests/{request_a.reference}"
    response = post_form(browser, url, f"{url}/withdraw", {"reason": "Made-up: case closed"})
    page = browser.get(response.headers["Location"])
    assert ("success", "Request withdrawn.") in flashes(page.text)
    stored = reload_request(request_a.reference)
    assert stored.status == "withdrawn" and stored.is_open is False
    assert 'id="withdraw"' not in page.text
    response = post_form(browser, url, f"{url}/withdraw", {"reason": ""})
    assert ("error", "This request can no longer be withdrawn.") in \
        flashes(browser.get(response.headers["Location"]).text)


def test_a_disclosed_request_cannot_be_withdrawn(request_a, officer_a):
    from referrals.core.errors import DomainError

    request_a.status = "disclosed"
    db.session.flush()
    with pytest.raises(DomainError):
        services.withdraw_request(as_identity(officer_a), request_a)
