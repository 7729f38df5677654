"""Checking the trail from the page: the latest checkpoint and whether the chain still matches
it, a verification job with progress, the nightly run, and alerts to on-call by e-mail (a
real SMTP server) and webhook (a real HTTP receiver) when something is wrong."""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from referrals.audit.alerts import Alert, send_alert
from referrals.audit.checkpoints import write_checkpoint
from referrals.audit.models import AuditEvent
from referrals.audit.services import record_event
from referrals.audit.verification import (checkpoint_status, last_result, latest_verification,
                                          start_verification, verify_chain_nightly,
                                          watch_checkpoints)
from referrals.core.clock import now
from referrals.core.identity import Identity, system_identity
from referrals.core.transaction import commit
from referrals.extensions import db, jobs
from tests.audit.tampering import rewrite_from
from tests.conftest import csrf_from
from tests.requests.fixtures import (mailbox, override_settings, smtp_server,  # noqa: F401
                                     webhook)

ACTOR = system_identity("test:integrity")


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.seq)))


def _rewrite_from(seq: int) -> None:
    rewrite_from(db.session.connection(), seq)
    db.session.expire_all()


@pytest.fixture
def oncall(override_settings, mailbox, webhook):  # noqa: F811
    override_settings(oncall_emails=("oncall@referrals.example",),
                      oncall_webhook_url=webhook.url)
    return SimpleNamespace(mailbox=mailbox, webhook=webhook)


@pytest.fixture
def signed(checkpoint_dir):
    """A few events and a signed checkpoint of them, committed (so jobs see them)."""
    for n in range(3):
        record_event(ACTOR, "test.signed", after={"n": n})
    written = write_checkpoint(ACTOR)
    commit()
    return written.checkpoint


def _alerts(oncall) -> tuple[list, list]:
    return (oncall.mailbox.to("oncall@referrals.example"),
            [c for c in oncall.webhook.calls if c["path"] == "/hooks/oncall"])


def test_the_page_shows_the_latest_checkpoint_and_that_the_chain_matches_it(
        client, as_role, signed, checkpoint_dir):
    as_role("compliance")
    html = client.get("/audit/").get_data(as_text=True)
    assert "Latest signed checkpoint" in html and "Chain matches it" in html
    assert signed.name in html and signed.chain_hash in html
    assert str(checkpoint_dir) in html  # where it is kept
    assert "FAILED" not in html


def test_a_chain_that_no_longer_matches_its_checkpoint_fails_on_the_page_and_alerts(
        client, as_role, signed, oncall):
    _rewrite_from(signed.seq - 1)
    commit()
    status = checkpoint_status()
    assert status.state == "failed" and f"#{signed.seq}" in status.problem
    as_role("compliance")
    html = client.get("/audit/").get_data(as_text=True)
    assert "FAILED" in html and "The chain no longer matches its latest checkpoint" in html
    assert "alerts on-call (e-mail and webhook)" in html

    assert watch_checkpoints() == "failed"
    commit()  # the alert leaves once its audit event has committed
    mails, hooks = _alerts(oncall)
    [mail] = mails
    assert "no longer matches its latest signed checkpoint" in mail["Subject"]
    assert f"#{signed.seq}" in oncall.mailbox.body(mail)
    [hook] = hooks
    assert hook["json"]["event"] == "audit_checkpoint_failed"
    assert hook["json"]["bad_seq"] == signed.seq and hook["idempotency_key"]
    [sent] = _events("audit.alert_sent")
    assert json.loads(sent.after)["kind"] == "checkpoint_failed"

    # Checked again within the day: nobody is paged twice for the same trouble.
    watch_checkpoints()
    commit()
    assert len(_alerts(oncall)[0]) == 1 and len(_alerts(oncall)[1]) == 1


def test_verifying_from_the_page_runs_a_job_with_progress_and_alerts_when_broken(
        client, as_role, signed, oncall):
    _rewrite_from(signed.seq - 1)
    commit()
    as_role("compliance")
    page = client.get("/audit/")
    response = client.post("/audit/verify", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 302 and response.location.endswith("/audit/#integrity")
    # The job ran (jobs run at once in tests) after the request committed.
    progress = client.get("/audit/verify/progress").get_json()
    assert progress["state"] == "failed" and progress["finished"]
    # Found where the rewrite meets what the checkpoint signed.
    assert "BROKEN" in progress["message"] and f"event #{signed.seq} " in progress["message"]
    result = last_result()
    assert result is not None and not result.ok and result.bad_seq == signed.seq
    html = client.get("/audit/").get_data(as_text=True)
    assert "BROKEN" in html and f"Open event #{signed.seq}" in html
    mails, hooks = _alerts(oncall)
    assert len(mails) == 1 and "does not verify" in mails[0]["Subject"]
    assert hooks[0]["json"]["event"] == "audit_chain_failed"
    [started] = _events("audit.verification_started")
    assert started.actor_kind == "staff"


def test_an_intact_chain_verifies_with_progress_and_alerts_nobody(signed, make_user, oncall):
    for n in range(12):
        record_event(ACTOR, "test.more", after={"n": n})
    progress = start_verification(Identity.for_user(make_user("compliance")))
    assert progress.state == "queued" and progress.total >= 12
    commit()
    progress = latest_verification()
    assert progress.state == "done" and progress.done == progress.total
    assert "Intact" in progress.message
    assert last_result().ok
    assert _alerts(oncall) == ([], [])


def test_a_second_request_while_one_runs_joins_it(signed, make_user):
    viewer = Identity.for_user(make_user("compliance"))
    first = start_verification(viewer)  # not committed: still queued
    assert start_verification(viewer).id == first.id


def test_the_nightly_run_is_scheduled_and_checks_the_chain(app, signed):
    job = jobs.named("referrals.audit.verification.verify_chain_nightly")
    schedule = job.schedule_for(app.config["REFERRALS_SETTINGS"])
    at = now().replace(hour=2, minute=30, second=0, microsecond=0)
    assert schedule(at) and not schedule(at + timedelta(minutes=1))
    assert verify_chain_nightly() is True
    assert last_result().ok and last_result().by == "job:audit verify nightly"


def test_a_missing_or_stale_checkpoint_is_an_alert(app, checkpoint_dir, override_settings):  # noqa: F811
    record_event(ACTOR, "test.unsigned")
    db.session.flush()
    missing = checkpoint_status()
    assert missing.state == "missing" and missing.alert.kind == "checkpoint_missing"
    write_checkpoint(ACTOR)
    later = now() + timedelta(minutes=2 * 60 + 16)
    stale = checkpoint_status(at=later)
    assert stale.state == "stale" and "is the worker running" in stale.problem
    assert checkpoint_status().state == "ok"


def test_the_page_warns_when_no_checkpoint_exists(client, as_role, checkpoint_dir):
    record_event(ACTOR, "test.unsigned")
    commit()
    as_role("compliance")
    html = client.get("/audit/").get_data(as_text=True)
    assert "No checkpoint vouches for this log" in html
    assert "Nobody is alerted" in html  # no on-call channel in the test settings


def test_an_alert_without_channels_is_still_logged(app, override_settings):  # noqa: F811
    override_settings(oncall_emails=(), oncall_webhook_url=None)
    sent = send_alert(ACTOR, Alert("chain_failed", "made-up failure", 7))
    assert sent.mailed == () and sent.webhook is None and not sent.repeat
    assert json.loads(_events("audit.alert_sent")[0].after)["bad_seq"] == 7
