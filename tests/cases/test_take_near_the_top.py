"""Issue 11: on a phone the side column is far below, so "Take this case" (and "Take this
request") sit at the top of the page, before the work itself."""

from __future__ import annotations

from tests.cases.helpers import open_case
from tests.requests.fixtures import *  # noqa: F401,F403
from tests.requests.helpers import submit


def test_take_this_case_comes_before_the_subjects(make_user, client, sign_in):
    agent = make_user("agent")
    case = open_case(make_user("agent"), title="Synthetic unassigned case")
    sign_in(agent)
    page = client.get(f"/cases/{case.reference}").text
    assert page.count('id="take-case"') == 1
    assert page.index('id="take-case"') < page.index('id="subjects"')


def test_take_this_request_comes_before_the_legal_process(officer_a, agent, new_client):
    request = submit(officer_a)
    page = new_client(agent).get(f"/requests/{request.reference}").text
    assert page.count('id="take-request"') == 1
    assert page.index('id="take-request"') < page.index("Legal process")
