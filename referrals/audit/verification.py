"""Checking the audit trail from the page and on a schedule.

- **Verify the chain** (``start_verification``): a job walks the whole chain against every
  signed checkpoint (``checkpoints.verify_trail``), reporting how far it got
  (``core.progress``), so a chain of millions shows a moving bar instead of a hung page. The
  worker also runs it every night (02:30 UTC). A chain that does not verify is an
  ``audit.chain_verified`` event with ``ok: false`` and an alert to on-call (``alerts``).
- **The latest checkpoint** (``checkpoint_status``): which one, when it was signed, where it is
  kept, and whether the chain still holds the event it signed with the hash it signed: one
  indexed lookup, cheap enough for every load of the page. Failed, missing or older than
  twice the checkpoint interval (plus a quarter of an hour of slack) is an alert on the
  page; the worker checks the same every hour (at :45) and alerts on-call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from huey import crontab
from sqlalchemy import select

from referrals.audit.alerts import Alert, send_alert
from referrals.audit.checkpoints import (WRITTEN, Checkpoint, CheckpointDirectory,
                                         CheckpointError, open_checkpoint, verify_trail)
from referrals.audit.labels import Labels
from referrals.audit.log import audit_policy
from referrals.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from referrals.audit.services import HEAD_ID, record_event
from referrals.core import outbox
from referrals.core.clock import as_utc, now
from referrals.core.display import time_span
from referrals.core.identity import Identity, system_identity
from referrals.core.progress import (JobProgress, latest_progress, report_progress,
                                     start_progress)
from referrals.core.signing import get_signer
from referrals.core.transaction import commit
from referrals.core.timefmt import format_instant
from referrals.extensions import db, jobs

KIND, OBJECT_TYPE, OBJECT_ID = "audit.verify", "audit_chain", "chain"
VERIFIED = "audit.chain_verified"
SLACK = timedelta(minutes=15)


def _settings():
    return current_app.config["REFERRALS_SETTINGS"]


def _head() -> tuple[int, str]:
    head = db.session.execute(select(AuditChainHead.seq, AuditChainHead.last_hash)
                              .where(AuditChainHead.id == HEAD_ID)).first()
    return (int(head.seq), head.last_hash) if head else (0, GENESIS_HASH)


# --- verifying the chain as a job ---------------------------------------------------------


def latest_verification() -> JobProgress | None:
    return latest_progress(KIND, OBJECT_TYPE, OBJECT_ID)


@dataclass(frozen=True)
class VerificationResult:
    at: datetime
    by: str
    ok: bool
    checked: int
    checkpoints: int
    problem: str
    bad_seq: int | None


def last_result() -> VerificationResult | None:
    """The latest finished verification, from its audit event."""
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == VERIFIED)
                              .order_by(AuditEvent.seq.desc()).limit(1))
    if event is None:
        return None
    after = json.loads(event.after or "{}")
    return VerificationResult(as_utc(event.occurred_at), event.actor_label, bool(after.get("ok")),
                              int(after.get("checked") or 0), int(after.get("checkpoints") or 0),
                              after.get("problem") or "", after.get("bad_seq"))


def start_verification(identity: Identity) -> JobProgress:
    """Queue a verification of the whole chain (the one already waiting or running, if
    any: two walks of a long chain at once help nobody). Audited."""
    audit_policy.require(identity, "verify")
    running = latest_verification()
    if running is not None and not running.finished:
        return running
    total, _ = _head()
    progress = start_progress(KIND, OBJECT_TYPE, OBJECT_ID, total=total,
                              message=f"{total:,} events to check", started_by_id=identity.user_id)
    entry = outbox.enqueue(verify_chain_job, progress.id, key=f"{KIND}:{progress.id}")
    progress.outbox_entry_id = entry.id
    record_event(identity, "audit.verification_started", object_type=OBJECT_TYPE,
                 object_id=OBJECT_ID, after={"events": total, "progress_id": progress.id})
    return progress


def run_verification(progress_id: int, actor: Identity) -> bool:
    """Walk the chain, moving the progress record on after each batch (each a commit of its
    own), then record the outcome (and alert on a failure) in the job's last transaction."""
    report_progress(progress_id, state="running", message="Checking the chain …")

    def moved(seq: int) -> None:
        report_progress(progress_id, done=seq, message=f"Checked up to event #{seq:,}")

    report = verify_trail(progress=moved)
    outcome = {"ok": report.ok, "checked": report.checked, "checkpoints": report.checkpoints,
               "problem": report.problem or None, "note": report.note or None,
               "bad_seq": report.bad_seq,
               "latest_checkpoint": report.latest.name if report.latest else None}
    record_event(actor, VERIFIED, object_type=OBJECT_TYPE, object_id=OBJECT_ID, after=outcome)
    if report.ok:
        report_progress(progress_id, state="done", done=report.checked, total=report.checked,
                        message=f"Intact: {report.checked:,} events checked. {report.note}",
                        commit_now=False)
        return True
    send_alert(actor, Alert("chain_failed", report.problem, report.bad_seq))
    report_progress(progress_id, state="failed", done=report.checked,
                    message=f"BROKEN after {report.checked:,} good events: {report.problem}.",
                    commit_now=False)
    return False


