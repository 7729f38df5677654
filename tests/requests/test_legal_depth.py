"""Issue 12 through the API and the pages: the right instrument for the right requester, and
deadlines counted as a lawyer would (weekends, Irish public holidays, year ends, clock
changes). Expected instants are worked out by hand, in UTC, with the local reading beside."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from pypdf import PdfReader

from sqlalchemy import select

from referrals.extensions import db
from referrals.requests.models import RequestMessage
from tests import factories
from tests.requests.helpers import (api_body, bearer, keep_signed_in, make_agency, post_form,
                                    reload_request)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def officer_of(country: str, legal_entity: str = "us", kind: str = "law_enforcement"):
    domain = f"made-up-{country.lower()}-{kind.replace('_', '-')}.example"
    agency = make_agency(f"Made-up {country} {kind}", domains=[domain], country=country,
                         legal_entity=legal_entity)
    agency.kind = kind
    return factories.make_user("officer", agency=agency, email=f"det.made-up@{domain}",
                               full_name=f"Det. Made-up {country}")


@pytest.fixture
def api(client, officer_token):
    """``api(officer, **body)``: POST /api/v1/requests as that officer; the response."""
    def post(officer, **overrides):
        return client.post("/api/v1/requests", json=api_body(**overrides),
                           headers=bearer(officer_token(officer)))
    post.get = lambda officer, reference: client.get(  # noqa: E731
        f"/api/v1/requests/{reference}", headers=bearer(officer_token(officer)))
    return post


def created(response) -> dict:
    assert response.status_code == 201, response.text
    return response.json


def refused(response) -> str:
    assert response.status_code == 422, response.text
    body = response.json
    return " ".join(str(v) for v in (body.get("message"), body.get("errors")) if v)


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


# --- 2703(f) only for a US governmental entity ------------------------------------------------


def test_a_uk_police_preservation_is_a_voluntary_budapest_hold_in_london(api, frozen, new_client):
    # Received Wednesday 21 October 2026, 09:00 UTC = 10:00 BST; British clocks go back on
    # Sunday 25 October.
    frozen(utc(2026, 10, 21, 9, 0))
    police = officer_of("GB", legal_entity="uk")
    body = created(api(police, request_type="preservation", addressed_to="uk"))
    assert body["legal_entity"] == "uk"
    # Rightly addressed: no warning that the US entity receives preservation requests.
    assert body["warnings"] == []
    # The request itself is due within the time to act (24 hours of elapsed time).
    assert instant(body["deadline_at"]) == utc(2026, 10, 22, 9, 0)
    hold = api.get(police, body["reference"]).json["hold"]
    # Not a 2703(f) hold: Budapest art. 29(7), at least 60 days, kept under our policy;
    # 60 calendar days at the same wall-clock time in London: 20 December, 10:00 GMT.
    assert hold["kind"] == "budapest_art29"
    assert instant(hold["expires_at"]) == utc(2026, 12, 20, 10, 0)
    letter = new_client(police).get(f"/portal/holds/{hold['reference']}/letter.pdf")
    assert letter.status_code == 200
    text = pdf_text(letter.data)
    assert "This preservation is voluntary" in text
    assert "article 29(7)" in text and "at least 60 days" in text
    assert "Platform UK Ltd" in text
    assert "20 Dec 2026 10:00 GMT (Europe/London)" in text
    assert "under 18 U.S.C. § 2703(f)." not in text


def test_a_preservation_from_a_country_outside_the_budapest_convention_is_voluntary(api, frozen):
    frozen(utc(2026, 3, 2, 17, 0))  # 09:00 PST
    police = officer_of("IN")
    body = created(api(police, request_type="preservation", addressed_to="us"))
    hold = api.get(police, body["reference"]).json["hold"]
    assert hold["kind"] == "voluntary"
    # 90 days at the same wall-clock time in Los Angeles, now PDT: 31 May 09:00 = 16:00 UTC.
    assert instant(hold["expires_at"]) == utc(2026, 5, 31, 16, 0)


def test_a_us_hotline_is_not_a_governmental_entity(api):
    ngo = officer_of("US", kind="hotline")
    body = created(api(ngo, request_type="preservation", addressed_to="us"))
    assert api.get(ngo, body["reference"]).json["hold"]["kind"] == "voluntary"


def test_a_us_police_preservation_is_a_2703f_hold(api, officer_a):
    body = created(api(officer_a, request_type="preservation", addressed_to="us"))
    assert api.get(officer_a, body["reference"]).json["hold"]["kind"] == "us_2703f"


# --- EU orders: participating member states, from 18 August 2026 -------------------------------


def test_an_epoc_from_a_us_police_department_is_refused(api, officer_a):
    message = refused(api(officer_a, request_type="eu_epoc", addressed_to="eu"))
    assert "Only an issuing authority of an EU member state taking part in Regulation (EU) " \
           "2023/1543" in message
    assert reload_request("REQ-2026-000001") is None


def test_denmark_does_not_issue_european_orders(api):
    message = refused(api(officer_of("DK", "eu"), request_type="eu_epoc_pr", addressed_to="eu"))
    assert "Denmark does not take part" in message


def test_european_orders_exist_from_the_18th_of_august_2026_in_dublin(api, frozen):
    garda = officer_of("IE", "eu")
    frozen(utc(2026, 8, 17, 22, 30))  # 23:30 IST on 17 August: not yet
    assert "from 18 August 2026" in refused(api(garda, request_type="eu_epoc",
                                                addressed_to="eu"))
    frozen(utc(2026, 8, 17, 23, 30))  # 00:30 IST on 18 August (still the 17th in UTC)
    body = created(api(garda, request_type="eu_epoc", addressed_to="eu"))
    # Day 10 is Friday 28 August: ends at its end, IST.
    assert instant(body["deadline_at"]) == utc(2026, 8, 28, 22, 59, 59, 999999)


@pytest.mark.parametrize(("received", "due"), [
    # Sunday 7 March 2027: day 10 is Wednesday 17 March, St Patrick's Day → Thursday 18, GMT.
    (utc(2027, 3, 7, 12, 0), utc(2027, 3, 18, 23, 59, 59, 999999)),
    # Tuesday 22 December 2026: day 10 is Friday 1 January 2027 (New Year's Day), then a
    # weekend → Monday 4 January 2027.
    (utc(2026, 12, 22, 15, 0), utc(2027, 1, 4, 23, 59, 59, 999999)),
    # Wednesday 16 December 2026: day 10 is Saturday 26 December (St Stephen's Day) →
    # Monday 28 December.
    (utc(2026, 12, 16, 9, 0), utc(2026, 12, 28, 23, 59, 59, 999999)),
    # Friday 16 October 2026 (IST): day 10 is Monday 26 October, the October bank holiday,
    # the day after the clocks go back → Tuesday 27 October, GMT.
    (utc(2026, 10, 16, 8, 0), utc(2026, 10, 27, 23, 59, 59, 999999)),
])
def test_an_epoc_is_due_on_the_next_irish_working_day(api, frozen, received, due):
    frozen(received)
    body = created(api(officer_of("IE", "eu"), request_type="eu_epoc", addressed_to="eu"))
    assert instant(body["deadline_at"]) == due


def test_an_emergency_epoc_shows_an_internal_target_beside_its_legal_deadline(
        api, frozen, new_client, agent):
    # 00:30 UTC on Sunday 25 October 2026, half an hour before Irish clocks go back.
    frozen(utc(2026, 10, 25, 0, 30))
    body = created(api(officer_of("IE", "eu"), request_type="eu_epoc", addressed_to="eu",
                       emergency=True))
    assert "internal_target_at" not in body  # ours, not the agency's
    stored = reload_request(body["reference"])
    legal, target = instant(body["deadline_at"]), stored.internal_target_at
    assert legal == utc(2026, 10, 25, 8, 59, 59, 999999)  # 01:00-09:00 UTC: eight real hours
    assert target == utc(2026, 10, 25, 6, 30)  # six elapsed hours from receipt
    assert target <= legal
    page = unescape(new_client(agent).get(f"/requests/{body['reference']}").text)
    assert "25 Oct 2026 08:59 GMT (Europe/Dublin)" in page  # legal deadline
    assert "25 Oct 2026 06:30 GMT (Europe/Dublin)" in page  # internal target


def test_a_notified_epoc_tracks_the_enforcing_authoritys_window(api, frozen):
    frozen(utc(2026, 9, 23, 10, 20))
    garda = officer_of("IE", "eu")
    body = created(api(garda, request_type="eu_epoc", addressed_to="eu",
                       enforcing_authority_notified=True))
    assert instant(body["enforcement_window_ends_at"]) == utc(2026, 10, 5, 22, 59, 59, 999999)
    urgent = created(api(garda, request_type="eu_epoc", addressed_to="eu", emergency=True,
                         enforcing_authority_notified=True))
    # 96 hours from 11:00 UTC on 23 September: the end of 10:59 UTC on 27 September.
    assert instant(urgent["enforcement_window_ends_at"]) == utc(2026, 9, 27, 10, 59, 59, 999999)
    assert "Only a European Production Order" in refused(
        api(garda, request_type="subpoena", addressed_to="us", enforcing_authority_notified=True))


def test_annex_iii_stops_the_clock_and_the_clarification_restarts_it(api, frozen, new_client,
                                                                    agent):
    frozen(utc(2026, 9, 23, 10, 20))
    garda = officer_of("IE", "eu")
    reference = created(api(garda, request_type="eu_epoc", addressed_to="eu"))["reference"]
    browser = new_client(agent)
    page = f"/requests/{reference}"
    response = post_form(browser, page, f"{page}/clock/stop",
                         data={"note": "Made-up: the EPOC names no account."})
    assert response.status_code == 302
    stopped = reload_request(reference)
    assert stopped.clock_paused_at == utc(2026, 9, 23, 10, 20)
    [told] = db.session.scalars(select(RequestMessage)
                                .where(RequestMessage.request_id == stopped.id)).all()
    assert "Annex III" in told.body and "Made-up: the EPOC names no account." in told.body
    assert "Clock stopped" in unescape(browser.get(page).text)
    later = utc(2026, 9, 26, 14, 20)  # three days and four hours later
    frozen(later)
    keep_signed_in(browser, later)
    response = post_form(browser, page, f"{page}/clock/restart",
                         data={"note": "Made-up: the account is named."})
    assert response.status_code == 302
    restarted = reload_request(reference)
    assert restarted.clock_paused_at is None
    assert restarted.deadline_at == utc(2026, 10, 5, 22, 59, 59, 999999) + timedelta(days=3,
                                                                                        hours=4)


# --- UK orders, return dates ------------------------------------------------------------------


@pytest.mark.parametrize("request_type", ["uk_opo", "uk_us_daa"])
def test_a_uk_order_is_due_seven_days_beginning_with_service_in_london(api, frozen,
                                                                       request_type):
    frozen(utc(2026, 10, 21, 9, 0))  # Wednesday, 10:00 BST
    police = officer_of("GB", "uk")
    body = created(api(police, request_type=request_type, addressed_to="uk"))
    assert body["legal_entity"] == "uk"
    # Day 1 is 21 October, day 7 Tuesday 27 October, after the clocks went back: GMT.
    assert instant(body["deadline_at"]) == utc(2026, 10, 27, 23, 59, 59, 999999)
    # An order that sets its own date: that date is the deadline.
    body = created(api(police, request_type=request_type, addressed_to="uk",
                       return_date="2026-11-02"))
    assert instant(body["deadline_at"]) == utc(2026, 11, 2, 23, 59, 59, 999999)
    assert body["return_date"] == "2026-11-02"


def test_a_subpoenas_return_date_is_its_deadline_across_the_year_end(api, officer_a, frozen):
    frozen(utc(2026, 12, 28, 18, 0))
    body = created(api(officer_a, request_type="subpoena", addressed_to="us",
                       return_date="2027-01-04"))
    # The end of 4 January in Los Angeles (PST) is 07:59:59.999999 UTC on 5 January.
    assert instant(body["deadline_at"]) == utc(2027, 1, 5, 7, 59, 59, 999999)
    assert "has passed" in refused(api(officer_a, request_type="subpoena", addressed_to="us",
                                       return_date="2026-12-27"))


# --- renewals: one request, one zone ---------------------------------------------------------


def test_a_renewal_is_due_when_the_hold_it_renews_expires(api, officer_a, frozen):
    frozen(utc(2026, 1, 10, 18, 0))  # 10:00 PST
    first = created(api(officer_a, request_type="preservation", addressed_to="us"))
    frozen(utc(2026, 3, 1, 12, 0))
    renewal = created(api(officer_a, request_type="preservation_renewal", addressed_to="us",
                          related_reference=first["reference"]))
    hold = api.get(officer_a, first["reference"]).json["hold"]
    # 10 April 10:00 PDT, then 90 more days: 9 July 10:00 PDT = 17:00 UTC.
    assert instant(hold["expires_at"]) == utc(2026, 7, 9, 17, 0)
    assert instant(renewal["deadline_at"]) == instant(hold["expires_at"])


def test_a_uk_renewal_counts_in_london_like_the_hold_it_renews(api, frozen):
    police = officer_of("GB", "uk")
    frozen(utc(2026, 10, 21, 9, 0))
    first = created(api(police, request_type="preservation", addressed_to="uk"))
    frozen(utc(2026, 12, 1, 9, 0))
    # Addressed to the US entity by mistake: still counted where the hold is, London.
    renewal = created(api(police, request_type="preservation_renewal", addressed_to="us",
                          related_reference=first["reference"]))
    assert renewal["legal_entity"] == "uk"
    assert renewal["warnings"] == [
        "The process is addressed to Platform, Inc. (United States), but it is received by "
        "Platform UK Ltd (United Kingdom), whose time zone counts its dates."]
    # 20 December 10:00 GMT + 90 days = 20 March 2027 10:00 GMT.
    assert instant(renewal["deadline_at"]) == utc(2027, 3, 20, 10, 0)
    assert instant(api.get(police, first["reference"]).json["hold"]["expires_at"]) == \
        instant(renewal["deadline_at"])


# --- non-disclosure orders ------------------------------------------------------------------


def test_the_staff_page_shows_when_the_user_notice_falls_due_and_why(api, frozen, new_client,
                                                                     agent):
    frozen(utc(2026, 10, 1, 9, 0))
    police = officer_of("GB", "uk")
    body = created(api(police, request_type="uk_opo", addressed_to="uk",
                       nondisclosure_order=True, nondisclosure_until="2026-10-24"))
    page = unescape(new_client(agent).get(f"/requests/{body['reference']}").text)
    # In force all of 24 October; notice at 00:00 on the 25th, still BST (the clocks go
    # back at 02:00).
    assert ("In force until the end of 24 October 2026; the user notice falls due "
            "25 Oct 2026 00:00 BST (Europe/London)") in page
    assert "our reading (internal policy): the end date is the last day the order is in " \
           "force" in page


def test_an_indefinite_order_goes_to_legal_review_and_is_rechecked(api, officer_a, frozen,
                                                                   new_client, agent):
    frozen(utc(2026, 11, 2, 17, 0))
    body = created(api(officer_a, request_type="search_warrant", addressed_to="us",
                       data_categories=["content"], nondisclosure_order=True))
    reference = body["reference"]
    stored = reload_request(reference)
    # 90 calendar days at the same wall-clock time in Los Angeles (09:00 PST): 31 January.
    assert stored.nondisclosure_review_due_at == utc(2027, 1, 31, 17, 0)
    browser = new_client(agent)
    queue = unescape(browser.get("/requests/nondisclosure-reviews").text)
    assert reference in queue and "31 Jan 2027 09:00 PST (America/Los_Angeles)" in queue
    assert "2017" in queue  # the DOJ policy the interval follows is cited
    later = utc(2027, 2, 3, 18, 0)  # the review is overdue
    frozen(later)
    keep_signed_in(browser, later)
    assert "overdue" in browser.get("/requests/nondisclosure-reviews").text
    response = post_form(browser, f"/requests/{reference}",
                         f"/requests/{reference}/nondisclosure-review",
                         data={"note": "Made-up: the order is still in force."})
    assert response.status_code == 302
    assert reload_request(reference).nondisclosure_review_due_at == utc(2027, 5, 4, 17, 0)
    assert "overdue" not in browser.get("/requests/nondisclosure-reviews").text


# --- the rules page -------------------------------------------------------------------------


def test_the_rules_page_lists_every_rule_with_its_source_and_value(new_client, agent,
                                                                   override_settings):
    from referrals.core.deadlines import RULES

    override_settings(retention_days=365, preservation_action_hours=12)
    page = unescape(new_client(agent).get("/deadline-rules").text)
    for key, rule in RULES.items():
        assert f'id="rule-{key}"' in page, key
        assert rule.source in page, key
    row = page[page.index('id="rule-retention"'):]
    assert "365 days" in row[:row.index("</tr>")]
    row = page[page.index('id="rule-preservation_time_to_act"'):]
    assert "12 hours" in row[:row.index("</tr>")]
    assert "REFERRALS_PRESERVATION_ACTION_HOURS" in row
