"""The staff pages for cases: opening, moving, taking, assigning, notes, who may do what."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from referrals.cases import rules, services
from referrals.cases.models import Identifier, Subject
from referrals.core.clock import now
from referrals.core.errors import DomainError, InvalidInput, PermissionDenied
from referrals.core.identity import Identity
from referrals.extensions import db
from tests.cases.helpers import (add_target, audit_after, audit_events, count_cases, open_case,
                                 post_form, reload_case, timeline)
from tests.conftest import csrf_from

REFERENCE = re.compile(r"^CASE-\d{4}-\d{6}$")


def _case_url(case_or_ref) -> str:
    reference = getattr(case_or_ref, "reference", case_or_ref)
    return f"/cases/{reference}"


def _act(client, case, action, data=None):
    """Post one of the case page's forms, as the page would."""
    return post_form(client, _case_url(case), f"{_case_url(case)}/{action}", data)


# --- opening a case by hand -------------------------------------------------------------


@pytest.mark.parametrize("priority, target", [
    ("P0", timedelta(hours=1)), ("P1", timedelta(hours=24)),
    ("P2", timedelta(days=3)), ("P3", timedelta(days=10)),
])
def test_opening_a_case_sets_the_first_response_target(client, as_role, frozen, priority, target):
    moment = frozen(now().replace(microsecond=0))
    agent = as_role("agent")
    assert rules.PRIORITIES[priority][1] == target  # the table the lawyers read

    response = post_form(client, "/cases/new", "/cases/new", {
        "title": "Made-up threat in a comment", "category": "imminent_harm",
        "priority": priority, "summary": "Synthetic."})

    assert response.status_code == 302, response.text
    reference = response.headers["Location"].rsplit("/", 1)[-1]
    assert REFERENCE.match(reference)
    case = reload_case(reference)
    assert case.created_at == moment
    assert case.response_due_at == moment + target
    assert case.queue_due_at == case.response_due_at
    assert (case.priority, case.status, case.source, case.created_by_id) == (
        priority, "new", "staff", agent.id)
    assert [e.kind for e in timeline(case)] == ["opened"]
    [event] = audit_events("case.opened", reference)
    assert audit_after(event)["priority"] == priority
    page = client.get(_case_url(reference))
    assert page.status_code == 200 and reference in page.text


def test_case_numbers_count_up_within_the_year(make_user):
    agent = make_user("agent")
    first, second = open_case(agent), open_case(agent)
    assert REFERENCE.match(first.reference) and REFERENCE.match(second.reference)
    assert int(second.reference[-6:]) == int(first.reference[-6:]) + 1
    assert first.reference[5:9] == str(now().year)


@pytest.mark.parametrize("fields, error", [
    ({"title": "", "category": "other", "priority": "P2"}, "This field is required"),
    ({"title": "x", "category": "littering", "priority": "P2"}, "Not a valid choice"),
    ({"title": "x", "category": "other", "priority": "P7"}, "Not a valid choice"),
])
def test_an_invalid_new_case_is_refused(client, as_role, fields, error):
    as_role("agent")
    response = post_form(client, "/cases/new", "/cases/new", fields)
    assert response.status_code == 422
    assert error in response.text
    assert count_cases() == 0


def test_the_service_refuses_a_case_without_a_title(make_user):
    with pytest.raises(InvalidInput) as caught:
        open_case(make_user("agent"), title="   ")
    assert caught.value.field == "title"
    assert count_cases() == 0


# --- status -----------------------------------------------------------------------------


def test_an_allowed_status_change_is_made_and_recorded(client, as_role):
    agent = as_role("agent")
    case = open_case(agent)
    response = _act(client, case, "status", {"status": "investigating", "note": "Looks real."})
    assert response.status_code == 302
    case = reload_case(case.reference)
    assert case.status == "investigating" and case.first_response_at is not None
    assert any(e.kind == "status" and "New → Investigating. Looks real." in e.body
               for e in timeline(case))
    [event] = audit_events("case.status_changed", case.reference)
    assert '"status":"new"' in event.before and '"status":"investigating"' in event.after
    assert "Status is now Investigating" in client.get(_case_url(case)).text