@jobs.task()
def verify_chain_job(progress_id: int) -> bool:
    """Verify the chain for a person who asked from the page (an outbox job)."""
    progress = db.session.get(JobProgress, progress_id)
    started_by = progress.started_by_id if progress else None
    asker = Labels()
    asker.want("user", started_by)
    who = asker.resolve().label("user", started_by) or (f"user #{started_by}" if started_by else "")
    return run_verification(progress_id, system_identity(
        f"job:audit verify (asked by {who})"[:255] if who else "job:audit verify"))


@jobs.periodic_task(crontab(minute="30", hour="2"))
def verify_chain_nightly() -> bool:
    """Every night at 02:30 UTC: the same walk, shown on the page like one asked for there."""
    actor = system_identity("job:audit verify nightly")
    total, _ = _head()
    progress = start_progress(KIND, OBJECT_TYPE, OBJECT_ID, total=total,
                              message="Nightly check")
    commit()  # the page shows it running from now on
    return run_verification(progress.id, actor)


# --- the latest checkpoint ----------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointStatus:
    state: str  # ok | failed | missing | stale | none (no store: nothing to show)
    checkpoint: Checkpoint | None
    kept_in: tuple[str, ...]  # where checkpoints go: the directory, the webhook
    problem: str = ""
    age: timedelta | None = None
    events_since: int = 0

    @property
    def age_text(self) -> str:
        return time_span(now() - self.age, now()) if self.age is not None else ""

    @property
    def alert(self) -> Alert | None:
        if self.state == "failed":
            return Alert("checkpoint_failed", self.problem, self.checkpoint.seq
                         if self.checkpoint else None)
        if self.state in ("missing", "stale"):
            return Alert("checkpoint_missing", self.problem)
        return None


def _latest_from_log() -> Checkpoint | None:
    """Without a directory (webhook only), what the log says the latest checkpoint signed."""
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == WRITTEN)
                              .order_by(AuditEvent.seq.desc()).limit(1))
    if event is None:
        return None
    after = json.loads(event.after or "{}")
    signed_at = as_utc(datetime.fromisoformat(after["signed_at"]))
    return Checkpoint(int(after["seq"]), after["chain_hash"], signed_at, after.get("key", ""),
                      _settings().base_url, after.get("file") or "(posted to the webhook)")


def checkpoint_status(at: datetime | None = None) -> CheckpointStatus:
    """The latest signed checkpoint and whether the chain still holds what it signed."""
    settings = _settings()
    at = as_utc(at or now())
    directory, webhook = settings.audit_checkpoint_dir, settings.audit_checkpoint_webhook_url
    kept_in = tuple(str(place) for place in (directory, webhook) if place)
    if not kept_in:
        return CheckpointStatus("missing", None, kept_in, problem=(
            "no checkpoint store is configured (REFERRALS_AUDIT_CHECKPOINT_DIR or "
            "REFERRALS_AUDIT_CHECKPOINT_WEBHOOK_URL), so nothing outside the database "
            "vouches for the log"))
    try:
        if directory is not None and not directory.exists():
            latest = None  # nothing written yet: "missing" below, unless the chain is empty
        elif directory is not None:
            newest = CheckpointDirectory(directory).read_all(last_only=True)
            latest = (open_checkpoint(get_signer(), newest[0][1], newest[0][0])
                      if newest else None)
        else:
            latest = _latest_from_log()
    except CheckpointError as error:
        return CheckpointStatus("failed", None, kept_in, problem=error.message.rstrip("."))
    head_seq, _ = _head()
    if latest is None:
        if head_seq == 0:
            return CheckpointStatus("none", None, kept_in)
        return CheckpointStatus("missing", None, kept_in, problem=(
            "no signed checkpoint of the audit chain has been written yet"))
    age = at - latest.signed_at
    since = max(0, head_seq - latest.seq)
    stored = db.session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == latest.seq))
    holds = GENESIS_HASH if latest.seq == 0 else stored
    if head_seq < latest.seq or holds != latest.chain_hash:
        return CheckpointStatus("failed", latest, kept_in, age=age, problem=(
            f"the chain no longer holds event #{latest.seq} as the checkpoint "
            f"{latest.name} signed it: events were removed or rewritten"))
    limit = timedelta(minutes=2 * settings.audit_checkpoint_minutes) + SLACK
    if age > limit:
        return CheckpointStatus("stale", latest, kept_in, age=age, events_since=since, problem=(
            f"the latest signed checkpoint is from {format_instant(latest.signed_at)}, "
            f"older than {int(limit.total_seconds() // 60)} minutes: checkpoints are not "
            "being written (is the worker running?)"))
    return CheckpointStatus("ok", latest, kept_in, age=age, events_since=since)


@jobs.periodic_task(crontab(minute="45"))
def watch_checkpoints() -> str:
    """Every hour: a failed, missing or stale checkpoint alerts on-call (once a day)."""
    status = checkpoint_status()
    if status.alert is not None:
        send_alert(system_identity("job:audit checkpoint watch"), status.alert)
    return status.state
