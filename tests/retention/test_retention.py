"""Retention, by example: what a purge removes and keeps, the boundary, holds, shared bytes,
idempotence, the CLI and the daily job. The properties over generated data are in
test_properties.py."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from referrals.audit.models import AuditEvent
from referrals.audit.services import verify_chain
from referrals.cases.models import (Case, CaseEvent, Escalation, Identifier, ReportedContent,
                                    Subject)
from referrals.cases.services import add_note as add_case_note
from referrals.cases.services import add_subject, change_status
from referrals.core.errors import DomainError
from referrals.core.transaction import commit
from referrals.evidence.models import CustodyEvent, EvidenceItem, StoredBlob
from referrals.evidence.services import add_evidence
from referrals.extensions import db
from referrals.holds.scope import Held
from referrals.retention.services import destroy_evidence_item, purge_case, purge_due
from tests.retention.helpers import (AGENT, add_account, add_escalation, add_item, add_note,
                                     add_snapshot_item, make_case, make_hold)

T0 = datetime(2024, 1, 10, 9, 0, tzinfo=UTC)  # when the data is made


@pytest.fixture
def days(app):
    return app.config["REFERRALS_SETTINGS"].retention_days


@pytest.fixture
def later(frozen, days):
    """The clock ``retention_days`` after T0 (plus ``extra``)."""

    def go(extra=timedelta(0)):
        return frozen(T0 + timedelta(days=days) + extra)

    frozen(T0)
    return go


def _actions(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.seq)))


def _custody(item) -> list[tuple[str, str]]:
    return [(c.action, c.purpose) for c in db.session.scalars(
        select(CustodyEvent).where(CustodyEvent.evidence_id == item.id).order_by(CustodyEvent.id))]


def _read(store, name) -> bytes:
    return b"".join(store.read(name))


# --- what a purge removes and keeps ------------------------------------------------------------


def test_a_closed_case_past_retention_is_purged_to_a_tombstone(later, store):
    case = make_case(closed_at=T0, title="Made-up Person's account")
    add_account(case, ("username", "made_up_one"), ("email", "one@example.invalid"))
    add_note(case)
    escalation = add_escalation(case)
    first = add_item(case, b"synthetic evidence one\n", "chat-with-made-up-person.txt")
    second = add_item(case, b"synthetic evidence two\n")
    names = [first.blob.storage_name, second.blob.storage_name]
    hashes = [(i.md5, i.sha1, i.sha256, i.size, i.mime_type) for i in (first, second)]

    at = later()
    report = purge_due(at)
    commit()
    db.session.expire_all()

    assert [c.reference for c in report.cases] == [case.reference]
    assert report.item_ids == [first.id, second.id] and report.files_removed == 2
    # The tombstone
    assert (case.title, case.summary, case.purged_at, case.status) == ("(purged)", "(purged)", at,
                                                                      "closed")
    assert case.closed_at == T0 and case.category == "other" and case.reference
    for model in (Subject, Identifier, ReportedContent):
        assert db.session.scalar(select(func.count()).select_from(model)
                                 .where(model.case_id == case.id)) == 0
    [event] = db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))
    assert event.kind == "purged" and "made-up" not in event.body.lower()
    assert json.loads(db.session.get(Escalation, escalation.id).payload) == {"purged": True}
    # The items: the record of what was destroyed, no bytes
    for item, name, kept in zip((first, second), names, hashes, strict=True):
        assert item.destroyed_at == at and item.blob_id is None
        assert (item.original_name, item.url, item.platform_content_id, item.description) == (
            "(destroyed)", None, None, "")
        assert (item.md5, item.sha1, item.sha256, item.size, item.mime_type) == kept
        assert _custody(item) == [("collected", "Uploaded to the case"),
                                  ("destroyed", "Retention period ended")]
        assert not store.exists(name)
    assert db.session.scalar(select(func.count()).select_from(StoredBlob)) == 0
    # The audit trail
    destroyed = _actions("evidence.destroyed")
    assert [e.object_id for e in destroyed] == [str(first.id), str(second.id)]
    assert json.loads(destroyed[0].after)["bytes_removed"] is True
    [purged] = _actions("case.purged")
    assert purged.object_id == case.reference and purged.actor_label == "Retention"
    assert json.loads(purged.after)["subjects"] == 1
    assert json.loads(purged.after)["identifiers"] == 2
    assert [json.loads(e.after)["cases"] for e in _actions("retention.run")] == [[case.reference]]
    assert verify_chain().ok


def test_the_retention_boundary_is_inclusive(later, days):
    exactly = make_case(closed_at=T0)
    a_second_short = make_case(closed_at=T0 + timedelta(seconds=1))
    report = purge_due(later())
    assert [c.reference for c in report.cases] == [exactly.reference]
    assert a_second_short.purged_at is None


def test_open_cases_are_never_purged_however_old(later):
    old_open = make_case(closed_at=None)
    add_item(old_open, b"synthetic open-case bytes\n")
    recent = make_case(closed_at=T0 + timedelta(days=1))
    report = purge_due(later(timedelta(days=5)) - timedelta(days=5))
    assert report.nothing_to_do
    assert old_open.purged_at is None and recent.purged_at is None


def test_purging_twice_purges_nothing_more(later, store):
    case = make_case(closed_at=T0)
    add_item(case, b"synthetic evidence\n")
    at = later()
    purge_due(at)
    custody_before = db.session.scalar(select(func.count()).select_from(CustodyEvent))
    again = purge_due(at)
    assert again.nothing_to_do and again.files_removed == 0
    assert db.session.scalar(select(func.count()).select_from(CustodyEvent)) == custody_before
    assert len(_actions("case.purged")) == 1 and len(_actions("retention.run")) == 2
    assert verify_chain().ok


def test_a_dry_run_reports_the_same_and_changes_nothing(later, store):
    case = make_case(closed_at=T0)
    item = add_item(case, b"synthetic evidence\n")
    name = item.blob.storage_name
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    at = later()
    dry = purge_due(at, dry_run=True)
    assert store.exists(name) and case.purged_at is None and item.destroyed_at is None
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events
    real = purge_due(at)
    assert (dry.cases, dry.item_ids, dry.files_removed) == (real.cases, real.item_ids,
                                                           real.files_removed)


def test_retention_cannot_run_ahead_of_the_clock(later):
    at = later()
    with pytest.raises(ValueError):
        purge_due(at + timedelta(seconds=1))


# --- shared bytes -----------------------------------------------------------------------------


def test_bytes_another_item_still_needs_stay(later, store):
    data = b"synthetic bytes in two cases\n"
    closed = make_case(closed_at=T0)
    still_open = make_case()
    gone = add_item(closed, data)
    kept = add_item(still_open, data)
    assert gone.blob_id == kept.blob_id
    name = kept.blob.storage_name

    report = purge_due(later())
    assert report.item_ids == [gone.id] and report.files_removed == 0
    assert gone.destroyed_at is not None and gone.blob_id is None
    assert _read(store, name) == data and kept.blob is not None
    assert json.loads(_actions("evidence.destroyed")[0].after)["bytes_removed"] is False

    # Once the other case is closed and its time runs out too, the bytes go.
    still_open.status, still_open.is_open, still_open.closed_at = "closed", False, T0
    db.session.flush()
    report = purge_due(later(timedelta(days=1)))
    commit()
    assert report.item_ids == [kept.id] and report.files_removed == 1
    assert not store.exists(name)
    assert db.session.scalar(select(func.count()).select_from(StoredBlob)) == 0


def test_bytes_shared_by_two_purged_cases_go_once(later, store):
    data = b"synthetic bytes in two closed cases\n"
    items = [add_item(make_case(closed_at=T0), data) for _ in range(2)]
    name = items[0].blob.storage_name
    report = purge_due(later())
    commit()
    assert report.files_removed == 1 and len(report.cases) == 2
    assert not store.exists(name)
    assert [json.loads(e.after)["bytes_removed"] for e in _actions("evidence.destroyed")] == [
        True, True]


# --- holds ----------------------------------------------------------------------------------


def _case_with_item(account=("username", "made_up_held")):
    case = make_case(closed_at=T0)
    add_account(case, account)
    item = add_item(case, b"synthetic held bytes " + account[1].encode() + b"\n")
    return case, item


def test_a_hold_on_the_case_keeps_it_whole(later, store):
    case, item = _case_with_item()
    make_hold(case=case)
    name = item.blob.storage_name
    report = purge_due(later(timedelta(days=400)))
    assert report.held_cases == [case.reference] and not report.cases
    assert case.purged_at is None and case.title == "Synthetic case"
    assert item.destroyed_at is None and item.original_name == "synthetic.txt"
    assert _read(store, name).startswith(b"synthetic held bytes")
    assert _custody(item) == [("collected", "Uploaded to the case")]


def test_a_hold_on_an_account_keeps_every_case_it_appears_in(later):
    case, item = _case_with_item(("email", "held@example.invalid"))
    other, _ = _case_with_item(("email", "free@example.invalid"))
    make_hold(identifiers=(("email", "held@example.invalid"),))
    report = purge_due(later())
    assert report.held_cases == [case.reference]
    assert [c.reference for c in report.cases] == [other.reference]
    assert item.destroyed_at is None


@pytest.mark.parametrize("status", ["released", "expired", "converted"])
def test_an_ended_hold_holds_nothing(later, status):
    case, _ = _case_with_item()
    make_hold(case=case, status=status, ended_at=T0)
    assert [c.reference for c in purge_due(later()).cases] == [case.reference]


def test_a_hold_past_its_expiry_holds_nothing_even_before_the_sweep_marks_it(later, days):
    case, _ = _case_with_item()
    make_hold(case=case, status="active", expires_at=T0 + timedelta(days=days))
    assert [c.reference for c in purge_due(later()).cases] == [case.reference]


def test_a_hold_released_after_the_clock_passes_makes_the_case_purgeable_next_run(later, frozen):
    case, item = _case_with_item()
    hold = make_hold(identifiers=(("username", "made_up_held"),), kind="us_2703f")
    first = later()
    assert purge_due(first).held_cases == [case.reference]
    assert case.purged_at is None

    frozen(first + timedelta(days=3))
    hold.status, hold.ended_at = "released", first + timedelta(days=3)
    db.session.flush()
    report = purge_due()
    assert [c.reference for c in report.cases] == [case.reference]
    assert case.purged_at is not None and item.destroyed_at is not None


def test_the_purge_paths_themselves_refuse_held_data(later):
    case, item = _case_with_item()
    make_hold(case=case)
    at = later()
    with pytest.raises(Held) as refused:
        destroy_evidence_item(AGENT, item, at=at, bytes_removed=True, owner={})
    assert refused.value.message == ("This evidence item is under a preservation hold: nothing "
                                     "in it can be deleted or altered until every hold on it has "
                                     "ended.")
    with pytest.raises(Held):
        purge_case(AGENT, case, at=at, items_destroyed=0)
    assert item.destroyed_at is None and case.purged_at is None


# --- snapshots of ended holds ---------------------------------------------------------------------


def test_snapshots_of_a_hold_that_ended_long_ago_are_destroyed(later, store):
    ended = make_hold(status="released", ended_at=T0, identifiers=(("username", "made_up_a"),))
    recent = make_hold(status="expired", ended_at=T0 + timedelta(days=2),
                       identifiers=(("username", "made_up_b"),))
    live = make_hold(status="active", identifiers=(("username", "made_up_c"),))
    old = add_snapshot_item(ended, b"synthetic snapshot a\n")
    name = old.blob.storage_name
    kept = [add_snapshot_item(recent, b"synthetic snapshot b\n"),
            add_snapshot_item(live, b"synthetic snapshot c\n")]

    report = purge_due(later())
    commit()
    assert report.snapshots == {ended.reference: 1} and report.item_ids == [old.id]
    assert old.destroyed_at is not None and not store.exists(name)
    assert _custody(old)[-1] == ("destroyed", "Retention period ended")
    assert json.loads(_actions("evidence.destroyed")[0].after)["hold"] == ended.reference
    assert all(i.destroyed_at is None and store.exists(i.blob.storage_name) for i in kept)
    assert verify_chain().ok


def test_a_snapshot_of_an_account_another_live_hold_freezes_is_kept(later):
    ended = make_hold(status="expired", ended_at=T0, identifiers=(("phone", "+12025550123"),))
    snapshot = add_snapshot_item(ended, b"synthetic snapshot of a held phone\n")
    make_hold(status="extended", identifiers=(("phone", "+12025550123"),), kind="eu_epoc_pr")
    report = purge_due(later())
    assert report.item_ids == [] and report.held_snapshot_items == 1
    assert snapshot.destroyed_at is None


# --- after a purge -------------------------------------------------------------------------------


def test_a_purged_case_cannot_be_reopened_or_added_to(later):
    case, _ = _case_with_item()
    purge_due(later())
    with pytest.raises(DomainError) as refused:
        change_status(AGENT, case, "investigating")
    assert refused.value.message == ("This case was purged under the retention policy: it cannot "
                                     "be reopened or added to. Open a new case instead.")
    with pytest.raises(DomainError):
        add_case_note(AGENT, case, "A note about a made-up person.")
    with pytest.raises(DomainError):
        add_subject(AGENT, case, label="made-up account")
    with pytest.raises(DomainError):
        add_evidence(AGENT, case, io.BytesIO(b"more\n"), original_name="more.txt")
    assert db.session.scalar(select(func.count()).select_from(Subject)
                             .where(Subject.case_id == case.id)) == 0


def test_the_cli_runs_it_and_audit_verify_still_passes(app, later, store, checkpoint_dir):
    case, item = _case_with_item()
    name = item.blob.storage_name
    later()
    runner = app.test_cli_runner()
    # Signed before the purge: the purge only appends to the chain, so it still holds.
    checkpoint = runner.invoke(args=["audit", "checkpoint"])
    assert checkpoint.exit_code == 0, checkpoint.output

    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would purge {case.reference} (closed 2024-01-10; 1 evidence item(s))" in dry.output
    assert "dry run: nothing changed" in dry.output
    assert store.exists(name)

    result = runner.invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert f"purged {case.reference}" in result.output
    assert "1 case(s), 1 evidence item(s) and 1 stored file(s) purged." in result.output
    assert not store.exists(name)
    db.session.expire_all()
    assert db.session.get(Case, case.id).purged_at is not None

    verify = runner.invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output
    assert verify.output.startswith("Audit chain intact:")

    again = runner.invoke(args=["retention", "run"])
    assert "0 case(s), 0 evidence item(s) and 0 stored file(s) purged." in again.output


def test_the_cli_names_what_it_keeps_because_it_is_held(app, later):
    case, _ = _case_with_item()
    make_hold(case=case)
    later()
    result = app.test_cli_runner().invoke(args=["retention", "run"])
    assert f"kept    {case.reference}: past retention but held" in result.output


def test_the_daily_job_purges_and_is_scheduled_daily(app, later, store):
    from referrals.job_queue import EXTENSION
    from referrals.retention.jobs import purge_retention_job

    case, item = _case_with_item()
    name = item.blob.storage_name
    at = later()
    purge_retention_job.enqueue()  # huey keeps no result for a periodic task: look at the effects
    assert not store.exists(name)
    db.session.expire_all()
    assert db.session.get(EvidenceItem, item.id).destroyed_at == at
    [run] = _actions("retention.run")
    assert run.actor_label == "job:retention"
    assert json.loads(run.after)["cases"] == [case.reference]
    assert json.loads(run.after)["files_removed"] == 1
    assert purge_retention_job()["cases"] == [], "run in-process it returns its summary"

    huey = app.extensions[EXTENSION].huey
    periodic = {task.name for task in huey._registry.periodic_tasks}
    assert purge_retention_job.name in periodic
    schedule = purge_retention_job.schedule
    assert schedule(datetime(2026, 5, 1, 3, 40)) and not schedule(datetime(2026, 5, 1, 4, 40))
    assert sum(schedule(datetime(2026, 5, 1, h, m)) for h in range(24) for m in range(60)) == 1


def test_destroyed_bytes_cannot_be_opened(later):
    from referrals.core.errors import NotFound
    from referrals.core.identity import Identity
    from referrals.evidence.services import open_content

    case, item = _case_with_item()
    purge_due(later())
    reader = Identity(kind="staff", label="reader", roles=frozenset({"agent"}))
    with pytest.raises(NotFound):
        open_content(reader, item, action="viewed", purpose="test")
    assert hashlib.sha256(b"synthetic held bytes made_up_held\n").hexdigest() == item.sha256
