"""Housekeeping: old bookkeeping rows go, what a page, a row or a person still needs stays,
and every removal is on the audit chain."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from referrals.accounts.models import SignInFailure
from referrals.audit.models import AuditEvent
from referrals.core.identity import system_identity
from referrals.core.outbox import OutboxEntry
from referrals.core.progress import JobProgress
from referrals.extensions import db
from referrals.job_queue import EXTENSION
from referrals.operations.housekeeping import prune, prune_records_job
from referrals.packages.models import EvidencePackage

NOW = datetime(2026, 12, 2, 4, 10, tzinfo=timezone.utc)
OLD = NOW - timedelta(days=31)
RECENT = NOW - timedelta(days=29)


def _entry(state: str, finished_at: datetime | None, key: str) -> OutboxEntry:
    entry = OutboxEntry(key=key, job="referrals.core.mail.send_mail_job", arguments={},
                        state=state, attempts=1, created_at=OLD - timedelta(days=1),
                        next_attempt_at=OLD, finished_at=finished_at, last_error="")
    db.session.add(entry)
    db.session.flush()
    return entry


def _progress(object_id: str, state: str, finished_at: datetime | None,
              entry: OutboxEntry | None = None, kind: str = "request.collect") -> JobProgress:
    at = OLD - timedelta(days=1)
    progress = JobProgress(kind=kind, object_type="request", object_id=object_id, state=state,
                           done=1, total=1, message="", created_at=at, updated_at=at,
                           finished_at=finished_at,
                           outbox_entry_id=entry.id if entry is not None else None)
    db.session.add(progress)
    db.session.flush()
    return progress


def _failure(at: datetime) -> SignInFailure:
    failure = SignInFailure(email="nobody@example.test", ip="192.0.2.7", user_agent="test",
                            reason="password", at=at)
    db.session.add(failure)
    db.session.flush()
    return failure


def _exists(model, row_id) -> bool:
    return db.session.scalar(select(model.id).where(model.id == row_id)) is not None


def _pruned_events() -> list[dict]:
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "operations.records_pruned").order_by(AuditEvent.seq))
    return [{"table": event.object_id, **json.loads(event.after)} for event in events]


def test_old_bookkeeping_goes_and_what_is_still_needed_stays(app):
    done_old = _entry("done", OLD, "old-done")
    done_recent = _entry("done", RECENT, "recent-done")
    failed_old = _entry("failed", OLD, "old-failed")  # someone must deal with it first
    pending = _entry("pending", None, "pending")
    named_by_kept_progress = _entry("done", OLD, "named")

    superseded = _progress("REQ-1", "done", OLD)
    latest = _progress("REQ-1", "done", OLD, named_by_kept_progress)  # the page shows it
    running = _progress("REQ-2", "running", None)
    _progress("REQ-2", "done", OLD)  # newer than the running one: the latest, kept
    recent = _progress("REQ-3", "failed", RECENT)
    _progress("REQ-3", "done", RECENT)
    old_failure, recent_failure = _failure(NOW - timedelta(days=366)), _failure(RECENT)

    kept_entries = [row.id for row in (done_recent, failed_old, pending, named_by_kept_progress)]
    kept_progress = [row.id for row in (latest, running, recent)]
    gone = {"outbox": done_old.id, "progress": superseded.id, "failure": old_failure.id}
    recent_failure_id = recent_failure.id

    pruned = prune(system_identity("test"), at=NOW)

    assert (pruned.outbox, pruned.progress, pruned.sign_in_failures) == (1, 1, 1)
    assert not _exists(OutboxEntry, gone["outbox"])
    assert all(_exists(OutboxEntry, row_id) for row_id in kept_entries)
    assert not _exists(JobProgress, gone["progress"])
    assert all(_exists(JobProgress, row_id) for row_id in kept_progress)
    assert not _exists(SignInFailure, gone["failure"])
    assert _exists(SignInFailure, recent_failure_id)

    events = {event["table"]: event for event in _pruned_events()}
    assert set(events) == {"outbox", "job_progress", "sign_in_failures"}
    assert events["outbox"]["rows"] == 1 and events["outbox"]["first_id"] == gone["outbox"]
    assert events["job_progress"]["first_id"] == gone["progress"]
    assert events["sign_in_failures"]["older_than"].startswith("2025-12-02")


def test_nothing_to_remove_records_nothing(app):
    _entry("done", RECENT, "recent")
    assert prune(system_identity("test"), at=NOW).summary()["outbox"] == 0
    assert _pruned_events() == []


def test_a_progress_record_a_package_names_is_kept(app):
    """Whatever table names a progress record (here a package's build), it stays: the rule
    reads the foreign keys, not a list a new feature could be missing from."""
    named = _progress("REQ-9", "done", OLD, kind="package.build")
    unnamed = _progress("REQ-9", "done", OLD, kind="package.build")
    _progress("REQ-9", "done", OLD, kind="package.build")  # the latest
    db.session.add(EvidencePackage(purpose="referral", label="housekeeping-test",
                                   recipient_kind="given", progress_id=named.id,
                                   expires_at=NOW, download_limit=1, created_at=OLD))
    db.session.flush()
    named_id, unnamed_id = named.id, unnamed.id
    assert prune(system_identity("test"), at=NOW).progress == 1
    assert _exists(JobProgress, named_id) and not _exists(JobProgress, unnamed_id)


def test_settings_choose_how_long(app):
    original = app.config["REFERRALS_SETTINGS"]
    app.config["REFERRALS_SETTINGS"] = replace(original, outbox_keep_days=60)
    try:
        entry_id = _entry("done", OLD, "kept-longer").id
        assert prune(system_identity("test"), at=NOW).outbox == 0
        assert _exists(OutboxEntry, entry_id)
    finally:
        app.config["REFERRALS_SETTINGS"] = original


def test_batches_each_commit_with_their_event(app, monkeypatch):
    from referrals.operations import housekeeping

    monkeypatch.setattr(housekeeping, "BATCH", 2)
    for number in range(5):
        _entry("done", OLD, f"batch-{number}")
    assert prune(system_identity("test"), at=NOW).outbox == 5
    assert [event["rows"] for event in _pruned_events() if event["table"] == "outbox"] == [2, 2, 1]


def test_the_daily_job_is_scheduled_once_a_day(app):
    huey = app.extensions[EXTENSION].huey
    assert prune_records_job.name in {task.name for task in huey._registry.periodic_tasks}
    schedule = prune_records_job.schedule
    assert schedule(datetime(2026, 5, 1, 4, 10))
    assert sum(schedule(datetime(2026, 5, 1, h, m)) for h in range(24) for m in range(60)) == 1


@pytest.mark.parametrize("value, message", [("0", "REFERRALS_OUTBOX_KEEP_DAYS"),
                                            ("ten", "REFERRALS_OUTBOX_KEEP_DAYS")])
def test_a_bad_setting_is_refused_in_plain_words(value, message):
    from config import ConfigError, load_settings

    with pytest.raises(ConfigError, match=message):
        load_settings({"REFERRALS_ENV": "development", "REFERRALS_OUTBOX_KEEP_DAYS": value})


def test_the_command_prints_what_it_removed_and_kept(app):
    _entry("done", datetime.now(timezone.utc) - timedelta(days=40), "cli-old")
    result = app.test_cli_runner().invoke(args=["housekeeping", "prune"])
    assert result.exit_code == 0, result.output
    assert "outbox:" in result.output and "1 removed" in result.output
