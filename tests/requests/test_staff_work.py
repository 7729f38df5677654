"""Issue 11, "staff can work and correct": the filtered queue with its assignee column and a
supervisor's assignment, messages internal unless previewed and sent, canned texts, and the
request page's links to the cases and holds that share an identifier."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from referrals.core.errors import PermissionDenied
from referrals.core.identity import Identity
from referrals.requests import canned, services
from referrals.requests.models import CannedText, RequestMessage
from referrals.extensions import db
from sqlalchemy import select
from tests.cases.helpers import add_target, open_case
from tests.conftest import csrf_from
from tests.requests.helpers import (audit_events, make_agency, move, reload_request, submit,
                                    unescape)


def _rows(page: str) -> list[str]:
    body = page.split('<table class="table queue request-queue">', 1)[1].split("</table>", 1)[0]
    return [row for row in body.split("<tr")[2:]]


def _references(page: str) -> list[str]:
    return [row.split('id="row-', 1)[1].split('"', 1)[0] for row in _rows(page)
            if 'id="row-' in row]


def test_the_queue_filters_by_type_status_agency_assignee_and_mine(officer_a, officer_b, agent,
                                                                   supervisor, new_client):
    warrant = submit(officer_a, request_type="search_warrant")
    order = submit(officer_a)
    other_agency = submit(officer_b)
    services.assign_request(Identity.for_user(agent), order, agent.id)  # taken by the agent
    move(agent, warrant, "verifying")
    browser = new_client(agent)

    def shown(**args) -> list[str]:
        query = "&".join(f"{k}={v}" for k, v in args.items())
        return sorted(_references(browser.get(f"/requests/?{query}").text))

    everything = sorted([warrant.reference, order.reference, other_agency.reference])
    assert shown() == everything
    assert shown(type="search_warrant") == [warrant.reference]
    assert shown(status="verifying") == [warrant.reference]
    assert shown(agency=officer_b.agency_id) == [other_agency.reference]
    assert shown(assignee="none") == sorted([warrant.reference, other_agency.reference])
    assert shown(assignee=agent.id) == [order.reference]
    assert shown(mine=1) == [order.reference]
    assert shown(type="not-a-type", assignee="x'--") == everything  # an edited link: no filter
    row = next(r for r in _rows(browser.get("/requests/").text) if order.reference in r)
    assert agent.display_name in row  # the assignee column


def test_a_supervisor_assigns_from_the_filtered_queue_and_it_is_audited(officer_a, agent,
                                                                        supervisor, new_client):
    request = submit(officer_a)
    browser = new_client(supervisor)
    page = browser.get("/requests/?assignee=none").text
    assert f'action="/requests/{request.reference}/assign"' in page
    response = browser.post(f"/requests/{request.reference}/assign",
                            data={"csrf_token": csrf_from(page), "assignee_id": agent.id,
                                  "back": "/requests/?assignee=none"})
    assert response.status_code == 302 and response.location.endswith("/requests/?assignee=none")
    assert reload_request(request.reference).assignee_id == agent.id
    [event] = audit_events("request.assigned", request.reference)
    assert event.actor_id == supervisor.id and f'"assignee_id":{agent.id}' in event.after
    # Somewhere else is never where it goes back to.
    page = browser.get("/requests/").text
    response = browser.post(f"/requests/{request.reference}/assign",
                            data={"csrf_token": csrf_from(page), "assignee_id": 0,
                                  "back": "https://elsewhere.example/"})
    assert response.location.endswith(f"/requests/{request.reference}")


def test_an_agent_takes_but_does_not_give_away(officer_a, agent, make_user, new_client):
    request = submit(officer_a)
    other = make_user("agent")
    with pytest.raises(PermissionDenied):
        services.assign_request(Identity.for_user(agent), request, other.id)
    services.assign_request(Identity.for_user(agent), request, agent.id)
    with pytest.raises(PermissionDenied):
        services.assign_request(Identity.for_user(other), request, other.id)  # taking it away
    browser = new_client(agent)
    page = browser.get("/requests/").text
    assert "/assign" not in page
    assert browser.post(f"/requests/{request.reference}/assign",
                        data={"csrf_token": csrf_from(page), "assignee_id": agent.id}
                        ).status_code == 403


def _messages(request) -> list[RequestMessage]:
    return list(db.session.scalars(select(RequestMessage).where(
        RequestMessage.request_id == request.id).order_by(RequestMessage.id)))


def test_a_message_is_internal_unless_previewed_and_sent(officer_a, agent, new_client, mailbox):
    request = submit(officer_a)
    browser = new_client(agent)
    url = f"/requests/{request.reference}"
    page = browser.get(url).text
    assert 'id="save-internal"' in page and 'id="preview-to-agency"' in page
    # A plain submit (no button named) is an internal note.
    browser.post(f"{url}/messages", data={"csrf_token": csrf_from(page),
                                          "body": "Made-up note: call the DA"})
    [note] = _messages(request)
    assert note.internal is True
    assert mailbox.to(officer_a.email) == []

    page = browser.get(url).text
    compose = page.split('id="compose"', 1)[1].split("</form>", 1)[0]
    assert 'name="action" type="hidden"' not in compose  # the buttons say which
    preview = browser.post(f"{url}/messages", data={
        "csrf_token": csrf_from(page), "action": "preview",
        "body": "Please send page 2 of the made-up order.\nThank you."})
    assert preview.status_code == 200
    text = unescape(preview.text)
    assert "exactly what the officers will read" in text
    assert "Please send page 2 of the made-up order.\nThank you." in text
    assert officer_a.display_name in text
    assert len(_messages(request)) == 1  # a preview sends nothing

    browser.post(f"{url}/messages/send", data={
        "csrf_token": csrf_from(preview.text),
        "body": "Please send page 2 of the made-up order.\nThank you."})
    sent = _messages(request)[-1]
    assert sent.internal is False and sent.body.startswith("Please send page 2")
    portal = new_client(officer_a).get(f"/portal/requests/{request.reference}").text
    assert "Please send page 2" in portal and "call the DA" not in portal


def test_the_service_default_is_internal_for_staff(officer_a, agent):
    request = submit(officer_a)
    message = services.post_message(Identity.for_user(agent), request, "Made-up aside")
    assert message.internal is True
    assert services.messages_for(request, include_internal=False) == []


def test_canned_texts_are_seeded_edited_by_supervisors_and_inserted(officer_a, agent,
                                                                    supervisor, new_client):
    titles = {t.key: t for t in db.session.scalars(select(CannedText))}
    assert {"needs_info", "rejected", "redirected_mlat"} <= set(titles)
    needs_info = titles["needs_info"]

    boss = new_client(supervisor)
    page = boss.get("/requests/canned-texts/").text
    response = boss.post(f"/requests/canned-texts/{needs_info.id}", data={
        "csrf_token": csrf_from(page), f"t{needs_info.id}-title": "Needs information",
        f"t{needs_info.id}-body": "Made-up: please send the signed order."})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(CannedText, needs_info.id).body == "Made-up: please send the signed order."
    assert audit_events("canned_text.changed", needs_info.id)

    worker = new_client(agent)
    page = worker.get("/requests/canned-texts/").text
    assert 'id="save-needs_info"' not in page and "please send the signed order" in page
    assert worker.post(f"/requests/canned-texts/{needs_info.id}",
                       data={"csrf_token": csrf_from(page)}).status_code == 403
    with pytest.raises(PermissionDenied):
        canned.create_canned_text(Identity.for_user(agent), "Made-up", "Made-up text")

    request = submit(officer_a)
    page = unescape(worker.get(f"/requests/{request.reference}?canned={needs_info.id}").text)
    compose = page.split('id="compose"', 1)[1].split("</form>", 1)[0]
    assert "Made-up: please send the signed order." in compose
    assert worker.get(f"/requests/{request.reference}?canned=999999").status_code == 404


def test_the_request_page_links_cases_and_holds_sharing_an_identifier(officer_a, agent,
                                                                      new_client):
    request = submit(officer_a, targets=[{"kind": "username", "value": "@Made_Up_Shared"}])
    case = open_case(agent, title="Synthetic case about the same account")
    add_target(agent, case, ("username", "made_up_shared"))
    unrelated = open_case(agent, title="Synthetic unrelated case")
    add_target(agent, unrelated, ("username", "someone_else"))
    page = new_client(agent).get(f"/requests/{request.reference}").text
    linked = page.split('id="linked"', 1)[1].split("</section>", 1)[0]
    assert case.reference in linked and unrelated.reference not in linked
