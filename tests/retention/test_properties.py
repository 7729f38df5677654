"""Retention over generated worlds (hypothesis): nothing held is ever touched, and everything
unheld past retention is purged, bytes and all (unless another surviving item has the same
bytes). What is held and what is due is decided here by an oracle in plain Python, written from
the rules, not from the SQL in referrals/holds/scope.py; is_held is checked against it too.

Each generated example runs inside its own savepoint (rolled back after it) with its own empty
evidence store (a fresh directory, removed after it), so neither rows nor stored files of one
example can be seen by the next. The test's own transaction (tests/conftest.py) wraps them all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from referrals.audit.services import verify_chain
from referrals.cases.models import Case, Identifier, Subject
from referrals.core import clock
from referrals.core.storage import BlobStore
from referrals.evidence.models import CustodyEvent, EvidenceItem, StoredBlob
from referrals.extensions import db
from referrals.holds.rules import ENDED_STATUSES, HOLD_KINDS, LIVE_STATUSES, STATUSES
from referrals.holds.scope import is_held
from referrals.retention.services import purge_due
from tests.examples import isolated_example
from tests.retention.helpers import (add_account, add_item, add_request_item,
                                     add_snapshot_item, make_case, make_hold, make_request,
                                     settle_stored_files)

# A small pool of accounts, so that cases and holds often share one.
ACCOUNTS = [("username", "made_up_a"), ("username", "made_up_b"), ("email", "c@example.invalid"),
            ("phone", "+12025550199"), ("platform_user_id", "u-made-up-5")]
# A small pool of file contents, so that items in different cases and holds often share bytes.
CONTENTS = [f"synthetic evidence bytes {n}\n".encode() for n in range(4)]
BASE = datetime(2030, 6, 1, tzinfo=UTC)
ZERO = timedelta(0)
# Offsets from a boundary: well before, just before, exactly on, just after, well after.
AROUND = [timedelta(days=-40), timedelta(days=-1), timedelta(seconds=-1), ZERO,
          timedelta(seconds=1), timedelta(days=1), timedelta(days=40)]
NEAR = [timedelta(days=-10), timedelta(seconds=-1), ZERO, timedelta(seconds=1),
        timedelta(days=10)]


@dataclass(frozen=True)
class CaseSpec:
    closed: timedelta | None  # closed_at = cutoff + closed; None: still open
    subjects: tuple[tuple[int, ...], ...]  # each subject's accounts (indexes into ACCOUNTS)
    items: tuple[int, ...]  # each item's content (index into CONTENTS)


@dataclass(frozen=True)
class HoldSpec:
    kind: str
    status: str
    case: int | None
    accounts: tuple[int, ...]
    expires: tuple[str, timedelta] | None  # ("at" | "cutoff", offset)
    ended: timedelta | None  # ended_at = cutoff + ended, for ended statuses
    snapshot: tuple[int, ...]


@dataclass(frozen=True)
class RequestSpec:
    over: timedelta | None  # closed, last changed at cutoff + over; None: still collecting
    accounts: tuple[int, ...]  # its targets (indexes into ACCOUNTS)
    items: tuple[int, ...]  # what was collected for it (indexes into CONTENTS)


@dataclass(frozen=True)
class World:
    cases: tuple[CaseSpec, ...]
    holds: tuple[HoldSpec, ...]
    at: datetime
    # A first run this long before ``at`` (None: a single run).
    earlier: timedelta | None
    requests: tuple[RequestSpec, ...] = ()


indexes = lambda pool, **kw: st.lists(st.integers(0, len(pool) - 1), **kw).map(tuple)  # noqa: E731


# Live statuses twice, so that about half the holds hold something.
HOLD_STATUSES = [*LIVE_STATUSES, *LIVE_STATUSES, *ENDED_STATUSES]
assert set(HOLD_STATUSES) == set(STATUSES)


@st.composite
def worlds(draw) -> World:
    # Mostly closed cases, half of them past retention, so that most examples purge something
    # and many keep something held.
    cases = tuple(draw(st.lists(st.builds(
        CaseSpec,
        closed=st.sampled_from([None, *AROUND]),
        subjects=st.lists(indexes(ACCOUNTS, min_size=1, max_size=2), max_size=2).map(tuple),
        items=indexes(CONTENTS, max_size=2)), min_size=1, max_size=5)))
    holds = []
    for _ in range(draw(st.integers(1, 4))):
        status = draw(st.sampled_from(HOLD_STATUSES))
        holds.append(HoldSpec(
            kind=draw(st.sampled_from(list(HOLD_KINDS))),
            status=status,
            case=draw(st.none() | st.integers(0, len(cases) - 1)),
            accounts=draw(indexes(ACCOUNTS, max_size=2, unique=True)),
            expires=draw(st.none() | st.tuples(st.sampled_from(["at", "cutoff"]),
                                               st.sampled_from(NEAR))),
            ended=draw(st.sampled_from(AROUND)) if status in ENDED_STATUSES else None,
            # An ended hold has a snapshot to purge or keep; a live one may.
            snapshot=draw(indexes(CONTENTS, min_size=int(status in ENDED_STATUSES),
                                  max_size=2))))
    at = BASE + timedelta(seconds=draw(st.integers(0, 10**7)),
                          microseconds=draw(st.integers(0, 999_999)))
    earlier = draw(st.sampled_from([None, timedelta(seconds=1), timedelta(days=1),
                                    timedelta(days=45)]))
    requests = tuple(draw(st.lists(st.builds(
        RequestSpec,
        over=st.sampled_from([None, *AROUND]),
        accounts=indexes(ACCOUNTS, min_size=1, max_size=2, unique=True),
        items=indexes(CONTENTS, min_size=1, max_size=2)), max_size=3)))
    return World(cases, tuple(holds), at, earlier, requests)


@pytest.fixture
def officer(make_user):
    """One made-up officer for every example's requests (made before the examples run)."""
    return make_user("officer")


