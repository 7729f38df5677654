"""The staff pages: the list (open first, by expiry), one hold with the actions its role and
state allow, and placing a hold from a case."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from referrals.cases.services import add_identifier, add_subject, open_case
from referrals.core.identity import system_identity
from referrals.extensions import db
from referrals.holds.services import place_internal_hold, release_hold
from tests.holds.helpers import by_reference, committed, hold_of, me, preserve
from tests.requests.helpers import audit_events, flashes, follow, post_form, unescape

SYSTEM = system_identity("test:holds pages")


@pytest.fixture
def case(agent):
    case = open_case(SYSTEM, title="Made-up extortion case", category="other", check=False)
    subject = add_subject(SYSTEM, case, label="made_up_extorter", check=False)
    add_identifier(me(agent), subject, kind="username", value="@Made_Up_Extorter")
    add_identifier(me(agent), subject, kind="phone", value="+1 202 555 0147")
    return case


@pytest.fixture
def holds(officer_a, officer_b, irish_agency_b, agent, supervisor, case, frozen, us_time):
    """A 2703(f) hold (received 10 Jan), an Irish authority's EPOC-PR (received 1 Mar), an
    internal hold and a released one; the clock then stands at 1 April 2027 (EPOC-PRs exist
    from 18 August 2026)."""
    frozen(datetime(2027, 1, 10, 18, 0, tzinfo=UTC))
    us = hold_of(preserve(officer_a))
    frozen(datetime(2027, 3, 1, 12, 0, tzinfo=UTC))
    eu = hold_of(preserve(officer_b, request_type="eu_epoc_pr", addressed_to="eu"))
    internal = place_internal_hold(me(agent), case, [("username", "@Made_Up_Extorter")],
                                   ["subscriber"], None, None, "Made-up litigation hold")
    ended = place_internal_hold(me(agent), case, [], ["subscriber"], None, None, "Made-up")
    release_hold(me(supervisor), ended, "Made-up: no longer needed")
    committed()
    frozen(datetime(2027, 4, 1, 16, 0, tzinfo=UTC))
    return {"us": us, "eu": eu, "internal": internal, "ended": ended}


def _order(html: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r"HOLD-\d{4}-\d{6}", html)))


def test_the_list_shows_open_holds_first_by_expiry(holds, agent, new_client):
    browser = new_client(agent)
    page = unescape(browser.get("/holds/").text)
    assert _order(page) == [holds["us"].reference, holds["eu"].reference,
                            holds["internal"].reference]
    assert "Expires in 9 days" in page  # 10 April, seen from 1 April
    assert "No expiry" in page and "Review due" in page
    assert "0 of 1 renewal used" in page and "0 of 1 extension used" in page
    all_page = browser.get("/holds/?status=all").text
    assert _order(all_page)[-1] == holds["ended"].reference
    assert _order(browser.get("/holds/?status=released").text) == [holds["ended"].reference]
    assert _order(browser.get("/holds/?kind=eu_epoc_pr").text) == [holds["eu"].reference]
    assert browser.get("/holds/?status=nonsense&kind=nonsense").status_code == 200
    assert 'href="/holds/"' in browser.get("/dashboard").text  # in the staff navigation


def test_each_role_sees_the_actions_it_may_take(holds, agent, supervisor, compliance,
                                                new_client):
    us = holds["us"].reference
    as_agent = new_client(agent)  # one sign-in each: a TOTP code is accepted once
    agent_page = as_agent.get(f"/holds/{us}").text
    assert 'id="renew"' in agent_page and 'id="confirm-production"' in agent_page
    assert 'id="release"' not in agent_page and 'id="convert"' not in agent_page
    assert 'id="extend"' not in agent_page and 'id="review"' not in agent_page
    supervisor_page = new_client(supervisor).get(f"/holds/{us}").text
    assert 'id="renew"' in supervisor_page
    assert 'id="release"' in supervisor_page and 'id="convert"' in supervisor_page
    compliance_client = new_client(compliance)
    compliance_page = compliance_client.get(f"/holds/{us}").text
    assert holds["us"].reference in compliance_page
    assert not re.search(r'<form method="post"[^>]*/holds/', compliance_page)
    assert 'id="extend"' in as_agent.get(f"/holds/{holds['eu'].reference}").text
    assert 'id="review"' in as_agent.get(f"/holds/{holds['internal'].reference}").text
    ended_page = as_agent.get(f"/holds/{holds['ended'].reference}").text
    assert "<form" not in ended_page.split('id="clock"')[1]
    assert "Made-up: no longer needed" in ended_page
    assert compliance_client.get("/holds/HOLD-2026-999999").status_code == 404


def test_release_through_the_page_needs_a_supervisor_and_a_reason(holds, agent, supervisor,
                                                                  new_client):
    us = holds["us"].reference
    page_url = f"/holds/{us}"
    response = post_form(new_client(agent), page_url, f"{page_url}/release",
                         data={"release-reason": "Made-up"})
    assert response.status_code == 403
    boss = new_client(supervisor)
    response = post_form(boss, page_url, f"{page_url}/release", data={"release-reason": ""})
    assert ("error", "Say why the hold is released.") in flashes(follow(boss, response).text)
    assert by_reference(us).status == "active"
    response = post_form(boss, page_url, f"{page_url}/release",
                         data={"release-reason": "Made-up: the agency withdrew"})
    assert ("success", "The hold is released.") in flashes(follow(boss, response).text)
    hold = by_reference(us)
    assert hold.status == "released" and hold.end_reason == "Made-up: the agency withdrew"
    [event] = audit_events("hold.released", us)
    assert event.actor_id == supervisor.id


def test_renew_and_extend_through_the_page(holds, agent, new_client):
    browser = new_client(agent)
    us, eu = holds["us"].reference, holds["eu"].reference
    response = post_form(browser, f"/holds/{us}", f"/holds/{us}/renew",
                         data={"renew-note": "Made-up letter by e-mail"})
    assert ("success", "Renewal recorded: the hold runs 90 days more.") in \
        flashes(follow(browser, response).text)
    assert by_reference(us).expires_at == datetime(2027, 7, 9, 17, 0, tzinfo=UTC)
    # The form is gone, and the page says why.
    page = unescape(browser.get(f"/holds/{us}").text)
    assert 'id="renew"' not in page and "was already renewed once, on 1 April 2027" in page
    response = post_form(browser, f"/holds/{eu}", f"/holds/{eu}/extend",
                         data={"extend-note": "Made-up Annex VI"})
    follow(browser, response)
    assert by_reference(eu).extensions == 1
    response = post_form(browser, f"/holds/{us}", f"/holds/{us}/renew",
                         data={"renew-note": "Again"})
    [(kind, message)] = flashes(follow(browser, response).text)
    assert kind == "error" and "already renewed once" in unescape(message)


def test_production_and_review_through_the_page(holds, agent, new_client):
    browser = new_client(agent)
    eu, internal = holds["eu"].reference, holds["internal"].reference
    response = post_form(browser, f"/holds/{eu}", f"/holds/{eu}/production",
                         data={"production-production_reference": "Made-up EPOC 77"})
    follow(browser, response)
    assert by_reference(eu).expires_at is None
    assert "Until the data is produced" in unescape(browser.get(f"/holds/{eu}").text)
    response = post_form(browser, f"/holds/{internal}", f"/holds/{internal}/review",
                         data={"review-note": "Made-up matter open"})
    follow(browser, response)
    assert [e.kind for e in by_reference(internal).events][-1] == "reviewed"


def test_the_case_page_lists_its_holds_and_offers_to_place_one(holds, case, agent, compliance,
                                                               new_client):
    page = new_client(agent).get(f"/cases/{case.reference}").text
    assert 'id="holds"' in page and 'id="place-hold"' in page
    assert holds["internal"].reference in page and holds["ended"].reference in page
    # Compliance reads but does not place.
    as_compliance = new_client(compliance)
    compliance_page = as_compliance.get(f"/cases/{case.reference}").text
    assert holds["internal"].reference in compliance_page
    assert 'id="place-hold"' not in compliance_page
    assert as_compliance.get(f"/holds/new/{case.reference}").status_code == 403


def test_a_case_hold_covers_a_request_hold_on_the_same_account(officer_a, case, agent,
                                                               new_client):
    hold = hold_of(preserve(officer_a, targets=[{"kind": "username", "value": "made_up_extorter"}]))
    page = new_client(agent).get(f"/cases/{case.reference}").text
    assert hold.reference in page and "holds an account of this case" in page


def test_placing_an_internal_hold_from_the_case_page(case, agent, new_client, frozen):
    frozen(datetime(2026, 4, 1, 16, 0, tzinfo=UTC))
    browser = new_client(agent)
    url = f"/holds/new/{case.reference}"
    page = browser.get(url).text
    identifier_ids = re.findall(r'name="identifiers"[^>]*value="(\d+)"', page) or \
        re.findall(r'value="(\d+)"[^>]*name="identifiers"', page)
    assert len(identifier_ids) == 2 and page.count("checked") >= 2
    response = post_form(browser, url, data={"kind": "internal", "identifiers": identifier_ids[:1],
                                             "data_categories": ["subscriber", "content"],
                                             "legal_basis": ""})
    assert response.status_code == 422
    assert "Say why the data is held" in unescape(response.text)
    response = post_form(browser, url, data={
        "kind": "internal", "identifiers": identifier_ids[:1],
        "data_categories": ["subscriber", "content"], "date_from": "2025-06-01",
        "legal_basis": "Made-up litigation hold, matter 2026-17"})
    assert response.status_code == 302, unescape(response.text)[:3000]
    reference = re.search(r"HOLD-\d{4}-\d{6}", response.headers["Location"]).group(0)
    hold = by_reference(reference)
    assert hold.kind == "internal" and hold.case_id == case.id and hold.owner_id == agent.id
    assert [i.normalized for i in hold.identifiers] == ["made_up_extorter"]
    assert hold.snapshot_at is not None  # the job ran after the request's commit
    assert audit_events("hold.placed", reference)[0].actor_id == agent.id


def test_placing_an_ncmec_hold_by_hand(case, agent, new_client, frozen, us_time):
    frozen(datetime(2026, 4, 1, 16, 0, tzinfo=UTC))
    agent.time_zone = "America/New_York"
    db.session.flush()
    browser = new_client(agent)
    url = f"/holds/new/{case.reference}"
    page = browser.get(url).text
    identifier_ids = re.findall(r'name="identifiers"[^>]*value="(\d+)"', page) or \
        re.findall(r'value="(\d+)"[^>]*name="identifiers"', page)
    response = post_form(browser, url, data={
        "kind": "ncmec_report", "identifiers": identifier_ids,
        "data_categories": ["subscriber", "content"], "report_id": "200123456",
        "completed_at": "2026-03-30T09:15"})  # in the agent's zone: 13:15 UTC
    assert response.status_code == 302, unescape(response.text)[:3000]
    hold = by_reference(re.search(r"HOLD-\d{4}-\d{6}", response.headers["Location"]).group(0))
    assert hold.kind == "ncmec_report" and hold.external_reference == "200123456"
    assert hold.starts_at == datetime(2026, 3, 30, 13, 15, tzinfo=UTC)
    assert hold.expires_at == datetime(2027, 3, 30, 13, 15, tzinfo=UTC)
    response = post_form(browser, url, data={
        "kind": "ncmec_report", "identifiers": identifier_ids, "data_categories": ["content"],
        "report_id": "200123456", "completed_at": "2026-03-30T09:15"})
    assert "already has its hold" in unescape(response.text)
