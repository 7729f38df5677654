"""A hold takes a snapshot of its scope through the platform connector, in a job run after
the commit: evidence items owned by the hold, each with a "collected" custody event."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from referrals.connector.demo import DemoConnector
from referrals.core.identity import system_identity
from referrals.core.transaction import has_written
from referrals.core.storage import get_store
from referrals.evidence.models import CustodyEvent
from referrals.extensions import db
from referrals.holds import snapshot
from referrals.holds.models import PreservationHold
from referrals.holds.scope import is_held
from referrals.holds.snapshot import SNAPSHOT_LABEL, snapshot_hold, take_snapshot
from tests.connector import fakes
from tests.holds.helpers import by_reference, committed, hold_of, me, preserve, snapshot_items
from tests.requests.helpers import after, audit_events, post_form


def test_the_snapshot_is_taken_after_the_commit_and_owned_by_the_hold(officer_a, frozen):
    frozen(datetime(2026, 1, 10, 18, 0, tzinfo=UTC))
    request = preserve(officer_a)
    hold = hold_of(request)
    # Nothing is asked of the platform before the hold is stored.
    assert hold.snapshot_at is None and snapshot_items(hold) == []
    committed()
    hold = by_reference(hold.reference)
    assert hold.snapshot_at == datetime(2026, 1, 10, 18, 0, tzinfo=UTC)
    items = snapshot_items(hold)
    # Two accounts × three categories, plus the content files of each account.
    records = [i for i in items if i.original_name.endswith(".json")]
    assert sorted(i.original_name.split("-")[0] for i in records) == [
        "content", "content", "login_logout", "login_logout", "subscriber", "subscriber"]
    assert {i.hold_id for i in items} == {hold.id} and all(i.case_id is None for i in items)
    assert all(i.source_system == "demo-platform" for i in items)
    assert all(i.captured_by_label == SNAPSHOT_LABEL for i in items)
    custody = db.session.scalars(select(CustodyEvent).where(
        CustodyEvent.evidence_id.in_([i.id for i in items]))).all()
    assert {c.action for c in custody} == {"collected"} and len(custody) == len(items)
    assert {c.purpose for c in custody} == {f"Preservation snapshot for {hold.reference}"}
    [event] = audit_events("hold.snapshot_taken", hold.reference)
    assert after(event)["items"] == len(items) and event.actor_kind == "system"
    assert hold.events[-1].kind == "snapshot"
    assert all(is_held(i) for i in items)
    # The bytes are the platform's answer, hashed on the way in.
    first = records[0]
    data = b"".join(get_store().read(first.blob.storage_name))
    assert hashlib.sha256(data).hexdigest() == first.sha256


def test_the_snapshot_job_runs_once(officer_a):
    hold = hold_of(preserve(officer_a))
    committed()
    count = len(snapshot_items(hold))
    snapshot_hold(hold.id)
    snapshot_hold.enqueue(hold.id)
    assert take_snapshot(system_identity("test: again"), by_reference(hold.reference)) == []
    assert len(snapshot_items(hold)) == count
    assert len(audit_events("hold.snapshot_taken", hold.reference)) == 1


def test_a_platform_that_fails_leaves_the_snapshot_to_take_again(officer_a, use_connector,
                                                                 agent):
    use_connector(fakes.BrokenConnector())
    hold = hold_of(preserve(officer_a))
    committed()  # the job fails, and its transaction is rolled back
    hold = by_reference(hold.reference)
    assert hold.snapshot_at is None and snapshot_items(hold) == []
    use_connector(DemoConnector())
    from referrals.holds.services import request_snapshot

    request_snapshot(me(agent), hold)
    committed()
    hold = by_reference(hold.reference)
    assert hold.snapshot_at is not None and snapshot_items(hold)
    assert [e.kind for e in hold.events] == ["placed", "snapshot_requested", "snapshot"]


def test_a_snapshot_item_downloads_with_custody_and_audit(officer_a, agent, new_client):
    hold = hold_of(preserve(officer_a))
    committed()
    item = snapshot_items(hold)[0]
    browser = new_client(agent)
    page = browser.get(f"/holds/{hold.reference}")
    assert f"/holds/{hold.reference}/snapshot/{item.id}" in page.text
    response = browser.get(f"/holds/{hold.reference}/snapshot/{item.id}")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert hashlib.sha256(response.data).hexdigest() == item.sha256
    custody = db.session.scalars(select(CustodyEvent).where(
        CustodyEvent.evidence_id == item.id).order_by(CustodyEvent.id)).all()
    assert [c.action for c in custody] == ["collected", "downloaded"]
    assert custody[-1].actor_id == agent.id
    assert audit_events("evidence.downloaded", item.id)
    # An item of another hold is not found under this one.
    other = hold_of(preserve(officer_a, targets=[{"kind": "username", "value": "other_made_up"}]))
    committed()
    foreign = snapshot_items(other)[0]
    assert browser.get(f"/holds/{hold.reference}/snapshot/{foreign.id}").status_code == 404


@pytest.mark.parametrize("cleared", [False, True])
def test_flagged_media_in_a_snapshot_opens_only_for_cleared_staff(officer_a, make_user,
                                                                  use_connector, new_client,
                                                                  cleared):
    use_connector(fakes.FlaggedMediaConnector())
    hold = hold_of(preserve(officer_a, data_categories=["content"],
                            targets=[{"kind": "username", "value": "flagged_made_up"}]))
    committed()
    [flagged] = [i for i in snapshot_items(hold) if i.may_be_csam]
    browser = new_client(make_user("agent", cleared_for_csam=cleared))
    page = browser.get(f"/holds/{hold.reference}")
    assert "sensitive" in page.text
    assert (f"/holds/{hold.reference}/snapshot/{flagged.id}" in page.text) is cleared
    response = browser.get(f"/holds/{hold.reference}/snapshot/{flagged.id}")
    assert response.status_code == (200 if cleared else 403)
    actions = [c.action for c in db.session.scalars(select(CustodyEvent).where(
        CustodyEvent.evidence_id == flagged.id))]
    assert actions == (["collected", "downloaded"] if cleared else ["collected"])


def test_staff_can_ask_for_a_failed_snapshot_again_from_the_page(officer_a, agent, new_client,
                                                                  use_connector):
    use_connector(fakes.BrokenConnector())
    hold = hold_of(preserve(officer_a))
    committed()
    use_connector(DemoConnector())
    browser = new_client(agent)
    page = browser.get(f"/holds/{hold.reference}")
    assert 'id="snapshot-pending"' in page.text and 'id="take-snapshot"' in page.text
    response = post_form(browser, f"/holds/{hold.reference}", f"/holds/{hold.reference}/snapshot")
    assert response.status_code == 302
    assert by_reference(hold.reference).snapshot_at is not None


class _WatchingConnector(DemoConnector):
    """Notes, at each question, whether the asking transaction had written (a hold's claim,
    an item): then it would hold the write lock (SQLite) or row locks while it waits."""

    def __init__(self):
        super().__init__()
        self.written_while_asking: list[bool] = []

    def subscriber_information(self, target, period):
        self.written_while_asking.append(has_written())
        return super().subscriber_information(target, period)


def test_the_snapshot_waits_on_the_platform_holding_no_lock(officer_a, use_connector):
    watching = use_connector(_WatchingConnector())
    hold = hold_of(preserve(officer_a))
    committed()
    hold = by_reference(hold.reference)
    assert hold.snapshot_at is not None and snapshot_items(hold)
    assert watching.written_while_asking and not any(watching.written_while_asking)


def test_a_snapshot_that_loses_its_claim_drops_the_files_it_stored(officer_a, use_connector,
                                                                  monkeypatch):
    hold = hold_of(preserve(officer_a))
    use_connector(fakes.BrokenConnector())
    committed()  # the job fails: no snapshot yet
    use_connector(DemoConnector())
    hold = by_reference(hold.reference)
    stored: list = []
    original = snapshot.stage_exports

    def stage_then_lose_the_race(exports):
        planned = original(exports)
        stored.extend(staged for staged, _ in planned)
        db.session.execute(update(PreservationHold).where(PreservationHold.id == hold.id)
                           .values(snapshot_at=hold.placed_at))  # another run claimed it
        return planned

    monkeypatch.setattr(snapshot, "stage_exports", stage_then_lose_the_race)
    assert take_snapshot(system_identity("test: loser"), hold) == []
    committed()
    assert stored and not any(get_store().exists(staged.name) for staged in stored)
