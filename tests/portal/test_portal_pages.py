"""The portal's own pages: what an officer sees of their requests, and who may open them."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from referrals.tokens.models import ApiToken
from tests import factories
from tests.requests.helpers import post_form, submit, unescape

HOSTILE = '<img src=x onerror="alert(1)">'


def test_anonymous_visitors_are_sent_to_sign_in(client, officer_a):
    reference = submit(officer_a).reference
    for path in ("/portal/", "/portal/requests/new", "/portal/requests/emergency",
                 f"/portal/requests/{reference}", "/portal/tokens"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    assert client.get("/portal/register").status_code == 200  # public
    assert client.get("/portal/confirm/made-up").status_code == 404  # public, and plain


def test_the_index_lists_the_officers_requests(new_client, officer_a):
    browser = new_client(officer_a)
    assert "No requests yet." in browser.get("/portal/").text
    normal = submit(officer_a)
    emergency = submit(officer_a, request_type="emergency", documents=[])
    page = browser.get("/portal/").text
    assert normal.reference in page and emergency.reference in page
    assert "Waiting for approval" not in page
    row = page.split(emergency.reference)[2].split("</tr>")[0]
    assert "emergency" in row and "Received" in row


def test_the_request_page_shows_what_was_asked_and_the_deadline(new_client, officer_a):
    request = submit(officer_a, request_type="search_warrant",
                     data_categories=["subscriber", "content"],
                     targets=[{"kind": "username", "value": "@Made_Up_Shown"}])
    page = unescape(new_client(officer_a).get(f"/portal/requests/{request.reference}").text)
    assert "Search warrant" in page and "Content data" in page and "Subscriber information" in page
    assert "@Made_Up_Shown" in page
    assert 'id="request-status"' in page and "Received" in page
    assert "Answer due" in page and 'class="due"' in page
    assert 'id="withdraw"' in page and 'id="send-message"' in page


def test_a_closed_request_offers_no_message_or_withdrawal(new_client, officer_a):
    request = submit(officer_a)
    request.status, request.is_open = "closed", False
    from referrals.extensions import db

    db.session.flush()
    page = new_client(officer_a).get(f"/portal/requests/{request.reference}").text
    assert 'id="withdraw"' not in page and 'id="send-message"' not in page
    assert "Add a colleague" not in page


def test_what_an_agency_typed_is_escaped_everywhere(new_client, officer_a, make_user):
    request = submit(officer_a, targets=[{"kind": "username", "value": HOSTILE}],
                     offences=HOSTILE, officer_name=HOSTILE)
    for browser, path in ((new_client(officer_a), f"/portal/requests/{request.reference}"),
                          (new_client(make_user("agent")), f"/requests/{request.reference}")):
        page = browser.get(path).text
        assert HOSTILE not in page, path
        assert "&lt;img src=x" in page, path


def test_the_emergency_page_is_offered_to_officers(new_client, officer_a):
    browser = new_client(officer_a)
    home = browser.get("/portal/").text
    assert 'href="/portal/requests/emergency"' in home
    page = browser.get("/portal/requests/emergency")
    assert page.status_code == 200 and 'id="submit-emergency"' in page.text
    assert "Waiting for approval" not in page.text


def test_the_new_request_form_is_filled_with_the_officers_details(new_client, officer_a):
    page = new_client(officer_a).get("/portal/requests/new").text
    assert 'value="Det. Alex Alpha"' in page and f'value="{officer_a.email}"' in page
    assert 'value="emergency"' not in page.split('name="request_type"')[1].split("</select>")[0]


def test_an_officer_sees_only_their_own_tokens(new_client, officer_a, agency_a):
    colleague = factories.make_user("officer", agency=agency_a,
                                    email="token.colleague@metro-a.police.example")
    mine = new_client(officer_a)
    theirs = new_client(colleague)
    post_form(mine, "/portal/tokens", data={"name": "Made-up mine"})
    post_form(theirs, "/portal/tokens", data={"name": "Made-up theirs"})
    page = mine.get("/portal/tokens").text
    assert "Made-up mine" in page and "Made-up theirs" not in page
    from referrals.extensions import db

    prefixes = {t.name: t.prefix for t in db.session.scalars(select(ApiToken))}
    assert prefixes["Made-up theirs"] not in page


def test_a_new_token_is_shown_once(new_client, officer_a):
    browser = new_client(officer_a)
    made = post_form(browser, "/portal/tokens", data={"name": "Made-up once"}).text
    secret = re.search(r'id="api-token">([^<]+)<', made).group(1)
    assert secret not in browser.get("/portal/tokens").text


@pytest.mark.parametrize("path", ["/portal/", "/portal/requests/new", "/portal/tokens"])
def test_staff_cannot_open_the_portal(new_client, make_user, path):
    assert new_client(make_user("admin")).get(path).status_code == 404
