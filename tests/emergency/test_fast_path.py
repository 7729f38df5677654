"""Issue 11: the emergency fast path. One page, two people, every check intact: the
call-back before any disclosure, the second person for the approval and the release (asked
by the service, shown by the page), the status machine. The presses are counted."""

from __future__ import annotations

import html
import re

import pytest

from referrals.connector.demo import DemoConnector
from referrals.extensions import db
from referrals.packages.services import package_dir
from referrals.requests.models import DisclosureRequest
from tests.connector.fixtures import use_connector  # noqa: F401  (fixture)
from tests.requests.helpers import (actions_for, flashes, reload_request, submit)

DESCRIPTION = "Made-up caller says they will hurt a made-up person tonight"


@pytest.fixture(autouse=True)
def _demo_platform(use_connector):  # noqa: F811
    use_connector(DemoConnector())


@pytest.fixture(autouse=True)
def _no_package_files(app):
    import shutil

    with app.app_context():
        shutil.rmtree(package_dir(), ignore_errors=True)


@pytest.fixture
def emergency(officer_a) -> DisclosureRequest:
    return submit(officer_a, documents=[], request_type="emergency",
                  emergency_description=DESCRIPTION,
                  targets=[{"kind": "username", "value": "@made_up_caller"},
                           {"kind": "platform_user_id", "value": "u-made-up-7"}])


class Person:
    """A signed-in browser that counts what its person does: each page opened from a link
    and each button pressed (the forms' defaults kept: the registry number preselected,
    "produce" preselected)."""

    def __init__(self, client):
        self.client = client
        self.presses = 0
        self.page = ""

    def open(self, url: str) -> str:
        self.presses += 1
        response = self.client.get(url)
        assert response.status_code == 200, response.text[:2000]
        self.page = html.unescape(response.text)
        return self.page

    def press(self, button_id: str, **fields) -> str:
        """Submit the form holding the button, with its fields' current values."""
        form = _form_with(self.page, button_id)
        self.presses += 1
        data = {**form["fields"], **fields}
        response = self.client.post(form["action"], data=data)
        assert response.status_code == 302, response.text[:2000]
        page = self.client.get(response.headers["Location"])
        self.page = html.unescape(page.text)
        return self.page

    def reload(self) -> str:  # what the page's own poll does; not a press
        self.page = html.unescape(self.client.get(self._url).text)
        return self.page

    _url = ""


def _form_with(page: str, button_id: str) -> dict:
    for match in re.finditer(r'<form method="post" action="([^"]+)"(.*?)</form>', page, re.S):
        if f'id="{button_id}"' not in match.group(2):
            continue
        body = match.group(2)
        fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', body))
        for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', body,
                                        re.S):
            chosen = re.search(r'<option[^>]*value="([^"]*)"[^>]*selected', options) or \
                re.search(r'<option[^>]*value="([^"]*)"', options)
            fields[name] = chosen.group(1)
        return {"action": match.group(1), "fields": fields}
    raise AssertionError(f"no form with #{button_id} on the page")


def test_from_arrival_to_release_in_seven_presses_by_two_people(emergency, agent, supervisor,
                                                               new_client):
    url = f"/requests/{emergency.reference}/emergency"
    agent_browser, boss = Person(new_client(agent)), Person(new_client(supervisor))
    agent_browser._url = boss._url = url

    # The agent opens it from the home, where the emergency links to the fast path.
    home = html.unescape(agent_browser.client.get("/dashboard").text)
    assert f'href="{url}"' in home
    page = agent_browser.open(url)
    assert DESCRIPTION in page and "Your turn" in page.split('id="step-callback"')[1][:600]
    # Nothing to approve or release yet, for anyone.
    assert 'id="approve"' not in boss.open(url) and 'id="release"' not in boss.page
    boss.presses = 0

    agent_browser.press("record-callback",
                        outcome="Made-up duty sergeant confirmed the officer and the emergency")
    stored = reload_request(emergency.reference)
    assert stored.callback_at is not None and stored.status == "legal_review"
    assert stored.assignee_id == agent.id  # the first press took it

    agent_browser.press("prepare-decisions")
    stored = reload_request(emergency.reference)
    assert {t.decision for t in stored.targets} == {"produce"}
    assert stored.prepared_by_id == agent.id
    # The agent cannot approve their own decisions (no button; the service refuses too).
    assert 'id="approve"' not in agent_browser.page

    boss.open(url)
    boss.press("approve")
    assert reload_request(emergency.reference).status == "approved"

    agent_browser.reload()
    page = agent_browser.press("collect")
    stored = reload_request(emergency.reference)
    # The job ran (at once in tests): collected and handed over for the release review.
    assert stored.status == "ready_for_review" and stored.collected_by_id == agent.id
    assert "Ready for the release review." in page
    assert 'id="release"' not in page  # the agent neither may nor can release

    boss.reload()
    page = boss.press("release")
    stored = reload_request(emergency.reference)
    assert stored.status == "disclosed" and stored.disclosed_by_id == supervisor.id
    assert 'id="package-status"' in page and "Ready" in page.split('id="package-status"')[1][:40]
    assert "The officer was told it is ready to download." in page

    assert agent_browser.presses == 4 and boss.presses == 3  # the README says 7
    # Each press is the request's own audited services, in the order the law needs.
    actions = [a for a in actions_for(emergency.reference) if a != "request.viewed"]
    assert actions == [
        "request.submitted",
        "request.callback_recorded", "request.assigned", "request.status_changed",
        "request.status_changed",                                    # press: call-back
        "request.decisions_prepared",                                # press: decisions
        "request.approved",                                          # press: approval
        "request.status_changed", "request.collection_started",      # press: collect
        "request.collected", "request.status_changed",               # (the job)
        "request.disclosed"]                                         # press: release


