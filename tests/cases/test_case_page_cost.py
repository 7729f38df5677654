"""What a case page costs the server (issues 16 and 17): a fixed number of statements
however many subjects, identifiers, related cases and holds the case has, and only the forms
the page shows. The page itself is pinned by the other case page tests."""

from __future__ import annotations

import io

from flask_wtf import FlaskForm

from referrals.cases import forms as case_forms
from referrals.core.identity import Identity
from referrals.evidence.services import add_evidence
from referrals.extensions import db
from tests.cases.helpers import add_target, open_case
from tests.holds.helpers import preserve
from tests.requests.helpers import make_agency
from tests.statements import page_statements

# Reads of the page (account, case, timeline, subjects with identifiers, related cases,
# reported content, assignees, evidence, holds, referrals, packages) and the audited view
# (chain head, event, chain head). More means a query crept in: merge it, don't raise this.
STATEMENT_BUDGET = 14
CASE_PAGE_FORMS = {name for name, value in vars(case_forms).items()
                   if isinstance(value, type) and issubclass(value, FlaskForm)
                   and value.__module__ == case_forms.__name__ and name != "NewCaseForm"}


def test_the_case_page_costs_the_same_statements_however_much_the_case_holds(
        client, as_role, make_user):
    as_role("supervisor")
    agent = make_user("agent")
    small_case = open_case(agent)
    add_target(agent, small_case, ("username", "@made_up_alone"), label="alone")
    full = open_case(agent, summary="Synthetic.")
    for n in range(3):  # each subject's identifiers used to be one more statement
        add_target(agent, full, ("username", f"@made_up_{n}"), ("email", f"m{n}@example.invalid"),
                   label=f"made_up_subject_{n}")
    add_target(agent, full, ("username", "@made_up_target_one"), label="held")
    for n in range(2):  # related cases: used to load each with its assignee and roles
        other = open_case(make_user("agent"), title=f"related {n}")
        add_target(agent, other, ("username", "@made_up_0"))
    officer = make_user("officer", agency=make_agency(
        "Made-up Cost Police", domains=["cost.police.example"]),
        email="det.cost@cost.police.example")
    # A 2703(f) request's hold on one of the case's accounts: the page names the request
    # (one more statement per hold, and its officer's roles, before).
    preserve(officer, official_email="det.cost@cost.police.example")
    add_evidence(Identity.for_user(agent), full, io.BytesIO(b"synthetic cost item\n"),
                 original_name="cost.txt")

    page = client.get(f"/cases/{full.reference}").text
    assert "HOLD-" in page and "REQ-" in page and "related 0" not in page
    assert page.count("Also in") == 1 and "made_up_subject_2" in page

    small = page_statements(client, f"/cases/{small_case.reference}")
    large = page_statements(client, f"/cases/{full.reference}")
    assert len(small) == len(large), (small, large)
    assert len(large) <= STATEMENT_BUDGET, large


def _forms_built(client, url: str, monkeypatch) -> set[str]:
    built: set[str] = set()
    original = FlaskForm.__init__

    def spy(self, *args, **kwargs):
        built.add(type(self).__name__)
        original(self, *args, **kwargs)

    monkeypatch.setattr(FlaskForm, "__init__", spy)
    try:
        assert client.get(url).status_code == 200
    finally:
        monkeypatch.setattr(FlaskForm, "__init__", original)
    return built & CASE_PAGE_FORMS


def test_the_case_page_builds_only_the_forms_it_shows(client, browser, make_user, monkeypatch):
    case = open_case(make_user("agent"))
    url = f"/cases/{case.reference}"

    assert _forms_built(browser(make_user("compliance")), url, monkeypatch) == set()
    agent_forms = _forms_built(browser(make_user("agent")), url, monkeypatch)
    assert agent_forms == CASE_PAGE_FORMS - {"AssignForm"}  # assigning is for supervisors
    assert _forms_built(browser(make_user("supervisor")), url, monkeypatch) == CASE_PAGE_FORMS