def test_a_forbidden_status_change_is_refused_and_changes_nothing(client, as_role):
    agent = as_role("agent")
    case = open_case(agent)
    events_before = len(timeline(case))

    response = _act(client, case, "status", {"status": "referred"})

    assert response.status_code == 302
    case = reload_case(case.reference)
    assert case.status == "new" and case.first_response_at is None
    assert len(timeline(case)) == events_before
    assert audit_events("case.status_changed", case.reference) == []
    page = client.get(_case_url(case)).text
    assert "A case that is new cannot move to referred. It can move to: Triage, Investigating, Closed." in page


def test_an_unknown_status_is_refused(client, as_role):
    case = open_case(as_role("agent"))
    _act(client, case, "status", {"status": "teleported"})
    assert reload_case(case.reference).status == "new"
    assert "Not a valid choice" in client.get(_case_url(case)).text


def test_status_form_preselects_nothing_and_refuses_an_empty_choice(client, as_role):
    case = open_case(as_role("agent"))
    page = client.get(_case_url(case)).text
    select = page[page.index('name="status"'):]
    select = select[:select.index("</select>")]
    assert '<option value="">Choose…</option>' in select.replace(" selected", "")
    assert "selected" not in select.replace('<option selected value="">', "")
    _act(client, case, "status", {"status": ""})
    assert reload_case(case.reference).status == "new"
    assert "Choose the status to move the case to." in client.get(_case_url(case)).text


ALL_PAIRS = [(a, b) for a in rules.STATUSES for b in rules.STATUSES if a != b]


@pytest.mark.parametrize("start, goal", ALL_PAIRS, ids=[f"{a}-{b}" for a, b in ALL_PAIRS])
def test_the_transition_table_is_enforced(make_user, monkeypatch, start, goal):
    # The table alone: the conditions features add (a sent referral) have tests of their own.
    monkeypatch.setattr(services, "status_conditions", {})
    agent = make_user("agent")
    case = open_case(agent)
    case.status, case.is_open = start, start != "closed"
    db.session.flush()
    actor = Identity.for_user(agent)
    if goal in rules.CASE_STATES.targets(start):
        services.change_status(actor, case, goal)
        assert case.status == goal and case.is_open == (goal != "closed")
        assert (case.closed_at is not None) == (goal == "closed")
        if goal == "closed":
            assert case.queue_due_at == services.NO_DEADLINE
    else:
        with pytest.raises(DomainError) as caught:
            services.change_status(actor, case, goal)
        assert "cannot move to" in caught.value.message
        assert case.status == start


def test_reopening_a_closed_case(make_user):
    agent = make_user("agent")
    actor = Identity.for_user(agent)
    case = open_case(agent)
    services.change_status(actor, case, "closed")
    services.change_status(actor, case, "investigating")
    assert case.is_open and case.closed_at is None
    # Answered before closing, so the queue now follows the (unset) due date.
    assert case.queue_due_at == services.NO_DEADLINE
    services.set_due(actor, case, now() + timedelta(days=2))
    assert case.queue_due_at == case.due_at


# --- taking and assigning ---------------------------------------------------------------


def test_an_agent_takes_an_unassigned_case(client, as_role):
    agent = as_role("agent")
    case = open_case(agent)
    assert 'id="take-case"' in client.get(_case_url(case)).text

    assert _act(client, case, "take").status_code == 302

    case = reload_case(case.reference)
    assert case.assignee_id == agent.id and case.status == "triage"
    assert case.first_response_at is not None
    assert any(e.kind == "assigned" and "took the case" in e.body for e in timeline(case))
    assert audit_events("case.taken", case.reference)
    page = client.get(_case_url(case)).text
    assert 'id="take-case"' not in page


def test_a_case_somebody_has_cannot_be_taken(client, as_role, make_user):
    holder = make_user("agent")
    case = open_case(holder)
    services.take_case(Identity.for_user(holder), case)
    as_role("agent")

    response = _act(client, case, "take")

    assert response.status_code == 302
    assert reload_case(case.reference).assignee_id == holder.id
    assert "Someone already has this case" in client.get(_case_url(case)).text


def test_an_agent_cannot_assign(client, as_role, make_user):
    as_role("agent")
    colleague = make_user("agent")
    case = open_case(colleague)
    page = client.get(_case_url(case))
    assert 'id="assign"' not in page.text
    response = client.post(f"{_case_url(case)}/assign",
                           data={"assignee_id": colleague.id, "csrf_token": csrf_from(page.text)})
    assert response.status_code == 403
    assert reload_case(case.reference).assignee_id is None
    with pytest.raises(PermissionDenied):
        services.assign_case(Identity.for_user(colleague), case, colleague.id)


