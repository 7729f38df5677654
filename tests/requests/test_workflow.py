"""The staff workflow on a disclosure request: allowed moves only, reasons the agency reads,
two people for every release, the disclosure record, the audit trail and user notice."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from referrals.core.errors import DomainError, InvalidInput, PermissionDenied
from referrals.extensions import db
from referrals.requests import rules, services
from referrals.disclosures.models import Disclosure
from referrals.requests.models import RequestMessage, UserNoticeTask
from tests.requests.helpers import (RELEASED, actions_for, after, as_identity, audit_events,
                                    collected_for, decide_all,
                                    flashes, keep_signed_in, move, post_form, reload_request,
                                    submit, unescape)


@pytest.fixture
def supervisor2(make_user):
    return make_user("supervisor", full_name="Supervisor Quinn Made-up")


@pytest.fixture
def supervisor3(make_user):
    return make_user("supervisor", full_name="Supervisor Rowan Made-up")


@pytest.fixture
def request_a(officer_a):
    return submit(officer_a, targets=[{"kind": "username", "value": "made_up_one"},
                                      {"kind": "platform_user_id", "value": "u-0002"}])


def in_legal_review(user, request):
    move(user, request, "verifying", "legal_review")
    return request


# --- transitions ----------------------------------------------------------------------------


ALL_MOVES = [(a, b) for a in rules.STATUSES for b in rules.STATUSES]


@pytest.mark.parametrize(("start", "target"), ALL_MOVES)
def test_only_the_moves_in_the_table_are_allowed(start, target, request_a, agent, supervisor):
    request_a.status = start
    request_a.is_open = start not in rules.FINAL_STATUSES
    request_a.approved_by_id = supervisor.id  # so that ready_for_review is reachable
    db.session.flush()
    allowed = target in rules.REQUEST_STATES.targets(start)
    if allowed:
        services.move_request(as_identity(agent), request_a, target, "Made-up reason")
        assert request_a.status == target
        assert request_a.is_open is (target not in rules.FINAL_STATUSES)
    else:
        with pytest.raises(DomainError) as refused:
            services.move_request(as_identity(agent), request_a, target, "Made-up reason")
        moves = ", ".join(rules.STATUSES[s] for s in rules.REQUEST_STATES.targets(start))
        assert refused.value.message == (
            f"A request that is {rules.STATUSES[start].lower()} cannot move to "
            f"{rules.STATUSES[target].lower()}." + (f" It can move to: {moves}." if moves else ""))
        assert reload_request(request_a.reference).status == start


def test_approved_and_disclosed_are_never_reached_by_a_plain_move():
    for start in rules.STATUSES:
        targets = rules.REQUEST_STATES.targets(start)
        assert "approved" not in targets and "disclosed" not in targets, start
        assert "withdrawn" not in targets, start


def test_an_unknown_status_is_refused(request_a, agent):
    with pytest.raises(InvalidInput):
        services.move_request(as_identity(agent), request_a, "teleported")


def test_ready_for_review_needs_an_approval(request_a, agent):
    request_a.status = "collecting"
    db.session.flush()
    with pytest.raises(DomainError, match="has not been approved"):
        services.move_request(as_identity(agent), request_a, "ready_for_review")


@pytest.mark.parametrize("role", ["compliance", "admin"])
def test_readers_and_admins_cannot_move_a_request(request_a, make_user, role):
    with pytest.raises(PermissionDenied):
        services.move_request(as_identity(make_user(role)), request_a, "verifying")


def test_a_forbidden_move_through_the_page_is_a_plain_flash(request_a, agent, new_client):
    browser = new_client(agent)
    url = f"/requests/{request_a.reference}"
    response = post_form(browser, url, f"{url}/status", {"status": "disclosed", "reason": ""})
    assert response.status_code == 302
    page = browser.get(response.headers["Location"])
    assert ("error", "A request that is received cannot move to disclosed. It can move to: "
                     "Verifying, Rejected.") in flashes(page.text)
    assert reload_request(request_a.reference).status == "received"


def test_no_move_is_preselected_and_an_empty_choice_changes_nothing(request_a, agent, new_client):
    browser = new_client(agent)
    url = f"/requests/{request_a.reference}"
    select_html = browser.get(url).text.split('name="status"')[1].split("</select>")[0]
    first_option = select_html.split("<option", 2)[1]
    assert 'value=""' in first_option and "Choose" in first_option
    assert "selected" not in select_html
    response = post_form(browser, url, f"{url}/status", {"status": "", "reason": ""})
    page = browser.get(response.headers["Location"])
    assert ("error", "Choose the status to move the request to.") in flashes(page.text)
    assert reload_request(request_a.reference).status == "received"
    assert not [e for e in audit_events("request.status_changed")
                if e.object_id == request_a.reference]


def test_the_page_offers_only_the_allowed_moves(request_a, agent, new_client):
    page = new_client(agent).get(f"/requests/{request_a.reference}")
    select_html = page.text.split('name="status"')[1].split("</select>")[0]
    offered = sorted(v for v in rules.STATUSES if f'value="{v}"' in select_html)
    assert offered == sorted(rules.REQUEST_STATES.targets("received"))


@pytest.mark.parametrize("status", ["rejected", "redirected_mlat", "needs_info", "narrowed"])
def test_moves_the_agency_must_understand_need_a_reason(status, request_a, agent):
    request_a.status = {"rejected": "received", "redirected_mlat": "legal_review",
                        "needs_info": "verifying", "narrowed": "legal_review"}[status]
    db.session.flush()
    with pytest.raises(InvalidInput) as refused:
        services.move_request(as_identity(agent), request_a, status, "   ")
    assert refused.value.message == "Say why: the agency will read it."


def test_a_rejection_reason_reaches_the_officer(request_a, agent, officer_a, new_client, mailbox):
    browser = new_client(agent)
    url = f"/requests/{request_a.reference}"
    response = post_form(browser, url, f"{url}/status",
                         {"status": "rejected", "reason": ""})
    page = browser.get(response.headers["Location"])
    assert ("error", "Say why: the agency will read it.") in flashes(page.text)
    assert reload_request(request_a.reference).status == "received"
    assert mailbox.messages == []

    reason = "The order names a made-up account that does not exist on the platform."
    response = post_form(browser, url, f"{url}/status", {"status": "rejected", "reason": reason})
    assert ("success", "Status changed.") in flashes(browser.get(response.headers["Location"]).text)
    stored = reload_request(request_a.reference)
    assert stored.status == "rejected" and stored.is_open is False
    assert stored.decision_reason == reason

    portal = new_client(officer_a).get(url.replace("/requests/", "/portal/requests/"))
    text = unescape(portal.text)
    assert "Rejected" in text and reason in text
    assert "Status: Rejected." in text
    # The officer is told there is an update, and nothing more.
    [message] = mailbox.to(officer_a.email)
    assert reason not in mailbox.body(message)
    assert request_a.reference in mailbox.body(message)


def test_needs_info_and_back(request_a, agent, officer_a):
    move(agent, request_a, "verifying", "needs_info", reason="Send the signed page 2, please.")
    messages = services.messages_for(request_a, include_internal=False)
    assert messages[-1].body == "Status: Needs information.\n\nSend the signed page 2, please."
    move(agent, request_a, "legal_review")
    assert request_a.status == "legal_review" and request_a.is_open


def test_narrowing_clears_an_earlier_preparation(request_a, agent, supervisor):
    in_legal_review(agent, request_a)
    decide_all(agent, request_a)
    move(agent, request_a, "narrowed", reason="Period narrowed to March only.")
    assert request_a.prepared_by_id is None and request_a.approved_by_id is None
    with pytest.raises(DomainError):
        services.approve_request(as_identity(supervisor), request_a)


# --- decisions and the two-person rule ------------------------------------------------------


def test_decisions_only_during_legal_review(request_a, agent):
    with pytest.raises(DomainError, match="Decisions are made during legal review."):
        decide_all(agent, request_a)


def test_withholding_needs_a_reason(request_a, agent):
    in_legal_review(agent, request_a)
    with pytest.raises(InvalidInput, match="Say why made_up_one is withheld."):
        decide_all(agent, request_a, "withhold", "")


def test_every_target_needs_a_decision(request_a, agent):
    in_legal_review(agent, request_a)
    first = request_a.targets[0]
    with pytest.raises(InvalidInput):
        services.decide_targets(as_identity(agent), request_a, {first.id: ("maybe", "")})


def test_approval_needs_every_target_decided(request_a, agent, supervisor):
    in_legal_review(agent, request_a)
    first = request_a.targets[0]
    services.decide_targets(as_identity(agent), request_a, {first.id: ("produce", "")})
    with pytest.raises(DomainError, match="Decide every target before approval."):
        services.approve_request(as_identity(supervisor), request_a)


def test_nothing_to_produce_cannot_be_approved(request_a, agent, supervisor):
    in_legal_review(agent, request_a)
    decide_all(agent, request_a, "withhold", "Made-up: no data held")
    with pytest.raises(DomainError, match="reject the request instead"):
        services.approve_request(as_identity(supervisor), request_a)


def test_an_agent_cannot_approve(request_a, agent, make_user):
    in_legal_review(agent, request_a)
    decide_all(make_user("supervisor"), request_a)
    with pytest.raises(PermissionDenied):
        services.approve_request(as_identity(agent), request_a)


def test_the_preparer_cannot_approve_through_the_page(request_a, supervisor, supervisor2,
                                                      new_client):
    """The user who saved decisions cannot approve; another supervisor can."""
    first = new_client(supervisor)
    url = f"/requests/{request_a.reference}"
    for status in ("verifying", "legal_review"):
        post_form(first, url, f"{url}/status", {"status": status})
    decisions = {f"decision_{t.id}": "produce" for t in request_a.targets}
    response = post_form(first, url, f"{url}/decisions", decisions)
    page = first.get(response.headers["Location"])
    assert ("success", "Decisions saved. Another supervisor must approve them.") in flashes(page.text)
    assert 'id="approve"' not in page.text  # not offered to the preparer
    stored = reload_request(request_a.reference)
    assert stored.prepared_by_id == supervisor.id

    response = post_form(first, url, f"{url}/approve")
    page = first.get(response.headers["Location"])
    assert ("error", "You prepared these decisions: another supervisor must approve them.") in \
        flashes(page.text)
    stored = reload_request(request_a.reference)
    assert stored.status == "legal_review" and stored.approved_by_id is None

    second = new_client(supervisor2)
    assert 'id="approve"' in second.get(url).text
    response = post_form(second, url, f"{url}/approve")
    assert ("success", "Approved.") in flashes(second.get(response.headers["Location"]).text)
    stored = reload_request(request_a.reference)
    assert stored.status == "approved" and stored.approved_by_id == supervisor2.id


def test_the_preparer_cannot_approve_in_the_service(request_a, supervisor):
    in_legal_review(supervisor, request_a)
    decide_all(supervisor, request_a)
    with pytest.raises(PermissionDenied):
        services.approve_request(as_identity(supervisor), request_a)
    assert request_a.status == "legal_review"


def test_re_preparing_after_approval_is_impossible(request_a, agent, supervisor):
    in_legal_review(agent, request_a)
    decide_all(agent, request_a)
    services.approve_request(as_identity(supervisor), request_a)
    with pytest.raises(DomainError):
        decide_all(supervisor, request_a, "withhold", "changed my mind")


def approved_and_collected(request, preparer, approver, collector):
    in_legal_review(preparer, request)
    decide_all(preparer, request)
    services.approve_request(as_identity(approver), request)
    move(collector, request, "collecting")
    collected_for(request)
    move(collector, request, "ready_for_review")
    return request


def test_the_collector_cannot_release_but_another_supervisor_can(
        request_a, agent, supervisor, supervisor2, new_client):
    approved_and_collected(request_a, agent, supervisor, supervisor2)
    url = f"/requests/{request_a.reference}"

    collector = new_client(supervisor2)
    page = collector.get(url)
    assert 'id="disclose"' not in page.text
    response = post_form(collector, url, f"{url}/disclose")
    page = collector.get(response.headers["Location"])
    assert ("error", "You prepared or collected this production: another supervisor must review "
            "and release it.") in flashes(page.text)
    assert reload_request(request_a.reference).status == "ready_for_review"
    assert db.session.scalars(select(Disclosure)).all() == []

    # The approver did not prepare or collect: the approver may release.
    releaser = new_client(supervisor)
    assert 'id="disclose"' in releaser.get(url).text
    response = post_form(releaser, url, f"{url}/disclose")
    assert ("success", RELEASED) in flashes(releaser.get(response.headers["Location"]).text)

    stored = reload_request(request_a.reference)
    assert stored.status == "disclosed" and stored.disclosed_by_id == supervisor.id
    [disclosure] = db.session.scalars(select(Disclosure)).all()
    assert disclosure.request_id == stored.id and disclosure.agency_id == stored.agency_id
    assert disclosure.approved_by_id == supervisor.id
    assert disclosure.disclosed_by_id == supervisor.id
    assert [s.identifier for s in disclosure.subjects] == ["made_up_one", "u-0002"]
    assert disclosure.data_categories == ["subscriber", "login_logout"]
    assert "2703(d)" in disclosure.legal_basis


def test_the_preparer_cannot_release(request_a, supervisor, supervisor2, supervisor3):
    approved_and_collected(request_a, supervisor, supervisor2, supervisor3)
    with pytest.raises(PermissionDenied):
        services.record_disclosure(as_identity(supervisor), request_a)
    with pytest.raises(PermissionDenied):
        services.record_disclosure(as_identity(supervisor3), request_a)
    disclosure = services.record_disclosure(as_identity(supervisor2), request_a, "ab" * 32)
    assert (disclosure.approved_by_id, disclosure.disclosed_by_id) == (supervisor2.id,
                                                                       supervisor2.id)
    assert disclosure.package_sha256 == "ab" * 32


def test_an_agent_cannot_release(request_a, agent, supervisor, supervisor2, make_user):
    approved_and_collected(request_a, supervisor, supervisor2, supervisor)
    with pytest.raises(PermissionDenied):
        services.record_disclosure(as_identity(make_user("agent")), request_a)


def test_only_withheld_targets_are_left_out_of_the_disclosure(request_a, agent, supervisor,
                                                              supervisor2):
    in_legal_review(agent, request_a)
    first, second = request_a.targets
    services.decide_targets(as_identity(agent), request_a,
                            {first.id: ("produce", ""), second.id: ("withhold", "Not ours")})
    services.approve_request(as_identity(supervisor), request_a)
    move(agent, request_a, "collecting", "ready_for_review")
    disclosure = services.record_disclosure(as_identity(supervisor2), request_a)
    assert [s.identifier for s in disclosure.subjects] == ["made_up_one"]


def test_release_only_from_ready_for_review(request_a, agent, supervisor):
    in_legal_review(agent, request_a)
    with pytest.raises(DomainError, match="ready for review"):
        services.record_disclosure(as_identity(supervisor), request_a)


def test_every_step_is_audited(request_a, agent, supervisor, supervisor2, officer_a):
    services.assign_request(as_identity(agent), request_a, agent.id)
    approved_and_collected(request_a, agent, supervisor, agent)
    services.post_message(as_identity(agent), request_a, "Internal: made-up note", internal=True)
    services.record_disclosure(as_identity(supervisor), request_a)
    move(supervisor2, request_a, "closed")
    assert actions_for(request_a.reference) == [
        "request.submitted", "request.assigned",
        "request.status_changed", "request.status_changed",  # verifying, legal_review
        "request.decisions_prepared", "request.approved",
        "request.status_changed", "request.status_changed",  # collecting, ready_for_review
        "request.message_posted", "request.disclosed", "request.status_changed",
    ]
    events = audit_events(object_id=request_a.reference)
    assert [e.actor_id for e in events] == [
        officer_a.id, agent.id, agent.id, agent.id, agent.id, supervisor.id, agent.id, agent.id,
        agent.id, supervisor.id, supervisor2.id]
    assert all(e.agency_id == request_a.agency_id for e in events)
    moves = [after(e)["status"] for e in events if e.action == "request.status_changed"]
    assert moves == ["verifying", "legal_review", "collecting", "ready_for_review", "closed"]
    [disclosed] = [e for e in events if e.action == "request.disclosed"]
    assert after(disclosed)["approved_by_id"] == supervisor.id
    assert after(disclosed)["targets"] == ["made_up_one", "u-0002"]


def test_a_refused_step_writes_nothing(request_a, supervisor, new_client):
    in_legal_review(supervisor, request_a)
    decide_all(supervisor, request_a)
    def writes():  # the page load that fetches the form records its view, not a write
        return [e for e in audit_events(object_id=request_a.reference) if e.action != "request.viewed"]

    count = len(writes())
    browser = new_client(supervisor)
    url = f"/requests/{request_a.reference}"
    post_form(browser, url, f"{url}/approve")
    assert len(writes()) == count
    assert "request.approved" not in actions_for(request_a.reference)


def test_approval_and_disclosure_tell_the_agency(request_a, agent, supervisor, supervisor2):
    approved_and_collected(request_a, agent, supervisor, agent)
    services.record_disclosure(as_identity(supervisor2), request_a)
    bodies = [m.body for m in services.messages_for(request_a, include_internal=False)]
    assert bodies == ["Status: Approved. We are collecting the data.",
                      "Status: Disclosed. The production is being packaged: you are told "
                      "here when it is ready to download."]


def test_compliance_reads_but_cannot_work(request_a, make_user, new_client):
    browser = new_client(make_user("compliance"))
    url = f"/requests/{request_a.reference}"
    page = browser.get(url)
    assert page.status_code == 200 and 'id="move"' not in page.text
    assert post_form(browser, url, f"{url}/status", {"status": "verifying"}).status_code == 403
    assert post_form(browser, url, f"{url}/approve").status_code == 403
    assert reload_request(request_a.reference).status == "received"


def test_staff_can_download_the_legal_process_and_it_is_audited(request_a, agent, new_client):
    browser = new_client(agent)
    [doc] = request_a.documents
    response = browser.get(f"/requests/{request_a.reference}/documents/{doc.id}")
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    assert response.headers["Content-Type"] == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    [event] = audit_events("request.document_viewed", request_a.reference)
    assert event.actor_id == agent.id and after(event)["sha256"] == doc.sha256
    assert browser.get(f"/requests/{request_a.reference}/documents/999999").status_code == 404


def test_a_document_of_another_request_is_not_served_under_this_one(request_a, officer_a, agent,
                                                                    new_client):
    other = submit(officer_a)
    [doc] = other.documents
    response = new_client(agent).get(f"/requests/{request_a.reference}/documents/{doc.id}")
    assert response.status_code == 404


# --- the staff queue ------------------------------------------------------------------------


def test_the_queue_orders_by_deadline_and_hides_closed(officer_a, agent, new_client, frozen):
    browser = new_client(agent)
    frozen(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    slow = submit(officer_a, request_type="court_order_2703d")   # 14 days
    frozen(datetime(2026, 3, 3, 12, 0, tzinfo=UTC))
    # A new preservation is due within the time to act (24 hours), not when its 90-day
    # hold ends: it no longer sorts behind 14-day work.
    fast = submit(officer_a, request_type="preservation")
    closed = submit(officer_a)
    move(agent, closed, "rejected", reason="Made-up reason")
    keep_signed_in(browser, datetime(2026, 3, 3, 12, 0, tzinfo=UTC))
    page = browser.get("/requests/").text
    assert page.index(fast.reference) < page.index(slow.reference)
    assert closed.reference not in page
    assert closed.reference in browser.get("/requests/?all=1").text


def test_officers_cannot_see_the_staff_queue(new_client, officer_a, request_a):
    browser = new_client(officer_a)
    assert browser.get("/requests/").status_code == 404
    assert browser.get(f"/requests/{request_a.reference}").status_code == 404


# --- user notice ----------------------------------------------------------------------------


def test_a_request_that_allows_notice_makes_a_task_on_the_queue(officer_a, agent, new_client):
    request = submit(officer_a, user_notice_allowed=True)
    task = db.session.scalar(select(UserNoticeTask).where(UserNoticeTask.request_id == request.id))
    assert task is not None and task.done_at is None
    page = unescape(new_client(agent).get("/requests/").text)
    assert "User notice due" in page and "The agency allows the user to be notified." in page
    notices = page.split("User notice due")[1].split("</section>")[0]
    assert f'href="/requests/{request.reference}"' in notices  # a link, not a row number


def test_no_task_without_permission_to_notify(officer_a):
    request = submit(officer_a)
    assert db.session.scalar(select(UserNoticeTask)
                             .where(UserNoticeTask.request_id == request.id)) is None


def test_an_indefinite_nondisclosure_order_makes_no_task(officer_a):
    request = submit(officer_a, user_notice_allowed=True, nondisclosure_order=True,
                     nondisclosure_until=None)
    assert db.session.scalar(select(UserNoticeTask)
                             .where(UserNoticeTask.request_id == request.id)) is None


def test_notice_falls_due_the_day_after_the_nondisclosure_order_ends(officer_a, agent, frozen,
                                                                    new_client):
    browser = new_client(agent)
    frozen(datetime(2026, 4, 1, 17, 0, tzinfo=UTC))
    request = submit(officer_a, nondisclosure_order=True, nondisclosure_until=date(2026, 6, 30))
    task = db.session.scalar(select(UserNoticeTask).where(UserNoticeTask.request_id == request.id))
    # The start of 1 July in the legal time zone (Los Angeles, PDT).
    assert task.due_at == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    assert task.reason == "The non-disclosure order is in force until the end of 30 Jun 2026."

    for moment, due in [(datetime(2026, 6, 30, 12, 0, tzinfo=UTC), False),
                        (datetime(2026, 7, 1, 6, 59, tzinfo=UTC), False),   # 23:59 on 30 June, LA
                        (datetime(2026, 7, 1, 7, 0, tzinfo=UTC), True),
                        (datetime(2026, 8, 1, 0, 0, tzinfo=UTC), True)]:
        frozen(moment)
        keep_signed_in(browser, moment)
        assert (task in services.user_notices_due()) is due, moment
        page = unescape(browser.get("/requests/").text)
        assert ("The non-disclosure order is in force until the end of 30 Jun 2026." in page) is due, moment


def test_giving_notice_takes_the_task_off_the_queue(officer_a, agent, new_client):
    request = submit(officer_a, user_notice_allowed=True)
    task = db.session.scalar(select(UserNoticeTask).where(UserNoticeTask.request_id == request.id))
    browser = new_client(agent)
    response = post_form(browser, "/requests/", f"/requests/notices/{task.id}/done")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(UserNoticeTask, task.id).done_by_id == agent.id
    assert "The agency allows the user to be notified." not in unescape(browser.get("/requests/").text)
    [event] = audit_events("request.user_notified")
    assert event.actor_id == agent.id
    # Filed under the request's reference, with the rest of its history.
    assert event.object_id == request.reference and event.agency_id == request.agency_id
    assert "request.user_notified" in actions_for(request.reference)
    with pytest.raises(DomainError):
        services.complete_user_notice(as_identity(agent), db.session.get(UserNoticeTask, task.id))


def test_an_eu_nondisclosure_end_counts_in_dublin(officer_a, irish_agency_a, frozen):
    frozen(datetime(2026, 9, 1, 17, 0, tzinfo=UTC))
    request = submit(officer_a, request_type="eu_epoc", addressed_to="eu",
                     nondisclosure_order=True, nondisclosure_until=date(2026, 9, 30))
    task = db.session.scalar(select(UserNoticeTask).where(UserNoticeTask.request_id == request.id))
    assert task.due_at == datetime(2026, 9, 30, 23, 0, tzinfo=UTC)  # 00:00 IST on 1 October


# --- messages on the staff side -------------------------------------------------------------


def test_internal_notes_stay_inside(request_a, agent, officer_a, mailbox):
    from referrals.core.transaction import commit

    services.post_message(as_identity(agent), request_a, "Made-up internal note", internal=True)
    commit()
    assert mailbox.messages == []
    [message] = db.session.scalars(select(RequestMessage)).all()
    assert message.internal is True and message.from_agency is False
    assert services.messages_for(request_a, include_internal=False) == []
