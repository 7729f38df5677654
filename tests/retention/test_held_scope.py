"""What retention added to the one question "is it held?": our copies of a held account's data
are held wherever they were collected (another hold's snapshot, a request's production)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from referrals.evidence.models import EvidenceItem
from referrals.evidence.services import add_collected_evidence
from referrals.extensions import db
from referrals.holds.scope import evidence_held_clause, is_held
from tests import factories
from tests.requests.helpers import submit
from tests.retention.helpers import (AGENT, add_account, add_item, add_snapshot_item, make_case,
                                     make_hold)

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock(frozen):
    frozen(AT - timedelta(days=30))


def _sql_says(item: EvidenceItem, at=AT) -> bool:
    return item.id in set(db.session.scalars(select(EvidenceItem.id).where(evidence_held_clause(at))))


def _agree(item: EvidenceItem, at=AT) -> bool:
    """is_held, after checking the many-rows form of the question gives the same answer."""
    answer = is_held(item, at)
    assert _sql_says(item, at) is answer
    return answer


def test_a_snapshot_is_held_while_another_live_hold_freezes_its_account():
    ended = make_hold(status="released", ended_at=AT - timedelta(days=10),
                      identifiers=(("username", "made_up_shared"),))
    snapshot = add_snapshot_item(ended, b"synthetic snapshot\n")
    assert not _agree(snapshot)
    other = make_hold(status="active", identifiers=(("username", "made_up_shared"),),
                      expires_at=AT + timedelta(days=1))
    assert _agree(snapshot)
    assert not _agree(snapshot, AT + timedelta(days=1)), "not once the other hold expires"
    other.status = "released"
    db.session.flush()
    assert not _agree(snapshot)


def test_a_snapshot_is_not_held_by_a_hold_on_another_account():
    ended = make_hold(status="expired", ended_at=AT, identifiers=(("username", "made_up_a"),))
    snapshot = add_snapshot_item(ended, b"synthetic snapshot\n")
    make_hold(identifiers=(("username", "made_up_b"), ("email", "made_up_a")))
    assert not _agree(snapshot), "the same value under another kind is another account"


def test_a_snapshot_is_held_while_its_case_is_held():
    case = make_case()
    add_account(case, ("phone", "+12025550150"))
    ended = make_hold(status="converted", ended_at=AT, case=case)
    snapshot = add_snapshot_item(ended, b"synthetic snapshot\n")
    assert not _agree(snapshot)
    make_hold(identifiers=(("phone", "+12025550150"),))  # holds the case, so its snapshot
    assert _agree(snapshot)


def test_its_own_live_hold_holds_a_snapshot():
    hold = make_hold(status="extended", expires_at=AT + timedelta(seconds=1))
    snapshot = add_snapshot_item(hold, b"synthetic snapshot\n")
    assert _agree(snapshot)
    assert not _agree(snapshot, AT + timedelta(seconds=1)), "expiry is exclusive"


def test_items_collected_for_a_request_are_held_with_its_targets():
    officer = factories.make_user("officer")
    request = submit(officer, targets=[{"kind": "username", "value": "@Made_Up_Target"}])
    item = add_collected_evidence(AGENT, io.BytesIO(b"synthetic production\n"), request=request,
                                  original_name="subscriber.json", source_system="demo-platform",
                                  data_category="subscriber", purpose="Collected (test)")
    assert not _agree(item)
    make_hold(identifiers=(("username", "made_up_other"),))
    assert not _agree(item)
    make_hold(identifiers=(("username", "made_up_target"),))
    assert _agree(item)


def test_a_case_item_is_held_exactly_when_its_case_is():
    case = make_case(closed_at=AT - timedelta(days=1000))
    add_account(case, ("device_id", "device-made-up"))
    item = add_item(case, b"synthetic case bytes\n")
    assert not _agree(item) and not is_held(case, AT)
    make_hold(identifiers=(("device_id", "device-made-up"),), expires_at=AT)
    assert not _agree(item) and not is_held(case, AT), "expired exactly now"
    make_hold(case=case, status="active")
    assert _agree(item) and is_held(case, AT)