def test_a_supervisor_assigns_and_reassigns(client, as_role, make_user):
    as_role("supervisor")
    first, second = make_user("agent"), make_user("agent")
    case = open_case(first)

    _act(client, case, "assign", {"assignee_id": first.id})
    assert reload_case(case.reference).assignee_id == first.id
    _act(client, case, "assign", {"assignee_id": second.id})
    assert reload_case(case.reference).assignee_id == second.id
    _act(client, case, "assign", {"assignee_id": 0})
    case = reload_case(case.reference)
    assert case.assignee_id is None

    bodies = [e.body for e in timeline(case) if e.kind == "assigned"]
    assert bodies == [f"Assigned to {first.display_name}.", f"Assigned to {second.display_name}.",
                      "Unassigned."]
    assert len(audit_events("case.assigned", case.reference)) == 3


def test_cases_are_assigned_only_to_agents_and_supervisors(client, as_role, make_user):
    supervisor = as_role("supervisor")
    reviewer, admin = make_user("compliance"), make_user("admin")
    disabled = make_user("agent")
    disabled.active = False
    db.session.flush()
    case = open_case(supervisor)
    for user in (reviewer, admin, disabled):
        _act(client, case, "assign", {"assignee_id": user.id})
        assert reload_case(case.reference).assignee_id is None
        with pytest.raises(InvalidInput):
            services.assign_case(Identity.for_user(supervisor), case, user.id)
    with pytest.raises(InvalidInput):
        services.assign_case(Identity.for_user(supervisor), case, 987654)


# --- notes ------------------------------------------------------------------------------


def test_a_note_goes_on_the_timeline_and_is_audited(client, as_role):
    agent = as_role("agent")
    case = open_case(agent)
    note = "Called the made-up platform contact <script>alert(1)</script>; no answer."

    assert _act(client, case, "notes", {"body": note}).status_code == 302

    [event] = [e for e in timeline(reload_case(case.reference)) if e.kind == "note"]
    assert event.body == note and event.actor_id == agent.id
    [audited] = audit_events("case.note_added", case.reference)
    assert audit_after(audited) == {"case_event_id": event.id, "length": len(note)}
    page = client.get(_case_url(case)).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


def test_an_empty_note_is_refused(client, as_role):
    case = open_case(as_role("agent"))
    _act(client, case, "notes", {"body": "   "})
    assert [e for e in timeline(case) if e.kind == "note"] == []
    assert audit_events("case.note_added") == []


def test_a_form_without_its_csrf_token_changes_nothing(client, as_role):
    case = open_case(as_role("agent"))
    response = client.post(f"{_case_url(case)}/notes", data={"body": "forged"})
    assert response.status_code in (302, 400)
    assert [e for e in timeline(case) if e.kind == "note"] == []


# --- identifiers and "Also in" ----------------------------------------------------------


def test_the_same_identifier_in_two_cases_links_them(client, as_role):
    agent = as_role("agent")
    first, second = open_case(agent, title="First"), open_case(agent, title="Second")
    add_target(agent, first, ("phone", "+1 202 555 0143"))
    add_target(agent, second, ("phone", "(202) 555-0143"))
    lonely = open_case(agent, title="Unrelated")
    add_target(agent, lonely, ("phone", "+44 20 7946 0958"))

    page = client.get(_case_url(first)).text
    assert "Also in" in page and second.reference in page
    assert f'href="/cases/{second.reference}"' in page
    assert first.reference in client.get(_case_url(second)).text.split("Also in", 1)[1]
    assert "Also in" not in client.get(_case_url(lonely)).text


