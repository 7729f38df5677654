"""The request page asks the same two-person policy as the services: the button is not
offered to whoever may not press it, and the page says why in the service's own words."""

from __future__ import annotations

from referrals.core.two_person import APPROVE, RELEASE, second_person_refusal
from referrals.requests import services
from referrals.requests.collection import collect_for_request
from tests.requests.helpers import as_identity, decide_all, move, unescape
from tests.requests.test_collection import approved, warrant  # noqa: F401


def _refusal(user, step, request) -> str:
    return second_person_refusal(as_identity(user), step, services.participants(request))


def test_the_preparer_is_told_why_there_is_no_approve_button(warrant, agent, supervisor,  # noqa: F811
                                                             make_user, new_client):
    request_a, supervisor2 = warrant, make_user("supervisor")
    move(supervisor, request_a, "verifying", "legal_review")
    decide_all(supervisor, request_a)
    url = f"/requests/{request_a.reference}"

    page = unescape(new_client(supervisor).get(url).text)
    assert 'id="approve"' not in page
    assert 'id="approve-refused"' in page
    assert _refusal(supervisor, APPROVE, request_a) in page

    other = unescape(new_client(supervisor2).get(url).text)
    assert 'id="approve"' in other and 'id="approve-refused"' not in other
    # An agent may not approve at all: the role says so, not the two-person rule.
    agents = unescape(new_client(agent).get(url).text)
    assert 'id="approve"' not in agents and 'id="approve-refused"' not in agents


def test_whoever_collected_from_the_platform_is_told_why_there_is_no_release_button(
        warrant, agent, supervisor, make_user, new_client):  # noqa: F811
    approver = make_user("supervisor")
    approved(warrant, agent, approver)
    move(agent, warrant, "collecting")
    collect_for_request(as_identity(supervisor), warrant)  # a supervisor collected
    move(agent, warrant, "ready_for_review")
    url = f"/requests/{warrant.reference}"

    page = unescape(new_client(supervisor).get(url).text)
    assert 'id="disclose"' not in page and 'id="release-refused"' in page
    assert _refusal(supervisor, RELEASE, warrant) in page

    releaser = unescape(new_client(approver).get(url).text)
    assert 'id="disclose"' in releaser and 'id="release-refused"' not in releaser
