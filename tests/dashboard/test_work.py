"""Issue 11: the staff home is the work page, and the case queue opens where the work is."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from referrals.cases import services
from referrals.cases.models import Case
from referrals.core.errors import InvalidInput
from referrals.core.clock import now
from referrals.core.identity import Identity
from referrals.dashboard.work import urgent_work
from referrals.demo.cases import seed_sample_cases
from referrals.extensions import db
from tests.cases.helpers import open_case
from tests.requests.fixtures import override_settings  # noqa: F401 (a fixture)


def test_an_unassigned_p0_is_an_open_emergency_with_its_countdown(make_user, client, sign_in):
    agent = make_user("agent")
    p0 = open_case(agent, title="Synthetic threat to life", category="imminent_harm", priority="P0")
    open_case(agent, title="Synthetic standard", priority="P2")

    work = urgent_work(Identity.for_user(agent))
    assert [item.reference for item in work.emergencies] == [p0.reference]
    assert [item.reference for item in work.unassigned_urgent] == [p0.reference]
    assert 0 < work.emergencies[0].seconds_left(now()) <= 3600

    sign_in(agent)
    page = client.get("/dashboard").text
    assert f'href="/cases/{p0.reference}"' in page
    assert "Synthetic threat to life" in page
    assert "work.js" in page and 'data-work-url="/dashboard/work.json"' in page
    assert "<script>" not in page  # CSP: no inline script


def test_work_json_answers_the_same_part_with_the_emergency_keys(make_user, client, sign_in):
    agent = make_user("agent")
    sign_in(agent)
    before = client.get("/dashboard/work.json")
    assert before.status_code == 200
    assert before.headers["Cache-Control"] == "no-store"
    assert before.json["emergencies"] == []
    p0 = open_case(agent, title="Synthetic arrival", category="imminent_harm", priority="P0")
    after = client.get("/dashboard/work.json").json
    assert [item["key"] for item in after["emergencies"]] == [f"case:{p0.reference}"]
    assert f'data-emergency-keys="case:{p0.reference}"' in after["html"]
    assert after["counts"]["cases"] == {"overdue": 0, "due_soon": 1}


def test_mine_and_overdue_counts(make_user, frozen):
    agent = make_user("agent")
    actor = Identity.for_user(agent)
    start = frozen(now().replace(microsecond=0))
    mine = open_case(agent, title="Synthetic mine", priority="P3")
    services.take_case(actor, mine)
    open_case(agent, title="Synthetic P1 nobody took", priority="P1")
    frozen(start + timedelta(hours=25))
    work = urgent_work(actor)
    assert [item.reference for item in work.mine] == [mine.reference]
    assert work.counts["cases"]["overdue"] == 1  # the P1: 24 h first-response target passed
    assert [item.label for item in work.unassigned_urgent] == ["P1"]


def test_a_zero_count_is_not_in_alarm_colours(make_user, client, sign_in):
    sign_in(make_user("agent"))
    html = client.get("/dashboard/work.json").json["html"]
    assert "0 overdue" in html
    assert 'class="due-overdue">0 overdue' not in html
    queue = client.get("/cases/?view=open").text
    assert 'due due-overdue">0' not in queue and 'due due-soon">0' not in queue


def test_admin_home_has_no_case_or_request_work(make_user, client, sign_in):
    sign_in(make_user("admin"))
    body = client.get("/dashboard/work.json").json
    assert body["counts"] == {} and body["mine"] == [] and body["emergencies"] == []


def test_the_queue_opens_on_the_tab_with_urgent_work(make_user, client, sign_in):
    agent = make_user("agent")
    sign_in(agent)
    assert 'aria-current="page">All open' in client.get("/cases/").text.replace("\n", "")
    mine = open_case(agent, title="Synthetic mine", priority="P3")
    services.take_case(Identity.for_user(agent), mine)
    assert 'aria-current="page">Mine' in client.get("/cases/").text.replace("\n", "")
    waiting = open_case(agent, title="Synthetic P0 waiting", category="imminent_harm", priority="P0")
    page = client.get("/cases/").text
    assert 'aria-current="page">Unassigned' in page.replace("\n", "")
    assert f">{waiting.reference}<" in page


# --- on-call banner ---------------------------------------------------------------------


def test_supervisors_and_admins_are_told_when_nobody_is_on_call(make_user, client, sign_in,
                                                                override_settings):
    override_settings(oncall_emails=(), oncall_webhook_url=None)
    sign_in(make_user("supervisor"))
    for path in ("/dashboard", "/cases/", "/requests/"):
        assert 'id="oncall-banner"' in client.get(path).text, path
    override_settings(oncall_emails=("oncall@made-up-platform.example",))
    assert 'id="oncall-banner"' not in client.get("/dashboard").text
    override_settings(oncall_emails=(), oncall_webhook_url="https://hooks.made-up.example/oncall")
    assert 'id="oncall-banner"' not in client.get("/dashboard").text


def test_agents_do_not_get_the_on_call_banner(make_user, client, sign_in, override_settings):
    override_settings(oncall_emails=(), oncall_webhook_url=None)
    sign_in(make_user("agent"))
    assert 'id="oncall-banner"' not in client.get("/dashboard").text


# --- deadlines that tell the truth ----------------------------------------------------------


def test_an_automatic_step_does_not_answer_the_first_response_clock(make_user, frozen):
    agent = make_user("agent")
    start = frozen(now().replace(microsecond=0))
    case = open_case(agent, title="Synthetic P0", category="imminent_harm", priority="P0")
    integration = replace(Identity.for_user(agent), scopes=frozenset({"evidence:write"}))
    services.note_response(case, integration, start)
    assert case.first_response_at is None
    frozen(start + timedelta(hours=2))
    item = urgent_work(Identity.for_user(agent)).emergencies[0]
    assert item.reference == case.reference and item.seconds_left(now()) == -3600
    services.add_note(Identity.for_user(agent), case, "A person looked.")
    assert case.first_response_at == now()


def test_the_demo_p0_is_unanswered_and_shows_its_overdue_time(app, make_user):
    agent = make_user("agent")
    for case in db.session.scalars(select(Case)):
        db.session.delete(case)
    db.session.flush()
    seed_sample_cases(agent.id)
    p0 = db.session.scalar(select(Case).where(Case.priority == "P0"))
    assert p0.first_response_at is None
    assert p0.queue_due_at == p0.response_due_at


def test_a_due_date_in_the_past_is_refused(make_user, client, sign_in):
    agent = make_user("agent")
    case = open_case(agent, title="Synthetic")
    with pytest.raises(InvalidInput, match="already passed"):
        services.set_due(Identity.for_user(agent), case, now() - timedelta(minutes=5))
    assert case.due_at is None


def test_the_case_page_shows_an_unanswered_p0_overdue(make_user, client, sign_in, frozen):
    agent = make_user("agent")
    start = frozen(now().replace(microsecond=0))
    case = open_case(agent, title="Synthetic P0", category="imminent_harm", priority="P0")
    frozen(start + timedelta(hours=2, minutes=5))
    sign_in(agent)
    page = client.get(f"/cases/{case.reference}").text
    assert "not answered: overdue by 1 h 5 min" in page