# --- the oracle -------------------------------------------------------------------------------


class Oracle:
    """The retention rules, in plain Python over the generated specs."""

    def __init__(self, world: World, retention: timedelta):
        self.world, self.retention = world, retention
        self.cutoff_final = world.at - retention

    def closed_at(self, case: CaseSpec) -> datetime | None:
        return None if case.closed is None else self.cutoff_final + case.closed

    def expires_at(self, hold: HoldSpec) -> datetime | None:
        if hold.expires is None:
            return None
        anchor, offset = hold.expires
        return (self.world.at if anchor == "at" else self.cutoff_final) + offset

    def ended_at(self, hold: HoldSpec) -> datetime | None:
        return None if hold.ended is None else self.cutoff_final + hold.ended

    def live(self, hold: HoldSpec, at: datetime) -> bool:
        expires = self.expires_at(hold)
        return hold.status in LIVE_STATUSES and (expires is None or expires > at)

    def case_accounts(self, index: int) -> set[int]:
        return {a for subject in self.world.cases[index].subjects for a in subject}

    def case_held(self, index: int, at: datetime) -> bool:
        return any(self.live(h, at) and (h.case == index or set(h.accounts) & self.case_accounts(index))
                   for h in self.world.holds)

    def snapshot_held(self, index: int, at: datetime) -> bool:
        own = self.world.holds[index]
        return (self.live(own, at)
                or any(self.live(h, at) and set(h.accounts) & set(own.accounts)
                       for h in self.world.holds)
                or (own.case is not None and self.case_held(own.case, at)))

    def case_due(self, index: int, at: datetime) -> bool:
        closed = self.closed_at(self.world.cases[index])
        return closed is not None and closed <= at - self.retention and not self.case_held(index, at)

    def hold_ended(self, hold: HoldSpec, at: datetime) -> datetime | None:
        if hold.status in ENDED_STATUSES:
            return self.ended_at(hold)
        expires = self.expires_at(hold)
        return expires if expires is not None and expires <= at else None

    def request_over_at(self, request: RequestSpec) -> datetime | None:
        return None if request.over is None else self.cutoff_final + request.over

    def request_held(self, index: int, at: datetime) -> bool:
        accounts = set(self.world.requests[index].accounts)
        return any(self.live(h, at) and set(h.accounts) & accounts for h in self.world.holds)

    def request_due(self, index: int, at: datetime) -> bool:
        over = self.request_over_at(self.world.requests[index])
        return over is not None and over <= at - self.retention and not self.request_held(index, at)

    def snapshot_due(self, index: int, at: datetime) -> bool:
        ended = self.hold_ended(self.world.holds[index], at)
        return ended is not None and ended <= at - self.retention and not self.snapshot_held(index, at)


