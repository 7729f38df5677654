"""What a queue page costs: its rows are plain values read in one statement, its two deadline
counts one more, and the page shows the same as when it loaded whole cases (issues 16/17)."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import render_template_string, url_for
from flask_login import login_user
from sqlalchemy import select

from referrals.accounts.models import User
from referrals.cases import queue as queues
from referrals.cases import rules, services
from referrals.cases.models import Case
from referrals.cases.queue import QueueFilters, QueueRow, case_queue
from referrals.core.clock import now
from referrals.core.identity import Identity
from referrals.extensions import db
from tests.cases.helpers import open_case
from tests.statements import recorded_statements


def _statements(client, url: str) -> list[str]:
    with recorded_statements() as seen:
        response = client.get(url)
    assert response.status_code == 200
    return seen


def test_the_rows_are_plain_values_and_no_case_is_loaded(make_user):
    agent = make_user("agent")
    taken = open_case(agent, title="taken")
    services.take_case(Identity.for_user(agent), taken)
    open_case(agent, title="nobody's")
    db.session.expunge_all()  # what the request has loaded, only

    page = case_queue(Identity.for_user(agent), QueueFilters(view="open"))

    assert [type(row) for row in page.cases] == [QueueRow, QueueRow]
    assert not [o for o in db.session.identity_map.values() if isinstance(o, Case)]
    by_title = {row.title: row for row in page.cases}
    assert by_title["taken"].assignee_name == agent.full_name
    assert by_title["nobody's"].assignee_name is None
    for row in page.cases:  # worked out once, as the template used to on every use
        assert row.deadline == queues.deadline_state(row)


def test_the_assignee_reads_as_the_display_name(make_user, client, sign_in):
    agent = make_user("agent")
    nameless = make_user("agent", full_name="")
    named = open_case(agent, title="named")
    services.take_case(Identity.for_user(agent), named)
    plain = open_case(nameless, title="plain")
    services.take_case(Identity.for_user(nameless), plain)
    open_case(agent, title="unassigned")
    sign_in(agent)

    html = client.get("/cases/?view=open").text

    assert f'<td class="col-assignee">{agent.display_name}</td>' in html
    assert f'<td class="col-assignee">{nameless.email}</td>' in html
    assert '<td class="col-assignee">—</td>' in html


def test_the_queue_page_reads_the_user_then_the_rows_with_their_counts(make_user, client,
                                                                       sign_in):
    agent = make_user("agent")
    for i in range(6):
        case = open_case(agent, priority=f"P{i % 4}", title=f"bulk {i}")
        if i % 2:
            services.take_case(Identity.for_user(agent), case)
    sign_in(agent)

    statements = _statements(client, "/cases/?view=open")

    assert len(statements) == 2, statements
    user, rows = statements
    assert "FROM users" in user and "FROM cases" in rows
    assert rows.count("count(*)") == 2  # overdue and due soon ride along: one round trip


def test_a_page_without_rows_still_counts_its_view(make_user, frozen):
    moment = frozen(now().replace(microsecond=0))
    agent = make_user("agent")
    for hours in (3, 4):
        open_case(agent, priority="P0", opened_at=moment - timedelta(hours=hours))  # overdue
    open_case(agent, priority="P0", opened_at=moment - timedelta(minutes=30))  # due soon
    identity, filters = Identity.for_user(agent), QueueFilters(view="open")
    everything = case_queue(identity, filters)
    assert everything.counts == {"overdue": 2, "due_soon": 1}

    past_the_end = case_queue(identity, filters, after=queues.encode_cursor(everything.cases[-1]))

    assert past_the_end.cases == [] and past_the_end.counts == everything.counts
    assert queues.deadline_counts(select(Case).where(Case.is_open.is_(True))) == everything.counts
    assert case_queue(identity, QueueFilters(view="closed")).counts == {"overdue": 0,
                                                                        "due_soon": 0}


def test_each_row_links_to_its_case_page(make_user, client, sign_in, app):
    agent = make_user("agent")
    cases = [open_case(agent, title=f"case {i}") for i in range(3)]
    sign_in(agent)

    html = client.get("/cases/?view=open").text

    with app.test_request_context():
        for case in cases:
            href = url_for("cases.detail", reference=case.reference)
            assert f'<a href="{href}"><strong>{case.reference}</strong></a>' in html
            assert client.get(href).status_code == 200


def _cells(html: str, column: str) -> list[str]:
    cells = re.findall(rf'<td class="col-{column}">(.*?)</td>', html, re.S)
    return [re.sub(r">\s+<", "><", re.sub(r"\s+", " ", cell)).strip() for cell in cells]


def test_the_written_out_cells_are_the_case_pages_macros(make_user, client, sign_in, frozen):
    """queue.html writes out cases/_macros.html's priority() and due() for speed: the same
    HTML for every kind of row (open, overdue, due soon, answered, no due date, closed)."""
    moment = frozen(now().replace(microsecond=0))
    agent = make_user("agent", time_zone="America/Chicago")
    actor = Identity.for_user(agent)
    open_case(agent, priority="P0", opened_at=moment - timedelta(hours=2))  # overdue
    open_case(agent, priority="P0", opened_at=moment - timedelta(minutes=30))  # due soon
    open_case(agent, priority="P3", opened_at=moment)  # fine
    answered = open_case(agent, priority="P1", opened_at=moment)
    services.add_note(actor, answered, "Answered; no due date.")
    dated = open_case(agent, priority="P2", opened_at=moment)
    services.add_note(actor, dated, "Answered.")
    services.set_due(actor, dated, moment + timedelta(days=2))
    closed = open_case(agent, priority="P2", opened_at=moment)
    services.change_status(actor, closed, "closed")
    sign_in(agent)

    pages = {view: client.get(f"/cases/?view={view}").text for view in ("open", "closed")}
    shown = {view: (_cells(html, "priority"), _cells(html, "deadline"))
             for view, html in pages.items()}
    macros = ('{% from "cases/_macros.html" import priority, due with context %}'
              '{% for case in rows %}<td class="col-priority">{{ priority(case) }}</td>'
              '<td class="col-deadline">{{ due(case, case.deadline) }}</td>{% endfor %}')
    with client.application.test_request_context():
        login_user(db.session.get(User, agent.id))
        for view in ("open", "closed"):
            rows = case_queue(actor, QueueFilters(view=view)).cases
            expected = render_template_string(macros, rows=rows, rules=rules)
            assert shown[view] == (_cells(expected, "priority"), _cells(expected, "deadline"))
    deadlines = " ".join(shown["open"][1] + shown["closed"][1])
    for text in ("Overdue ·", "Due soon ·", "no due date", "first response", "closed ", "CST"):
        assert text in deadlines


def test_each_kind_of_page_builds_its_statement_once(make_user, monkeypatch, frozen):
    """The values (user, filters, cursor, clock) are bound when the statement runs; its SQL
    is built once per kind of page."""
    moment = frozen(now().replace(microsecond=0))
    agent = make_user("agent")
    mine = open_case(agent, title="mine", opened_at=moment)
    services.take_case(Identity.for_user(agent), mine)
    open_case(agent, title="late", priority="P0", opened_at=moment - timedelta(hours=3))
    open_case(agent, title="other", category="violent_extremism", opened_at=moment)
    identity = Identity.for_user(agent)
    kinds = [dict(view="open"), dict(view="mine"), dict(view="open", category="other"),
             dict(view="open", q=mine.reference)]
    first = [case_queue(identity, QueueFilters(**kind)) for kind in kinds]

    def build_again(shape):
        raise AssertionError(f"built a statement again for {shape}")

    monkeypatch.setattr(queues, "_filtered", build_again)
    frozen(moment + timedelta(hours=1))  # a new moment is a value, not a new statement
    again = [case_queue(identity, QueueFilters(**kind)) for kind in kinds]
    assert [[row.reference for row in page.cases] for page in again] == [
        [row.reference for row in page.cases] for page in first]
    assert [row.title for row in again[1].cases] == ["mine"]
    assert [row.title for row in again[2].cases] == ["late", "mine"]  # category "other"
    assert [row.title for row in again[3].cases] == ["mine"]  # by reference
    assert [page.counts["overdue"] for page in again] == [1, 0, 1, 0]
