"""The case queues: views, order, deadline counts, search, keyset pages, query budget."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest

from referrals.cases import queue as queues
from referrals.cases import services
from referrals.cases.queue import QueueFilters, case_queue
from referrals.core.clock import now
from referrals.core.errors import InvalidInput
from referrals.core.identity import Identity
from referrals.extensions import db
from tests.cases.helpers import add_target, open_case
from tests.statements import recorded_statements


@pytest.fixture
def moment(frozen):
    return frozen(now().replace(microsecond=0))


def _refs(page) -> list[str]:
    return [case.reference for case in page.cases]


def _queue(user, view="open", **kwargs):
    filters = QueueFilters(view=view, q=kwargs.pop("q", ""),
                           category=kwargs.pop("category", ""), status=kwargs.pop("status", ""))
    return case_queue(Identity.for_user(user), filters, **kwargs)


def _sort_key(case):
    return (case.priority_rank, case.queue_due_at, case.id)


# --- views ------------------------------------------------------------------------------


def test_each_view_shows_its_cases(make_user, client, sign_in, moment):
    me, colleague = make_user("agent"), make_user("agent")
    mine = open_case(me, title="mine")
    services.take_case(Identity.for_user(me), mine)
    theirs = open_case(colleague, title="theirs")
    services.take_case(Identity.for_user(colleague), theirs)
    nobodys = open_case(me, title="nobody's")
    closed = open_case(me, title="closed")
    services.take_case(Identity.for_user(me), closed)
    services.change_status(Identity.for_user(me), closed, "closed")

    expected = {
        "mine": {mine.reference},
        "unassigned": {nobodys.reference},
        "open": {mine.reference, theirs.reference, nobodys.reference},
        "closed": {closed.reference},
    }
    for view, references in expected.items():
        assert set(_refs(_queue(me, view))) == references, view

    sign_in(me)
    everything = {c.reference for c in (mine, theirs, nobodys, closed)}
    for view, references in expected.items():
        page = client.get(f"/cases/?view={view}")
        assert page.status_code == 200
        shown = {ref for ref in everything if f">{ref}<" in page.text}
        assert shown == references, view
    # Workers land on their own queue; an unknown view falls back to all open.
    assert {r for r in everything if f">{r}<" in client.get("/cases/").text} == expected["mine"]
    assert {r for r in everything if f">{r}<" in client.get("/cases/?view=bogus").text} == expected["open"]


def test_compliance_lands_on_all_open(make_user, client, sign_in):
    agent = make_user("agent")
    case = open_case(agent)
    sign_in(make_user("compliance"))
    page = client.get("/cases/")
    assert page.status_code == 200 and case.reference in page.text
    assert 'id="open-case"' not in page.text


def test_category_and_status_filters(make_user):
    agent = make_user("agent")
    harm = open_case(agent, category="imminent_harm", priority="P0")
    other = open_case(agent, category="other")
    services.change_status(Identity.for_user(agent), other, "investigating")
    assert _refs(_queue(agent, category="imminent_harm")) == [harm.reference]
    assert _refs(_queue(agent, status="investigating")) == [other.reference]
    assert _refs(_queue(agent, category="imminent_harm", status="investigating")) == []


# --- order and deadlines ----------------------------------------------------------------


def test_p0_first_then_the_next_deadline(make_user, moment):
    agent = make_user("agent")
    made = {
        "p2_soon": open_case(agent, priority="P2", opened_at=moment - timedelta(days=3, hours=-1)),
        "p0_late": open_case(agent, priority="P0", opened_at=moment),
        "p1": open_case(agent, priority="P1", opened_at=moment - timedelta(hours=1)),
        "p0_early": open_case(agent, priority="P0", opened_at=moment - timedelta(minutes=30)),
        "p3": open_case(agent, priority="P3", opened_at=moment),
        "p0_overdue": open_case(agent, priority="P0", opened_at=moment - timedelta(hours=5)),
    }
    order = [made[k].reference for k in ("p0_overdue", "p0_early", "p0_late", "p1", "p2_soon", "p3")]
    assert _refs(_queue(agent)) == order


def test_deadline_counts_with_a_frozen_clock(make_user, client, sign_in, moment, frozen):
    agent = make_user("agent")
    actor = Identity.for_user(agent)
    overdue = [open_case(agent, priority="P0", opened_at=moment - timedelta(hours=2)),
               open_case(agent, priority="P1", opened_at=moment - timedelta(days=2))]
    soon = [open_case(agent, priority="P0", opened_at=moment - timedelta(minutes=30)),
            open_case(agent, priority="P1", opened_at=moment - timedelta(hours=22, minutes=30))]
    fine = [open_case(agent, priority="P1", opened_at=moment),
            open_case(agent, priority="P0", opened_at=moment + timedelta(hours=1))]  # due in 2 h: not "soon"
    # Closed and overdue: not counted. Answered with a due date an hour ago: overdue.
    closed = open_case(agent, priority="P0", opened_at=moment - timedelta(hours=3))
    services.change_status(actor, closed, "closed")
    answered = open_case(agent, priority="P3", opened_at=moment - timedelta(days=1))
    services.add_note(actor, answered, "First look done.")
    frozen(moment - timedelta(hours=2))  # set while it was still ahead; a past one is refused
    services.set_due(actor, answered, moment - timedelta(hours=1))
    frozen(moment)
    answered_later = open_case(agent, priority="P0", opened_at=moment - timedelta(hours=4))
    services.add_note(actor, answered_later, "Answered; no due date.")

    page = _queue(agent)
    assert page.counts == {"overdue": 3, "due_soon": 2}
    states = {c.reference: queues.deadline_state(c) for c in page.cases}
    for case in overdue + [answered]:
        assert states[case.reference] == "overdue"
    for case in soon:
        assert states[case.reference] == "soon"
    for case in fine + [answered_later]:
        assert states[case.reference] == ""
    assert _queue(agent, "closed").counts == {"overdue": 0, "due_soon": 0}

    sign_in(agent)
    html = client.get("/cases/?view=open").text
    assert "3 overdue" in html and "2 due within 2 hours" in html
    assert html.count('class="row-overdue"') == 3 and html.count('class="row-soon"') == 2


def test_the_counts_follow_the_clock(make_user, frozen, moment):
    agent = make_user("agent")
    open_case(agent, priority="P0", opened_at=moment)  # due at moment + 1 h
    assert _queue(agent).counts == {"overdue": 0, "due_soon": 1}
    frozen(moment + timedelta(hours=1))
    assert _queue(agent).counts == {"overdue": 0, "due_soon": 1}  # due now: not yet late
    frozen(moment + timedelta(hours=1, seconds=1))
    assert _queue(agent).counts == {"overdue": 1, "due_soon": 0}


# --- search -----------------------------------------------------------------------------


def test_search_by_reference(make_user):
    agent = make_user("agent")
    wanted, other = open_case(agent), open_case(agent)
    assert _refs(_queue(agent, q=wanted.reference)) == [wanted.reference]
    assert _refs(_queue(agent, q=f"  {wanted.reference.lower()} ")) == [wanted.reference]
    assert _refs(_queue(agent, q="CASE-1999-000001")) == []
    assert other.reference not in _refs(_queue(agent, q=wanted.reference))


@pytest.mark.parametrize("kind, stored, typed", [
    ("phone", "+12025550143", "(202) 555-0143"),
    ("phone", "+1 202 555 0143", "202.555.0143"),
    ("email", "made.up@example.org", "MADE.UP@EXAMPLE.ORG"),
    ("username", "@Made_Up", "made_up"),
    ("ip", "::ffff:192.0.2.44", "192.0.2.44"),
    ("platform_user_id", "u-8675309", " u-8675309 "),
])
def test_search_by_identifier_in_another_written_form(make_user, kind, stored, typed):
    agent = make_user("agent")
    wanted, other = open_case(agent), open_case(agent)
    add_target(agent, wanted, (kind, stored))
    add_target(agent, other, ("platform_user_id", "u-unrelated"))
    page = _queue(agent, q=typed)
    assert _refs(page) == [wanted.reference]
    assert page.searched_identifiers


def test_search_on_the_page(make_user, client, sign_in):
    agent = make_user("agent")
    wanted, other = open_case(agent), open_case(agent)
    add_target(agent, wanted, ("phone", "+12025550143"))
    sign_in(agent)
    html = client.get("/cases/", query_string={"view": "open", "q": "(202) 555-0143"}).text
    assert wanted.reference in html and other.reference not in html
    assert "+12025550143" in html  # "Searched for: …" shows the normal forms
    html = client.get("/cases/", query_string={"view": "open", "q": "nobody@nowhere.example"}).text
    assert "No cases here." in html


# --- keyset pages -----------------------------------------------------------------------


@pytest.fixture
def ten_cases(make_user, moment):
    """Ten open cases with ties (same priority and deadline) and no-deadline rows."""
    agent = make_user("agent")
    actor = Identity.for_user(agent)
    cases = []
    for n, priority in enumerate(["P1", "P0", "P2", "P1", "P1", "P3", "P0", "P2", "P1", "P2"]):
        opened = moment - timedelta(hours=n % 3)  # repeats: ties broken by id
        cases.append(open_case(agent, priority=priority, opened_at=opened, title=f"case {n}"))
    for case in cases[7:]:
        services.add_note(actor, case, "Answered: no deadline now.")
    expected = [c.reference for c in sorted(cases, key=_sort_key)]
    assert len(set(expected)) == 10
    return agent, expected


def test_next_cursors_visit_every_case_once_in_order(ten_cases):
    agent, expected = ten_cases
    seen, page, pages = [], _queue(agent, page_size=3), 0
    assert page.prev_cursor is None
    while True:
        pages += 1
        seen += _refs(page)
        if page.next_cursor is None:
            break
        page = _queue(agent, page_size=3, after=page.next_cursor)
        assert page.prev_cursor is not None
    assert seen == expected
    assert pages == 4 and len(_refs(page)) == 1


def test_prev_cursor_goes_back(ten_cases):
    agent, expected = ten_cases
    first = _queue(agent, page_size=3)
    second = _queue(agent, page_size=3, after=first.next_cursor)
    third = _queue(agent, page_size=3, after=second.next_cursor)
    assert _refs(third) == expected[6:9]
    back = _queue(agent, page_size=3, before=third.prev_cursor)
    assert _refs(back) == expected[3:6] == _refs(second)
    assert back.next_cursor is not None
    again = _queue(agent, page_size=3, before=back.prev_cursor)
    assert _refs(again) == expected[:3]
    assert again.prev_cursor is None  # nothing before the first page
    assert _refs(_queue(agent, page_size=3, after=again.next_cursor)) == expected[3:6]


def test_the_last_page_and_walking_back_from_it(ten_cases):
    agent, expected = ten_cases
    last = _queue(agent, page_size=3, last=True)
    assert _refs(last) == expected[-3:]
    assert last.next_cursor is None and last.prev_cursor is not None
    seen = list(_refs(last))
    page = last
    while page.prev_cursor:
        page = _queue(agent, page_size=3, before=page.prev_cursor)
        seen = _refs(page) + seen
    assert seen == expected


def test_a_page_size_of_everything_has_no_cursors(ten_cases):
    agent, expected = ten_cases
    page = _queue(agent, page_size=10)
    assert _refs(page) == expected and page.next_cursor is None and page.prev_cursor is None


def test_pages_on_the_web(ten_cases, client, sign_in, monkeypatch):
    agent, expected = ten_cases
    monkeypatch.setitem(queues.case_queue.__kwdefaults__, "page_size", 4)
    sign_in(agent)
    html = client.get("/cases/?view=open").text
    shown = [r for r in expected if r in html]
    assert shown == expected[:4] and 'id="next-page"' in html
    after = re.search(r'href="/cases/\?[^"]*after=([^&"]+)', html).group(1)
    html = client.get(f"/cases/?view=open&after={after}").text
    assert [r for r in expected if r in html] == expected[4:8]
    html = client.get("/cases/?view=open&last=1").text
    assert [r for r in expected if r in html] == expected[-4:]


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


GARBAGE = [
    "garbage", "%%%", "", _cursor("1|2"), _cursor("x|2026-01-01T00:00:00+00:00|1"),
    _cursor("1|not-a-date|1"), _cursor("1|2026-01-01T00:00:00+00:00|one"),
    _cursor("99999999999999999999999|2026-01-01T00:00:00+00:00|1"),
    _cursor("1|2026-01-01T00:00:00+00:00|99999999999999999999999"),
    _cursor("1|2026-01-01T00:00:00|1"),  # no time zone
    _cursor("-1|2026-01-01T00:00:00+00:00|-5"),
    base64.urlsafe_b64encode(b"\xff\xfe|\x00").decode(),
]


@pytest.mark.parametrize("cursor", GARBAGE)
def test_a_garbage_cursor_is_a_plain_422(make_user, client, sign_in, cursor):
    agent = make_user("agent")
    open_case(agent)
    sign_in(agent)
    for name in ("after", "before"):
        response = client.get("/cases/", query_string={"view": "open", name: cursor})
        if cursor == "":
            assert response.status_code == 200  # no cursor: the first page
            continue
        assert response.status_code == 422, (name, response.status_code)
        assert "That page link is not valid any more" in response.text
        with pytest.raises(InvalidInput):
            _queue(agent, **{name: cursor})


# --- query budget -----------------------------------------------------------------------


def _count_queries(client, url) -> int:
    with recorded_statements() as statements:
        response = client.get(url)
    assert response.status_code == 200
    return len(statements), statements


def test_the_queue_page_costs_the_same_with_5_and_60_cases(make_user, client, sign_in):
    agent = make_user("agent")
    colleague = make_user("supervisor")
    sign_in(agent)

    def make(n):
        for i in range(n):
            case = open_case(colleague, priority=f"P{i % 4}", title=f"bulk {i}")
            if i % 3 == 0:
                services.take_case(Identity.for_user(colleague), case)

    make(5)
    small, small_sql = _count_queries(client, "/cases/?view=open")
    make(55)
    large, large_sql = _count_queries(client, "/cases/?view=open")
    mine, _ = _count_queries(client, "/cases/?view=mine")
    searched, _ = _count_queries(client, "/cases/?view=open&q=%28202%29+555-0143")

    assert small == large, (small_sql, large_sql)
    assert large <= 10, large_sql
    assert mine <= 10 and searched <= 10
    assert any("FROM cases" in s for s in large_sql)