def test_identifiers_added_on_the_page_are_normalised(client, as_role):
    agent = as_role("agent")
    case = open_case(agent)
    _act(client, case, "subjects", {"label": "made_up_account", "role": "suspect"})
    [subject] = db.session.scalars(select(Subject).where(Subject.case_id == case.id))
    assert subject.role == "suspect"
    url = f"{_case_url(case)}/subjects/{subject.id}/identifiers"

    post_form(client, _case_url(case), url, {"kind": "phone", "value": "(202) 555-0143"})
    assert "Identifier added as +12025550143." in client.get(_case_url(case)).text
    post_form(client, _case_url(case), url, {"kind": "phone", "value": "12"})
    assert "“12” is not a possible phone number." in client.get(_case_url(case)).text
    post_form(client, _case_url(case), url, {"kind": "email", "value": "A.Person@EXAMPLE.org",
                                            "port": "80"})
    assert "Only IP addresses take a time and a port." in client.get(_case_url(case)).text

    stored = list(db.session.scalars(select(Identifier).where(Identifier.case_id == case.id)))
    assert [(i.kind, i.value, i.normalized) for i in stored] == [
        ("phone", "(202) 555-0143", "+12025550143")]


def test_an_identifier_cannot_be_added_to_another_cases_subject(client, as_role):
    agent = as_role("agent")
    mine, other = open_case(agent), open_case(agent)
    subject = add_target(agent, other, ("platform_user_id", "u-1"))
    post_form(client, _case_url(mine), f"{_case_url(mine)}/subjects/{subject.id}/identifiers",
              {"kind": "platform_user_id", "value": "u-2"})
    assert db.session.scalar(select(Identifier).where(Identifier.normalized == "u-2")) is None


def test_a_due_date_is_read_in_the_viewers_zone(client, make_user, sign_in):
    agent = make_user("agent", time_zone="America/New_York")
    sign_in(agent)
    case = open_case(agent)
    _act(client, case, "due", {"due_at": "2031-03-01T09:30"})
    case = reload_case(case.reference)
    assert case.due_at.isoformat() == "2031-03-01T14:30:00+00:00"  # EST is UTC-5


# --- who may see and do what ------------------------------------------------------------

POSTS = ["take", "assign", "status", "notes", "due", "subjects", "evidence"]


def test_compliance_reads_but_changes_nothing(client, as_role, make_user):
    as_role("compliance")
    agent = make_user("agent")
    case = open_case(agent)
    subject = add_target(agent, case, ("platform_user_id", "u-77"))
    assert client.get("/cases/").status_code == 200
    page = client.get(_case_url(case))
    assert page.status_code == 200
    for control in ('id="take-case"', 'id="assign"', 'id="change-status"', 'id="add-note"',
                    'id="upload"', 'id="add-subject"'):
        assert control not in page.text
    token = csrf_from(page.text)
    data = {"csrf_token": token, "status": "triage", "body": "x", "assignee_id": agent.id,
            "label": "x", "role": "account"}
    for action in POSTS + [f"subjects/{subject.id}/identifiers"]:
        assert client.post(f"{_case_url(case)}/{action}", data=data).status_code == 403, action
    assert client.get("/cases/new").status_code == 403
    case = reload_case(case.reference)
    assert (case.status, case.assignee_id) == ("new", None)
    assert [e.kind for e in timeline(case)] == ["opened"]


def test_admins_do_not_see_case_content(client, as_role, make_user):
    as_role("admin")
    case = open_case(make_user("agent"))
    assert client.get("/cases/").status_code == 403
    assert client.get(_case_url(case)).status_code == 403
    assert client.get("/cases/new").status_code == 403


def test_agency_officers_get_404(client, as_role, make_user):
    as_role("officer")
    case = open_case(make_user("agent"))
    for url in ("/cases/", _case_url(case), "/cases/new", f"{_case_url(case)}/evidence/1"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"{_case_url(case)}/take").status_code in (400, 404)


def test_an_unknown_case_is_404(client, as_role):
    as_role("agent")
    response = client.get("/cases/CASE-1999-999999")
    assert response.status_code == 404
    assert "There is no case CASE-1999-999999." in response.text


def test_a_lower_case_reference_finds_the_case(client, as_role):
    case = open_case(as_role("agent"))
    assert client.get(f"/cases/{case.reference.lower()}").status_code == 200


def test_a_due_date_in_the_past_is_refused_with_a_plain_message(client, make_user, sign_in):
    agent = make_user("agent")
    sign_in(agent)
    case = open_case(agent)
    response = _act(client, case, "due", {"due_at": "2020-03-01T09:30"})
    assert response.status_code in (200, 302)
    page = client.get(_case_url(case)).text
    assert "That time has already passed" in page
    assert reload_case(case.reference).due_at is None
