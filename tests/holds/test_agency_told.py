"""What the agency and the staff request page learn when a hold ends or its request is
withdrawn: the officer reads it in the portal; a withdrawal never ends a hold by itself."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from referrals.core.transaction import commit
from referrals.extensions import db
from referrals.holds.models import HoldEvent
from referrals.holds.scope import is_held
from referrals.holds.services import convert_hold, release_hold
from referrals.requests import services as requests
from referrals.requests.models import RequestMessage
from tests.holds.helpers import by_reference, hold_of, me, preserve
from tests.requests.helpers import unescape

RECEIVED = datetime(2026, 3, 25, 10, 20, tzinfo=UTC)


def agency_messages(request) -> list[str]:
    db.session.expire_all()
    return [m.body for m in db.session.scalars(
        select(RequestMessage).where(RequestMessage.request_id == request.id,
                                     RequestMessage.internal.is_(False),
                                     RequestMessage.from_agency.is_(False))
        .order_by(RequestMessage.id))]


def test_a_release_is_told_to_the_agency_with_its_reason(officer_a, supervisor, frozen, mailbox):
    frozen(RECEIVED)
    request = preserve(officer_a)
    hold = hold_of(request)
    before = len(agency_messages(request))
    release_hold(me(supervisor), hold, "Made-up: the agency's case was closed")
    commit()
    told = agency_messages(request)[before:]
    assert len(told) == 1
    assert told[0].startswith(f"The preservation {hold.reference} on this request was released "
                              "on 25 March 2026")
    assert "Made-up: the agency's case was closed" in told[0]
    # The e-mail says only that there is an update.
    mail = mailbox.to(officer_a.email)
    assert mail and mail[-1]["Subject"] == "An update on your request"
    assert hold.reference not in mailbox.body(mail[-1])


def test_a_conversion_is_told_to_the_agency(officer_a, supervisor, frozen):
    frozen(RECEIVED)
    request = preserve(officer_a)
    warrant = preserve(officer_a, request_type="search_warrant")
    hold = hold_of(request)
    convert_hold(me(supervisor), hold, warrant.reference)
    commit()
    assert agency_messages(request)[-1] == (
        f"The preservation {hold.reference} on this request has ended: the data it kept is now "
        f"handled under production {warrant.reference}.")


def test_withdrawing_the_request_keeps_the_hold_and_says_so_on_it(officer_a, frozen):
    frozen(RECEIVED)
    request = preserve(officer_a)
    hold = hold_of(request)
    requests.withdraw_request(me(officer_a), request, "Made-up: no longer needed")
    commit()
    hold = by_reference(hold.reference)
    assert hold.status == "active" and is_held(hold)
    notes = [e.body for e in db.session.scalars(
        select(HoldEvent).where(HoldEvent.hold_id == hold.id, HoldEvent.kind == "note"))]
    assert notes == [f"The agency withdrew {request.reference}. Release the hold if nothing else "
                     "needs the data."]


def test_the_staff_request_page_links_its_hold_and_what_a_renewal_renews(
        officer_a, agent, new_client, frozen):
    frozen(RECEIVED)
    request = preserve(officer_a)
    hold = hold_of(request)
    frozen(datetime(2026, 6, 10, 9, 0, tzinfo=UTC))
    from tests.holds.helpers import renew

    renewal = renew(officer_a, request.reference)
    browser = new_client(agent)
    page = unescape(browser.get(f"/requests/{request.reference}").text)
    assert f'href="/holds/{hold.reference}"' in page
    renewal_page = unescape(browser.get(f"/requests/{renewal.reference}").text)
    assert "Renews" in renewal_page
    assert f'href="/requests/{request.reference}"' in renewal_page
