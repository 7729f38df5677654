"""Issue 11: the clock stands while we wait on the agency, and the pages say so; an answered,
closed or withdrawn request stops counting down and leaves the open queue's top."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from referrals.core.identity import Identity
from referrals.dashboard.work import urgent_work
from referrals.requests import clock, services
from referrals.requests.clock import ClockRefused
from tests.requests.helpers import (audit_events, eu_order_record, keep_signed_in, move,
                                    reload_request, submit, unescape)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_asking_for_information_stops_the_clock_and_the_answer_restarts_it(
        officer_a, agent, frozen, new_client):
    frozen(START)
    request = submit(officer_a)
    due = request.deadline_at
    move(agent, request, "verifying", "needs_info")
    assert (request.clock_paused_at, request.clock_paused_for) == (START, "needs_info")

    frozen(START + timedelta(days=20))  # past the deadline, but the ball is with the agency
    browser = new_client(agent)
    keep_signed_in(browser, START + timedelta(days=20))
    queue = unescape(browser.get("/requests/").text)
    row = queue.split(request.reference, 1)[1].split("</tr>", 1)[0]
    assert "Paused: waiting on the agency" in row and "Overdue" not in row
    page = unescape(browser.get(f"/requests/{request.reference}").text)
    assert "Waiting on the agency: we asked for information" in page
    assert urgent_work(Identity.for_user(agent)).counts["requests"]["overdue"] == 0

    move(agent, request, "legal_review")  # the agency answered
    request = reload_request(request.reference)
    assert request.clock_paused_at is None and request.clock_paused_for is None
    assert request.deadline_at == due + timedelta(days=20)
    [event] = [e for e in audit_events("request.status_changed", request.reference)
               if '"clock":"restarted"' in e.after]
    assert '"stood_seconds":1728000' in event.after


def test_an_eu_order_keeps_running_when_we_ask_informally(officer_a, agent, frozen, new_client):
    """Regulation (EU) 2023/1543 art. 10(6): only an Annex III stops an EU order's clock."""
    frozen(datetime(2026, 9, 1, 9, 0, tzinfo=UTC))
    request = eu_order_record(officer_a)
    move(agent, request, "verifying", "needs_info")
    assert request.clock_paused_at is None
    page = unescape(new_client(agent).get(f"/requests/{request.reference}").text)
    assert "Asking for information does not stop an EU order" in page


def test_an_annex_iii_restart_is_not_the_way_out_of_needs_information(officer_a, agent, frozen):
    frozen(START)
    request = submit(officer_a)
    move(agent, request, "verifying", "needs_info")
    with pytest.raises(ClockRefused, match="asked the agency for information"):
        clock.restart_clock(Identity.for_user(agent), request, "Made-up clarification")


@pytest.mark.parametrize("ending", ["closed", "withdrawn"])
def test_a_closed_or_withdrawn_request_leaves_the_open_queue_and_stops_counting(
        officer_a, agent, frozen, ending):
    frozen(START)
    over = submit(officer_a)
    waiting = submit(officer_a)
    if ending == "withdrawn":
        services.withdraw_request(Identity.for_user(officer_a), over, "Made-up: solved")
    else:
        move(agent, over, "verifying", "needs_info", "closed")
    frozen(START + timedelta(days=40))  # both deadlines long past
    assert not over.clock_running and waiting.clock_running
    queue = services.staff_queue(Identity.for_user(agent))
    assert [r.reference for r in queue] == [waiting.reference]
    assert urgent_work(Identity.for_user(agent)).counts["requests"]["overdue"] == 1
    everything = services.staff_queue(Identity.for_user(agent), open_only=False)
    assert [r.reference for r in everything] == [waiting.reference, over.reference]


def test_a_preservation_request_shows_its_time_to_act_apart_from_the_holds_expiry(
        officer_a, agent, frozen, new_client):
    frozen(START)
    request = submit(officer_a, request_type="preservation")
    facts = {fact.label: fact.value for fact in clock.clock_facts(request)}
    assert "Time to act" in facts and "Deadline" not in facts
    page = unescape(new_client(agent).get(f"/requests/{request.reference}").text)
    assert "Time to act" in page and "Hold expires" in page
    acting = page.split("Time to act", 1)[1].split("</dd>", 1)[0]
    expiry = page.split("Hold expires", 1)[1].split("</span>", 1)[0]
    assert "3 Mar 2026" in acting  # 24 hours to act (rule preservation_time_to_act)
    assert "31 May 2026" in expiry  # 90 days of preservation (18 U.S.C. 2703(f))