def test_no_release_without_the_callback_even_on_the_fast_path(emergency, agent, supervisor,
                                                               new_client):
    from referrals.core.identity import Identity
    from referrals.emergency import services as fast
    from referrals.requests import services as requests

    agent_id, boss_id = Identity.for_user(agent), Identity.for_user(supervisor)
    fast.prepare_emergency_decisions(agent_id, emergency, {
        t.id: ("produce", "") for t in emergency.targets})
    requests.approve_request(boss_id, emergency)
    fast.collect_emergency(agent_id, emergency)
    from referrals.core.transaction import commit

    commit()
    stored = reload_request(emergency.reference)
    assert stored.status == "ready_for_review"
    boss = Person(new_client(supervisor))
    page = boss.open(f"/requests/{stored.reference}/emergency")
    assert 'id="release"' not in page
    assert "The call-back must be recorded before anything is disclosed." in page
    response = boss.client.post(f"/requests/{stored.reference}/emergency/release",
                                data={"csrf_token": re.search(
                                    r'name="csrf_token" type="hidden" value="([^"]+)"',
                                    page).group(1)})
    page = boss.client.get(response.headers["Location"]).text
    assert ("error", "Before anything is disclosed on an emergency request, record the "
            "call-back to a number from the agency registry.") in flashes(html.unescape(page))
    assert reload_request(stored.reference).status == "ready_for_review"


def test_one_person_cannot_approve_what_they_prepared(emergency, new_client, make_user):
    both = make_user("agent+supervisor")
    person = Person(new_client(both))
    url = f"/requests/{emergency.reference}/emergency"
    person.open(url)
    page = person.press("prepare-decisions")
    assert 'id="approve"' not in page
    assert "You prepared these decisions: another supervisor must approve them." in page
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = person.client.post(f"{url}/approve", data={"csrf_token": csrf})
    assert ("error", "You prepared these decisions: another supervisor must approve them.") in \
        flashes(html.unescape(person.client.get(response.headers["Location"]).text))
    assert reload_request(emergency.reference).status == "legal_review"


def test_a_request_that_is_not_an_emergency_is_not_on_the_fast_path(officer_a, agent,
                                                                    new_client):
    ordinary = submit(officer_a)
    browser = new_client(agent)
    response = browser.get(f"/requests/{ordinary.reference}/emergency")
    assert response.status_code == 404
    assert "is not an emergency request" in html.unescape(response.text)


def test_the_state_changes_when_the_other_person_acts(emergency, agent, supervisor, new_client):
    from referrals.core.identity import Identity
    from referrals.emergency import services as fast

    browser = new_client(supervisor)
    url = f"/requests/{emergency.reference}/emergency/state"
    before = browser.get(url).get_json()
    assert before["current"] == "callback"
    fast.prepare_emergency_decisions(Identity.for_user(agent), emergency, {
        t.id: ("produce", "") for t in emergency.targets})
    from referrals.core.transaction import commit

    commit()
    db.session.expire_all()
    after = browser.get(url).get_json()
    assert after["state"] != before["state"] and after["status"] == "legal_review"
