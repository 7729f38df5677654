"""The officer scope over generated worlds (hypothesis): officers of one agency and of another,
requests of three kinds, shares (some with an officer who has since moved agency), and holds,
some renewed. For every officer and every request and hold of the world:

- the SQL and per-object answers of ``requests.scope`` (and the holds built on it) agree with
  an oracle written here in plain Python from the rule: the requests of your agency that you
  submitted or were added to, and the holds placed or renewed by one of them;
- every officer-facing lookup, on the portal and through the API, answers about a request or
  hold outside the scope exactly as about one that does not exist (same status, same body but
  for the reference echoed back, same content type, same number of SQL statements), and
  changes nothing: the request page and API detail, posting a message or withdrawing, the
  hold's letter, and the reference a follow-up or a renewal names (API and portal form, by
  REQ-… or HOLD-…);
- inside the scope, the pages answer, a follow-up is accepted, and a renewal renews when the
  officer may renew (the preservation request itself is theirs) and its one renewal is left.

The officers, their browsers and tokens are made once; each generated world is built through
the intake service inside its own savepoint (rolled back after it) with its own empty document
store. A fixed profile (derandomized, no example database) keeps CI runs the same.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from referrals.core.identity import Identity
from referrals.core.kept_uploads import SESSION_KEY as KEPT_UPLOADS
from referrals.extensions import db
from referrals.holds.models import PreservationHold
from referrals.holds.reading import get_hold_for_officer, officer_hold_clause, officer_sees_hold
from referrals.requests.models import DisclosureRequest, RequestCollaborator, RequestMessage
from referrals.requests.scope import officer_request_clause, officer_sees_request
from referrals.tokens import services as token_services
from tests import factories
from tests.conftest import csrf_from
from tests.examples import isolated_example
from tests.holds.helpers import preserve, renew
from tests.holds.officer_scope import MISSING_HOLD, MISSING_REQUEST
from tests.requests.helpers import api_body, bearer, make_agency, normalized, pdf_bytes
from tests.statements import recorded_statements

# Officer n works for agency AGENCY_OF[n]: three colleagues in one agency, one in another.
AGENCY_OF = (0, 0, 0, 1)
OFFICERS = range(len(AGENCY_OF))
KINDS = ("preservation", "court_order_2703d", "eu_epoc_pr")
HOLD_PLACING = ("preservation", "eu_epoc_pr")
PDF = pdf_bytes()


@dataclass(frozen=True)
class World:
    # (submitter, kind) of each request.
    requests: tuple[tuple[int, str], ...]
    # (request, officer) pairs: the officer was added to the request. A pair across agencies is
    # an officer who was added and has since moved agency.
    shares: frozenset[tuple[int, int]]
    # (request, pick, shared_with): a renewal of request ``request`` by the ``pick``-th officer
    # (modulo) of those allowed to renew it, added to by ``shared_with`` (or nobody).
    renewals: tuple[tuple[int, int, int | None], ...]


@st.composite
def worlds(draw) -> World:
    # Preservations twice as often: they are what holds, renewals and letters come from.
    kinds = st.sampled_from(("preservation", *KINDS))
    requests = tuple(draw(st.lists(st.tuples(st.sampled_from(OFFICERS), kinds),
                                   min_size=1, max_size=4)))
    pairs = st.tuples(st.integers(0, len(requests) - 1), st.sampled_from(OFFICERS))
    shares = frozenset(draw(st.lists(pairs, max_size=4)))
    renewals = tuple(draw(st.lists(st.tuples(st.integers(0, len(requests) - 1),
                                             st.integers(0, 3),
                                             st.sampled_from((None, *OFFICERS))),
                                   max_size=2)))
    return World(requests, shares, renewals)


# --- the oracle --------------------------------------------------------------------------------


@dataclass
class Oracle:
    """The scope in plain Python. Requests are numbered in the order they were made (the
    world's, then the renewals'); ``origin`` of a renewal is the request it renewed."""

    submitter: list[int] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    shared: list[set[int]] = field(default_factory=list)
    origin: list[int | None] = field(default_factory=list)
    renewed: set[int] = field(default_factory=set)  # requests whose hold was renewed

    def add(self, submitter: int, kind: str, origin: int | None = None) -> int:
        self.submitter.append(submitter)
        self.kind.append(kind)
        self.shared.append(set())
        self.origin.append(origin)
        return len(self.submitter) - 1

    def sees_request(self, officer: int, n: int) -> bool:
        return (AGENCY_OF[officer] == AGENCY_OF[self.submitter[n]]
                and (officer == self.submitter[n] or officer in self.shared[n]))

    def has_hold(self, n: int) -> bool:
        return self.kind[n] in HOLD_PLACING

    def sees_hold(self, officer: int, n: int) -> bool:
        return self.has_hold(n) and (self.sees_request(officer, n) or any(
            self.origin[m] == n and self.sees_request(officer, m)
            for m in range(len(self.kind))))

    def renews(self, officer: int, n: int) -> bool:
        """A renewal by ``officer`` naming request ``n`` (or its hold) renews it."""
        return (self.kind[n] == "preservation" and self.origin[n] is None
                and n not in self.renewed and self.sees_request(officer, n))


# --- the people, made once ------------------------------------------------------------------------


@dataclass
class Officer:
    user: object
    identity: Identity
    browser: object  # signed in to the portal
    csrf: str
    api: object  # no session: the token only
    secret: str


@pytest.fixture
def officers(new_client, officer_token):
    # Irish authorities: they may send EPOC-PRs (Regulation (EU) 2023/1543); their other
    # preservation requests are kept voluntarily (Budapest art. 29), which the scope ignores.
    agencies = [make_agency("Made-up Metro Police A", domains=["metro-a.police.example"],
                            country="IE"),
                make_agency("Made-up County Sheriff B", domains=["county-b.sheriff.example"],
                            country="IE")]
    people = []
    for n, agency in enumerate(AGENCY_OF):
        domain = ("metro-a.police.example", "county-b.sheriff.example")[agency]
        user = factories.make_user("officer", agency=agencies[agency],
                                   email=f"det.made-up-{n}@{domain}",
                                   full_name=f"Det. Made-up {n}")
        browser = new_client(user)
        csrf = csrf_from(browser.get("/portal/requests/new").text)
        api, secret = new_client(), officer_token(user)
        # The token's last use is written at most once a minute: have it written now, so
        # that the compared answers do not differ by it.
        api.get("/api/v1/requests/REQ-2026-999999", headers={"Authorization": f"Bearer {secret}"})
        people.append(Officer(user, Identity.for_user(user), browser, csrf, api, secret))
    return people


# --- building a world --------------------------------------------------------------------------


@dataclass
class Built:
    oracle: Oracle
    requests: list[DisclosureRequest]
    holds: dict[int, PreservationHold]  # request number → the hold it placed


def _share(request: DisclosureRequest, officer: Officer) -> None:
    # Straight into the table: add_colleague refuses an officer of another agency, and a
    # pair across agencies stands for a colleague who was added and has moved since.
    db.session.add(RequestCollaborator(request_id=request.id, user_id=officer.user.id))
    db.session.flush()


def build(world: World, people: list[Officer]) -> Built:
    oracle = Oracle()
    requests: list[DisclosureRequest] = []
    for submitter, kind in world.requests:
        overrides = {"request_type": kind}
        if kind == "eu_epoc_pr":
            overrides["addressed_to"] = "eu"
        requests.append(preserve(people[submitter].user, **overrides))
        oracle.add(submitter, kind)
    for n, officer in sorted(world.shares):
        _share(requests[n], people[officer])
        oracle.shared[n].add(officer)
    for n, pick, shared_with in world.renewals:
        may = [o for o in OFFICERS if oracle.renews(o, n)]
        if not may:
            continue
        renewer = may[pick % len(may)]
        requests.append(renew(people[renewer].user, requests[n].reference))
        oracle.renewed.add(n)
        m = oracle.add(renewer, "preservation_renewal", origin=n)
        if shared_with is not None:
            _share(requests[m], people[shared_with])
            oracle.shared[m].add(shared_with)
    holds = {n: db.session.scalar(select(PreservationHold)
                                  .where(PreservationHold.request_id == request.id))
             for n, request in enumerate(requests) if oracle.has_hold(n)}
    assert all(hold is not None for hold in holds.values())
    return Built(oracle, requests, holds)


def _label(oracle: Oracle) -> None:
    """What kinds of worlds were tried (``pytest --hypothesis-show-statistics``)."""
    requests = range(len(oracle.kind))
    if any(AGENCY_OF[o] == AGENCY_OF[oracle.submitter[n]] and not oracle.sees_request(o, n)
           for o in OFFICERS for n in requests):
        event("a colleague not added to a request")
    if any(AGENCY_OF[o] != AGENCY_OF[oracle.submitter[n]] for n in requests
           for o in oracle.shared[n]):
        event("an officer added, then moved agency")
    if any(oracle.sees_hold(o, n) and not oracle.sees_request(o, n)
           for o in OFFICERS for n in requests):
        event("a hold seen only through a renewal")


# --- the lookups an officer makes ------------------------------------------------------------------


def _follow_up(reference: str) -> dict:
    return api_body(related_reference=reference)


def _renewal(reference: str) -> dict:
    return api_body(request_type="preservation_renewal", related_reference=reference,
                    data_categories=["subscriber"])


def _form(officer: Officer, reference: str, renewal: bool):
    data = {"csrf_token": officer.csrf, "request_type": "court_order_2703d",
            "addressed_to": "us", "issuing_authority": "Made-up District Court",
            "officer_name": "Det. Made Up", "official_email": "det.madeup@metro-a.police.example",
            "phone": "+1 202 555 0100", "data_categories": ["subscriber"],
            "date_from": "2025-10-01", "date_to": "2025-12-31",
            "legal_basis": "Made-up order", "target_kind_0": "username",
            "target_value_0": "@made_up_target_one", "related_reference": reference,
            "documents": (io.BytesIO(PDF), "order.pdf")}
    if renewal:
        data["request_type"] = "preservation_renewal"
    # A refused form keeps its PDF in the session, up to a few: start each lookup without any,
    # so that answers differ by the reference only, not by how many forms came before.
    with officer.browser.session_transaction() as session:
        session.pop(KEPT_UPLOADS, None)
    return officer.browser.post("/portal/requests/new", data=data)


# What each lookup does with a reference; the hold's letter and the request pages are reached
# by the reference of their own kind only.
# Officers have no document or package downloads yet: when they come, they belong here.
REQUEST_LOOKUPS = {
    "portal page": lambda o, ref: o.browser.get(f"/portal/requests/{ref}"),
    "API detail": lambda o, ref: o.api.get(f"/api/v1/requests/{ref}", headers=bearer(o.secret)),
}
# Acting on a request by its reference (checked outside the scope only: inside, they act).
ACTING_LOOKUPS = {
    "portal message": lambda o, ref: o.browser.post(
        f"/portal/requests/{ref}/messages", data={"csrf_token": o.csrf, "body": "Made-up probe"}),
    "portal withdrawal": lambda o, ref: o.browser.post(
        f"/portal/requests/{ref}/withdraw", data={"csrf_token": o.csrf, "reason": "Made-up"}),
    "API message": lambda o, ref: o.api.post(f"/api/v1/requests/{ref}/messages",
                                             json={"body": "Made-up probe"},
                                             headers=bearer(o.secret)),
    "API withdrawal": lambda o, ref: o.api.post(f"/api/v1/requests/{ref}/withdraw",
                                                headers=bearer(o.secret)),
}
HOLD_LOOKUPS = {
    "letter": lambda o, ref: o.browser.get(f"/portal/holds/{ref}/letter.pdf"),
}
NAMING_LOOKUPS = {
    "API follow-up": lambda o, ref: o.api.post("/api/v1/requests", json=_follow_up(ref),
                                               headers=bearer(o.secret)),
    "API renewal": lambda o, ref: o.api.post("/api/v1/requests", json=_renewal(ref),
                                             headers=bearer(o.secret)),
    "portal follow-up": lambda o, ref: _form(o, ref, renewal=False),
    "portal renewal": lambda o, ref: _form(o, ref, renewal=True),
}


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str | None
    body: str
    statements: int


def ask(lookup, officer: Officer, reference: str, placeholder_for: str) -> Answer:
    with recorded_statements(control=True) as statements:
        response = lookup(officer, reference)
    return Answer(response.status_code, response.headers.get("Content-Type"),
                  normalized(response.get_data(as_text=True)).replace(reference, placeholder_for),
                  len(statements))


def stored_state() -> tuple:
    return (tuple(db.session.execute(select(DisclosureRequest.id, DisclosureRequest.status)
                                     .order_by(DisclosureRequest.id)).all()),
            db.session.scalar(select(func.count()).select_from(RequestMessage)),
            tuple(db.session.execute(select(PreservationHold.id, PreservationHold.renewals,
                                            PreservationHold.expires_at)
                                     .order_by(PreservationHold.id)).all()))


# --- the checks ----------------------------------------------------------------------------------


def check_scope_functions(built: Built, people: list[Officer]) -> None:
    """SQL, per object and oracle agree, for every officer, request and hold."""
    oracle = built.oracle
    for o, officer in enumerate(people):
        expected = {built.requests[n].id for n in range(len(built.requests))
                    if oracle.sees_request(o, n)}
        assert set(db.session.scalars(select(DisclosureRequest.id).where(
            officer_request_clause(officer.identity)))) == expected, f"officer {o}: requests"
        for n, request in enumerate(built.requests):
            assert officer_sees_request(officer.identity, request) is \
                oracle.sees_request(o, n), f"officer {o}, request {n}"
        expected = {hold.id for n, hold in built.holds.items() if oracle.sees_hold(o, n)}
        assert set(db.session.scalars(select(PreservationHold.id).where(
            officer_hold_clause(officer.identity)))) == expected, f"officer {o}: holds"
        for n, hold in built.holds.items():
            assert officer_sees_hold(officer.identity, hold) is oracle.sees_hold(o, n), \
                f"officer {o}, hold of request {n}"


def check_outside_answers_like_missing(built: Built, people: list[Officer]) -> None:
    """Every lookup of a reference outside the scope: the answer about a missing one, and
    nothing changes."""
    oracle = built.oracle
    missing_answers: dict[tuple[int, str, str], Answer] = {}

    def like_missing(o, name, lookup, reference, missing):
        key = (o, name, missing)
        if key not in missing_answers:
            missing_answers[key] = ask(lookup, people[o], missing, "REF")
        answer = ask(lookup, people[o], reference, "REF")
        assert answer == missing_answers[key], (f"officer {o}, {name} of {reference}",
                                                answer, missing_answers[key])
        assert answer.status in (404, 422), answer

    state = stored_state()
    for o in OFFICERS:
        for n, request in enumerate(built.requests):
            if oracle.sees_request(o, n):
                continue
            for name, lookup in (REQUEST_LOOKUPS | ACTING_LOOKUPS).items():
                like_missing(o, name, lookup, request.reference, MISSING_REQUEST)
            for name, lookup in NAMING_LOOKUPS.items():
                like_missing(o, name, lookup, request.reference, MISSING_REQUEST)
        for n, hold in built.holds.items():
            if not oracle.sees_hold(o, n):
                for name, lookup in HOLD_LOOKUPS.items():
                    like_missing(o, name, lookup, hold.reference, MISSING_HOLD)
            if not oracle.sees_request(o, n):
                # Naming a hold: a follow-up or renewal takes the hold's request, so what
                # counts is seeing the request itself.
                for name, lookup in NAMING_LOOKUPS.items():
                    like_missing(o, name, lookup, hold.reference, MISSING_HOLD)
    db.session.expire_all()
    assert stored_state() == state, "a lookup outside the scope changed something"


def check_inside_answers(built: Built, people: list[Officer]) -> None:
    """Inside the scope: the pages answer, follow-ups are accepted, renewals renew when the
    officer may renew and the renewal is left."""
    oracle = built.oracle
    for o, officer in enumerate(people):
        for n, request in enumerate(built.requests):
            if not oracle.sees_request(o, n):
                continue
            assert REQUEST_LOOKUPS["portal page"](officer, request.reference).status_code == 200
            detail = REQUEST_LOOKUPS["API detail"](officer, request.reference)
            assert detail.status_code == 200, detail.text
            shown = n if oracle.has_hold(n) else oracle.origin[n]
            assert (detail.json["hold"] or {}).get("reference") == (
                built.holds[shown].reference if shown is not None else None)
            follow_up = NAMING_LOOKUPS["API follow-up"](officer, request.reference)
            assert follow_up.status_code == 201, follow_up.text
            assert follow_up.json["related_reference"] == request.reference
        for n, hold in built.holds.items():
            if oracle.sees_hold(o, n):
                assert get_hold_for_officer(officer.identity, hold.reference.lower()).id == hold.id
            if not oracle.sees_request(o, n):
                continue
            renews = oracle.renews(o, n)
            renewal = NAMING_LOOKUPS["API renewal"](officer, hold.reference)
            if renews:
                assert renewal.status_code == 201, renewal.text
                oracle.renewed.add(n)
            else:
                # Refused for what the hold is (renewed, an EPOC-PR), not as unknown.
                assert renewal.status_code == 409, renewal.text
            db.session.expire_all()
            assert db.session.get(PreservationHold, hold.id).renewals == int(n in oracle.renewed)


# --- pinned worlds -----------------------------------------------------------------------------

# The pen test: officer 0 preserves; colleague 1 is not added; colleague 2 is, and renews.
COLLEAGUE_NOT_ADDED = World(requests=((0, "preservation"),), shares=frozenset({(0, 2)}),
                            renewals=())
# A renewal shared with someone who cannot see the preservation itself; an officer who moved
# agency after being added; another agency's preservation.
SHARED_RENEWAL_AND_A_MOVER = World(
    requests=((0, "preservation"), (1, "eu_epoc_pr"), (3, "preservation")),
    shares=frozenset({(1, 3), (2, 0)}), renewals=((0, 0, 2),))


@settings(max_examples=12, deadline=None, database=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@example(world=COLLEAGUE_NOT_ADDED)
@example(world=SHARED_RENEWAL_AND_A_MOVER)
@given(world=worlds())
def test_every_officer_lookup_answers_outside_the_scope_as_for_a_missing_reference(
        app, officers, monkeypatch, world):
    # A token's last use is written at most once a minute, after the response: whether a
    # request writes it depends on the clock, not on the reference, so an example that runs
    # past a minute would count three more statements on one side (seen in slow full runs).
    # Held still here, the count is the answer's own statements.
    monkeypatch.setattr(token_services, "LAST_USE_PRECISION", timedelta(days=3650))
    with isolated_example(app, "officer-scope-example-"):
        built = build(world, officers)
        _label(built.oracle)
        check_scope_functions(built, officers)
        check_outside_answers_like_missing(built, officers)
        check_inside_answers(built, officers)


def test_the_pinned_worlds_mean_what_they_say(app, officers):
    with isolated_example(app, "officer-scope-example-"):
        oracle = build(COLLEAGUE_NOT_ADDED, officers).oracle
        assert [oracle.sees_hold(o, 0) for o in OFFICERS] == [True, False, True, False]
        assert [oracle.renews(o, 0) for o in OFFICERS] == [True, False, True, False]
    with isolated_example(app, "officer-scope-example-"):
        oracle = build(SHARED_RENEWAL_AND_A_MOVER, officers).oracle
        assert oracle.origin[3] == 0 and oracle.submitter[3] == 0 and oracle.shared[3] == {2}
        assert oracle.sees_hold(2, 0) and not oracle.sees_request(2, 0)
        assert not oracle.sees_request(3, 1), "the mover sees nothing of the old agency"
        assert not any(oracle.sees_request(o, 2) for o in (0, 1, 2))