# --- one example, isolated ------------------------------------------------------------------------


@dataclass
class Built:
    cases: list[Case]
    case_items: list[list[tuple[EvidenceItem, int]]]  # (item, content index) per case
    snapshot_items: list[list[tuple[EvidenceItem, int]]]  # per hold
    request_items: list[list[tuple[EvidenceItem, int]]]  # per request
    titles: list[str]
    storage_names: dict[int, str]  # content index → stored file name


def build(world: World, oracle: Oracle, officer) -> Built:
    clock.freeze(oracle.cutoff_final - timedelta(days=100))  # the data is made well before
    cases, case_items, titles = [], [], []
    for n, spec in enumerate(world.cases):
        title = f"Generated case {n}"
        case = make_case(closed_at=oracle.closed_at(spec), title=title)
        for accounts in spec.subjects:
            add_account(case, *(ACCOUNTS[a] for a in accounts))
        case_items.append([(add_item(case, CONTENTS[c], f"item-{n}-{k}.txt"), c)
                           for k, c in enumerate(spec.items)])
        cases.append(case)
        titles.append(title)
    snapshot_items = []
    for n, spec in enumerate(world.holds):
        hold = make_hold(status=spec.status, kind=spec.kind,
                         case=cases[spec.case] if spec.case is not None else None,
                         identifiers=tuple(ACCOUNTS[a] for a in spec.accounts),
                         expires_at=oracle.expires_at(spec), ended_at=oracle.ended_at(spec))
        snapshot_items.append([(add_snapshot_item(hold, CONTENTS[c], f"snapshot-{n}-{k}.json"), c)
                               for k, c in enumerate(spec.snapshot)])
    request_items = []
    for n, spec in enumerate(world.requests):
        request = make_request(officer, over_at=oracle.request_over_at(spec),
                               accounts=tuple(ACCOUNTS[a] for a in spec.accounts))
        request_items.append([(add_request_item(request, CONTENTS[c], f"collected-{n}-{k}.json"), c)
                              for k, c in enumerate(spec.items)])
    names = {}
    for group in case_items + snapshot_items + request_items:
        for item, content in group:
            names[content] = item.blob.storage_name
    return Built(cases, case_items, snapshot_items, request_items, titles, names)


