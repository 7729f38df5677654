"""Signed audit checkpoints in the app: written on demand and on schedule, to a directory and
to a webhook, audited; and ``verify_trail``'s refusals when there is nothing to check against."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from referrals.audit.checkpoints import (
    CheckpointError,
    open_checkpoint,
    verify_trail,
    write_checkpoint,
)
from referrals.audit.jobs import every_minutes, write_checkpoint_job
from referrals.audit.models import AuditEvent
from referrals.audit.services import record_event
from referrals.core.identity import system_identity
from referrals.core.signing import get_signer
from referrals.extensions import db, jobs
from tests.requests.fixtures import webhook  # noqa: F401  (fixture: a local HTTP receiver)

ACTOR = system_identity("test:checkpoints")


def _settings(app, **fields):
    app.config["REFERRALS_SETTINGS"] = replace(app.config["REFERRALS_SETTINGS"], **fields)


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.seq)))


def _head_seq() -> int:
    return db.session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0


def test_a_checkpoint_signs_the_head_and_its_writing_is_audited(checkpoint_dir):
    record_event(ACTOR, "test.recorded", after={"n": 1})
    db.session.flush()
    head = _head_seq()
    written = write_checkpoint(ACTOR)
    assert written.checkpoint.seq == head
    assert written.path.parent == checkpoint_dir
    checkpoint = open_checkpoint(get_signer(), written.path.read_bytes(), written.path.name)
    assert (checkpoint.seq, checkpoint.key) == (head, get_signer().fingerprint)
    [event] = _events("audit.checkpoint_written")
    assert event.seq == head + 1 and event.object_id == str(head)
    after = json.loads(event.after)
    assert after["chain_hash"] == checkpoint.chain_hash and after["file"] == written.path.name
    report = verify_trail()
    assert report.ok, report.problem
    assert report.latest.seq == head and report.checkpoints == 1


def test_the_scheduled_job_writes_a_checkpoint(checkpoint_dir):
    record_event(ACTOR, "test.recorded", after={"n": 2})
    db.session.flush()
    head = _head_seq()
    result = write_checkpoint_job()
    assert result["seq"] == head
    assert (checkpoint_dir / result["file"]).is_file()
    assert [e.actor_label for e in _events("audit.checkpoint_written")] == ["job:audit checkpoint"]


def test_the_worker_runs_the_job_on_the_hour_by_default(app):
    huey = jobs.huey_for(app)
    due = {task.name for task in huey.read_periodic(datetime(2026, 12, 1, 15, 0, tzinfo=UTC))}
    assert "referrals.audit.jobs.write_checkpoint_job" in due
    later = {task.name for task in huey.read_periodic(datetime(2026, 12, 1, 15, 30, tzinfo=UTC))}
    assert "referrals.audit.jobs.write_checkpoint_job" not in later


def test_the_interval_is_a_setting(app):
    every_quarter = every_minutes(replace(app.config["REFERRALS_SETTINGS"],
                                          audit_checkpoint_minutes=15))
    assert [every_quarter(datetime(2026, 12, 1, 9, minute)) for minute in (0, 15, 20, 45)] == [
        True, True, False, True]


def test_the_webhook_receives_a_signed_checkpoint(app, checkpoint_dir, webhook):
    _settings(app, audit_checkpoint_webhook_url=webhook.url)
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    assert f"queued for {webhook.url}" in result.output
    [call] = webhook.calls
    assert call["content_type"] == "application/json"
    received = open_checkpoint(get_signer(), call["raw"], "webhook")
    [stored] = checkpoint_dir.glob("checkpoint-*.json")
    assert received == open_checkpoint(get_signer(), stored.read_bytes(), "webhook")
    [event] = _events("audit.checkpoint_written")
    assert json.loads(event.after)["webhook"] is True


def test_a_webhook_alone_is_a_store_and_verify_then_needs_the_file(app, checkpoint_dir, webhook,
                                                                     tmp_path):
    _settings(app, audit_checkpoint_dir=None, audit_checkpoint_webhook_url=webhook.url)
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    assert "written to" not in result.output
    assert not checkpoint_dir.exists()
    [call] = webhook.calls
    report = verify_trail()
    assert not report.ok and "--checkpoint FILE" in report.problem
    received = tmp_path / "received.json"
    received.write_bytes(call["raw"])
    assert verify_trail(received).ok


def test_no_store_at_all_is_refused_plainly(app, checkpoint_dir):
    _settings(app, audit_checkpoint_dir=None, audit_checkpoint_webhook_url=None)
    with pytest.raises(CheckpointError, match="No checkpoint store is configured"):
        write_checkpoint(ACTOR)
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 1
    assert "No checkpoint store is configured" in result.output


def test_a_store_that_is_a_file_cannot_be_written(app, checkpoint_dir):
    checkpoint_dir.write_text("not a directory")
    with pytest.raises(CheckpointError, match="could not be written"):
        write_checkpoint(ACTOR)
    assert _events("audit.checkpoint_written") == []


def test_a_head_that_does_not_match_its_event_is_not_signed(checkpoint_dir):
    record_event(ACTOR, "test.recorded", after={"n": 3})
    db.session.flush()
    db.session.execute(AuditEvent.__table__.update().where(AuditEvent.seq == _head_seq())
                       .values(hash="f" * 64))
    with pytest.raises(CheckpointError, match="does not match it"):
        write_checkpoint(ACTOR)
    assert not checkpoint_dir.exists()


def test_unless_unchanged_skips_only_when_nothing_but_its_own_event_came_after(checkpoint_dir):
    record_event(ACTOR, "test.recorded", after={"n": 4})
    db.session.flush()
    assert write_checkpoint(ACTOR, unless_unchanged=True) is not None
    assert write_checkpoint(ACTOR, unless_unchanged=True) is None
    assert write_checkpoint(ACTOR) is not None  # the scheduled job always writes
    record_event(ACTOR, "test.recorded", after={"n": 5})
    db.session.flush()
    assert write_checkpoint(ACTOR, unless_unchanged=True) is not None
    assert len(list(checkpoint_dir.glob("checkpoint-*.json"))) == 3


def test_a_damaged_newest_checkpoint_stops_the_next_one(checkpoint_dir):
    """What would be signed is checked against the newest checkpoint; one that cannot be
    trusted is reported, not silently skipped."""
    record_event(ACTOR, "test.recorded", after={"n": 6})
    db.session.flush()
    written = write_checkpoint(ACTOR)
    written.path.write_text(written.path.read_text().replace('"seq\\":', '"seq\\": '))
    with pytest.raises(CheckpointError, match="does not verify with the platform's signing key"):
        write_checkpoint(ACTOR)
