"""Issue 11: one search finds a reference or an identifier across cases, requests and holds."""

from __future__ import annotations

from sqlalchemy import event

from referrals.core.identity import Identity
from referrals.extensions import db
from referrals.holds.services import place_internal_hold
from referrals.search.services import search
from tests.cases.helpers import add_target, open_case
from tests.requests.helpers import submit


def test_a_reference_goes_straight_to_it(make_user, client, sign_in, officer_a):
    agent = make_user("agent")
    case = open_case(agent)
    request = submit(officer_a)
    sign_in(agent)
    assert client.get(f"/search/?q={case.reference.lower()}").location.endswith(
        f"/cases/{case.reference}")
    assert client.get(f"/search/?q={request.reference}").location.endswith(
        f"/requests/{request.reference}")
    page = client.get("/search/?q=CASE-2026-999999").text
    assert "Nothing has this reference" in page


def test_an_identifier_is_found_on_cases_requests_and_holds(make_user, client, sign_in,
                                                            officer_a):
    agent = make_user("agent")
    case = open_case(agent, title="Synthetic search case")
    add_target(agent, case, ("email", "made.up.target@example.net"))
    request = submit(officer_a, targets=[{"kind": "email", "value": "Made.Up.Target@example.net"}])
    elsewhere = open_case(agent, title="Synthetic unrelated")
    add_target(agent, elsewhere, ("email", "someone.else@example.net"))
    hold = place_internal_hold(Identity.for_user(agent), elsewhere,
                               [("email", "made.up.target@example.net")], ["subscriber"],
                               None, None, "Synthetic litigation hold")
    sign_in(agent)
    page = client.get("/search/?q=MADE.UP.TARGET@example.net").text
    assert case.reference in page and request.reference in page and hold.reference in page
    assert elsewhere.reference not in page
    assert "e-mail made.up.target@example.net" in page


def test_a_search_uses_indexes_not_scans(make_user, app, officer_a):
    """Each statement a search runs names an indexed column in its WHERE clause."""
    agent = make_user("agent")
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        search(Identity.for_user(agent), "+1 202 555 0100")
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    lookups = [s for s in statements if "identifiers" in s or "request_targets" in s]
    assert lookups, statements
    for statement in lookups:
        assert ".normalized = " in statement and ".kind = " in statement
        assert " LIKE " not in statement.upper()