def run_and_check(world: World, oracle: Oracle, built: Built, store: BlobStore, at: datetime,
                  first_run: datetime | None) -> None:
    clock.freeze(at)
    # is_held (the SQL) agrees with the oracle, before anything changes.
    for n, case in enumerate(built.cases):
        assert is_held(case, at) is oracle.case_held(n, at), f"case {n}"
        for item, _ in built.case_items[n]:
            assert is_held(item, at) is oracle.case_held(n, at), f"item of case {n}"
    for n, group in enumerate(built.snapshot_items):
        for item, _ in group:
            assert is_held(item, at) is oracle.snapshot_held(n, at), f"snapshot of hold {n}"
    for n, group in enumerate(built.request_items):
        for item, _ in group:
            assert is_held(item, at) is oracle.request_held(n, at), f"collected for request {n}"

    dry = purge_due(at, dry_run=True)
    report = purge_due(at)
    settle_stored_files()
    db.session.expire_all()
    assert (dry.cases, dry.item_ids, dry.files_removed) == (report.cases, report.item_ids,
                                                           report.files_removed)

    surviving_contents = set()
    for n, case in enumerate(built.cases):
        due = oracle.case_due(n, at)
        spec = world.cases[n]
        closed = oracle.closed_at(spec)
        if closed is not None and closed <= at - oracle.retention:
            event("case past retention: " + ("held" if oracle.case_held(n, at) else "purged"))
        if closed == at - oracle.retention:
            event("case closed exactly one retention period ago")
        was_due_before = first_run is not None and oracle.case_due(n, first_run)
        if due:
            assert case.purged_at == (first_run if was_due_before else at), f"case {n}"
            assert case.title == "(purged)"
            assert _count(Subject, case.id) == 0 and _count(Identifier, case.id) == 0
        else:
            assert case.purged_at is None and case.title == built.titles[n], f"case {n} touched"
            assert _count(Subject, case.id) == len(spec.subjects)
            assert _count(Identifier, case.id) == sum(len(s) for s in spec.subjects)
        for item, content in built.case_items[n]:
            _check_item(item, content, due, was_due_before, at, first_run, store)
            if not due:
                surviving_contents.add(content)
    for n, group in enumerate(built.snapshot_items):
        due = oracle.snapshot_due(n, at)
        was_due_before = first_run is not None and oracle.snapshot_due(n, first_run)
        if group and oracle.hold_ended(world.holds[n], at) is not None:
            event("snapshot of an ended hold: " + ("destroyed" if due else "kept"))
        for item, content in group:
            _check_item(item, content, due, was_due_before, at, first_run, store)
            if not due:
                surviving_contents.add(content)

    for n, group in enumerate(built.request_items):
        due = oracle.request_due(n, at)
        was_due_before = first_run is not None and oracle.request_due(n, first_run)
        if world.requests[n].over is not None:
            event("collection of a closed request: " + ("destroyed" if due else "kept"))
        for item, content in group:
            _check_item(item, content, due, was_due_before, at, first_run, store)
            if not due:
                surviving_contents.add(content)

    # Stored bytes: gone exactly when no surviving item has them.
    for content, name in built.storage_names.items():
        sha256 = hashlib.sha256(CONTENTS[content]).hexdigest()
        blob = db.session.scalar(select(StoredBlob).where(StoredBlob.sha256 == sha256))
        if content in surviving_contents:
            assert store.exists(name) and blob is not None, f"content {content} lost"
            assert b"".join(store.read(name)) == CONTENTS[content]
        else:
            assert not store.exists(name), f"content {content} left on disk"
            assert blob is None

    assert verify_chain().ok
    assert purge_due(at).nothing_to_do, "a second run at the same moment purges nothing"


def _check_item(item, content, due, was_due_before, at, first_run, store) -> None:
    actions = [c.action for c in db.session.scalars(
        select(CustodyEvent).where(CustodyEvent.evidence_id == item.id).order_by(CustodyEvent.id))]
    assert item.sha256 == hashlib.sha256(CONTENTS[content]).hexdigest()
    if due:
        assert item.destroyed_at == (first_run if was_due_before else at)
        assert item.blob_id is None and item.original_name == "(destroyed)"
        assert actions == ["collected", "destroyed"], "destroyed once, and recorded"
    else:
        # Held, or not yet due: untouched, bytes readable.
        assert item.destroyed_at is None and item.blob is not None
        assert item.original_name.startswith(("item-", "snapshot-", "collected-"))
        assert actions == ["collected"]
        assert b"".join(store.read(item.blob.storage_name)) == CONTENTS[content]


def _count(model, case_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(model.case_id == case_id))


DAY, SECOND = timedelta(days=1), timedelta(seconds=1)
# Worlds that must be tried on every run, whatever hypothesis draws.
HELD_ACCOUNT_AND_SHARED_BYTES = World(
    cases=(CaseSpec(ZERO, ((0,),), (0,)),  # held by account: kept, on the boundary
           CaseSpec(-40 * DAY, ((1,),), (0, 1)),  # purged; its copy of content 0 stays for case 0
           CaseSpec(None, ((2,),), (2,))),  # open
    holds=(HoldSpec("internal", "active", None, (0,), None, None, ()),
           HoldSpec("us_2703f", "released", 1, (1,), None, -DAY, (3,)),  # its snapshot goes
           HoldSpec("eu_epoc_pr", "expired", None, (0,), None, -40 * DAY, (2,))),  # held by hold 0
    at=BASE + timedelta(seconds=1234), earlier=DAY)
