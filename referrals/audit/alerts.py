"""Telling on-call that the audit trail is in trouble: the chain does not verify, or its
signed checkpoints failed, are missing or are too old.

The same channels as an emergency request (README "On-call alerts"):
``REFERRALS_ONCALL_EMAILS`` by mail and ``REFERRALS_ONCALL_WEBHOOK_URL`` by a JSON POST, both
through the outbox, so they leave only once the alert's audit event has committed and are
tried again until they do. One alert per kind of problem a UTC day: a check that runs every
hour pages once, not every hour (the log's own ``audit.alert_sent`` events say whether today's
went out).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timezone

from flask import current_app
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.audit.services import record_event
from referrals.core import outbox
from referrals.core.clock import now
from referrals.core.http import http_client
from referrals.core.identity import Identity
from referrals.core.mail import send_mail_job
from referrals.core.timefmt import format_instant
from referrals.extensions import db, jobs

SENT = "audit.alert_sent"
KINDS = {
    "chain_failed": "the audit chain does not verify",
    "checkpoint_failed": "the audit chain no longer matches its latest signed checkpoint",
    "checkpoint_missing": "there is no recent signed checkpoint of the audit chain",
}


@dataclass(frozen=True)
class Alert:
    kind: str  # a key of KINDS
    problem: str  # what was found, in words
    bad_seq: int | None = None


def _sent_today(kind: str, at: datetime) -> bool:
    start = datetime.combine(at.date(), time.min, tzinfo=timezone.utc)
    return db.session.scalar(
        select(AuditEvent.seq).where(AuditEvent.action == SENT, AuditEvent.object_type == "audit_log",
                                     AuditEvent.object_id == kind, AuditEvent.occurred_at >= start)
        .limit(1)) is not None


@dataclass(frozen=True)
class Sent:
    mailed: tuple[str, ...]
    webhook: str | None
    repeat: bool  # already sent today: nothing new queued


def send_alert(actor: Identity, alert: Alert) -> Sent:
    """Queue the mail and the webhook for ``alert`` (once per kind a day); audited as
    ``audit.alert_sent`` in the caller's transaction."""
    settings = current_app.config["REFERRALS_SETTINGS"]
    at = now()
    link = f"{settings.base_url}/audit/#integrity"
    key = f"audit.alert:{alert.kind}:{at:%Y-%m-%d}"
    mailed = tuple(settings.oncall_emails)
    webhook = settings.oncall_webhook_url
    if _sent_today(alert.kind, at):
        return Sent(mailed, webhook, True)
    subject = f"AUDIT TRAIL: {KINDS[alert.kind]}"
    body = (f"{alert.problem[:1].upper()}{alert.problem[1:]}.\n\n"
            f"Found at {format_instant(at)}. Nothing in the log should be trusted from "
            f"there on until this is explained.\n"
            + (f"First bad event: #{alert.bad_seq}.\n" if alert.bad_seq is not None else "")
            + f"\nCheck it: flask --app referrals audit verify\n{link}\n")
    if mailed:
        outbox.enqueue(send_mail_job, list(mailed), subject, body, key=f"{key}:mail")
    if webhook:
        payload = {"event": f"audit_{alert.kind}", "problem": alert.problem,
                   "bad_seq": alert.bad_seq, "detected_at": at.isoformat(), "url": link}
        outbox.enqueue(post_alert, webhook, payload, f"{key}:webhook", key=f"{key}:webhook")
    record_event(actor, SENT, object_type="audit_log", object_id=alert.kind,
                 after={"kind": alert.kind, "problem": alert.problem, "bad_seq": alert.bad_seq,
                        "mailed": list(mailed), "webhook": bool(webhook)})
    return Sent(mailed, webhook, False)


@jobs.task()
def post_alert(url: str, payload: dict, key: str) -> None:
    """POST the alert to the on-call webhook (an outbox job: retried with backoff; ``key``
    is its Idempotency-Key, so the receiver can drop a repeat)."""
    with http_client() as client:
        client.request("POST", url, json=payload, idempotency_key=key)