EXACTLY_ON_THE_CLOCK = World(
    cases=(CaseSpec(ZERO, ((3,),), (0,)),  # its hold expires exactly now: purged
           CaseSpec(-SECOND, ((4,),), (1,))),  # its hold expires a second from now: kept
    holds=(HoldSpec("us_2703f", "active", None, (3,), ("at", ZERO), None, ()),
           HoldSpec("eu_epoc_pr", "extended", 1, (), ("at", SECOND), None, ()),
           HoldSpec("internal", "active", None, (), ("cutoff", ZERO), None, (2,))),
    at=BASE + timedelta(microseconds=1), earlier=SECOND)
SNAPSHOT_OF_A_HELD_CASE = World(
    cases=(CaseSpec(DAY, ((2,),), ()),),
    holds=(HoldSpec("ncmec_report", "converted", 0, (), None, -40 * DAY, (1,)),
           HoldSpec("internal", "active", None, (2,), None, None, ())),
    at=BASE, earlier=None)
COLLECTED_FOR_REQUESTS = World(
    cases=(CaseSpec(None, ((3,),), (1,)),),  # open, with the same bytes as request 1's item
    holds=(HoldSpec("internal", "active", None, (0,), None, None, ()),),
    at=BASE + timedelta(seconds=99), earlier=DAY,
    requests=(RequestSpec(-40 * DAY, (0,), (0,)),  # over long ago, but its account is held
              RequestSpec(ZERO, (4,), (1,)),  # over exactly one period ago: its item goes
              RequestSpec(None, (2,), (2,))))  # still collecting: kept


@settings(max_examples=40, deadline=None, database=None,
          phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@example(world=HELD_ACCOUNT_AND_SHARED_BYTES)
@example(world=EXACTLY_ON_THE_CLOCK)
@example(world=SNAPSHOT_OF_A_HELD_CASE)
@example(world=COLLECTED_FOR_REQUESTS)
@given(world=worlds())
def test_retention_purges_exactly_what_is_due_and_never_what_is_held(app, officer, world):
    retention = timedelta(days=app.config["REFERRALS_SETTINGS"].retention_days)
    oracle = Oracle(world, retention)
    with isolated_example(app, "retention-example-") as store:
        built = build(world, oracle, officer)
        first = world.at - world.earlier if world.earlier else None
        if first is not None:
            run_and_check(world, oracle, built, store, first, None)
        run_and_check(world, oracle, built, store, world.at, first)


def test_the_pinned_worlds_mean_what_they_say(app):
    """The explicit examples above cover what their comments claim (per the oracle)."""
    retention = timedelta(days=app.config["REFERRALS_SETTINGS"].retention_days)
    world = HELD_ACCOUNT_AND_SHARED_BYTES
    oracle, at = Oracle(world, retention), world.at
    assert [oracle.case_held(n, at) for n in range(3)] == [True, False, False]
    assert [oracle.case_due(n, at) for n in range(3)] == [False, True, False]
    assert [oracle.snapshot_due(n, at) for n in range(3)] == [False, True, False]
    assert oracle.snapshot_held(2, at)

    world = EXACTLY_ON_THE_CLOCK
    oracle, at = Oracle(world, retention), world.at
    assert oracle.closed_at(world.cases[0]) == at - retention
    assert [oracle.case_due(n, at) for n in range(2)] == [True, False]
    assert not oracle.case_due(0, at - world.earlier), "a second earlier it was not yet due"
    assert oracle.case_held(1, at) and not oracle.case_held(1, at + SECOND)
    assert oracle.snapshot_due(2, at) and oracle.hold_ended(world.holds[2], at) == at - retention

    world = SNAPSHOT_OF_A_HELD_CASE
    oracle, at = Oracle(world, retention), world.at
    assert oracle.snapshot_held(0, at) and not oracle.snapshot_due(0, at)

    world = COLLECTED_FOR_REQUESTS
    oracle, at = Oracle(world, retention), world.at
    assert [oracle.request_held(n, at) for n in range(3)] == [True, False, False]
    assert [oracle.request_due(n, at) for n in range(3)] == [False, True, False]
    assert not oracle.request_due(1, at - world.earlier), "a day earlier it was not yet due"
