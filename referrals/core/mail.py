"""Outgoing mail and webhooks, sent by a job after the change that caused them commits.

Mail goes through the SMTP server in the settings. With none configured (a laptop
running ``make run``), messages are written to ``instance/outbox/`` instead, so a
confirmation link can still be followed.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
import uuid
from email.message import EmailMessage

from flask import current_app

from referrals.core.transaction import on_commit
from referrals.extensions import jobs

log = logging.getLogger(__name__)


def queue_mail(to: list[str] | str, subject: str, body: str) -> None:
    """Send once the current transaction has committed (never for a rolled-back change)."""
    recipients = [to] if isinstance(to, str) else list(to)
    if recipients:
        on_commit(send_mail_job.enqueue, recipients, subject, body)


def queue_webhook(url: str | None, payload: dict) -> None:
    if url:
        on_commit(post_webhook_job.enqueue, url, payload)


@jobs.task(retries=3, retry_delay=30)
def send_mail_job(recipients: list[str], subject: str, body: str) -> None:
    settings = current_app.config["REFERRALS_SETTINGS"]
    message = EmailMessage()
    message["From"] = settings.mail_sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@referrals>"
    message.set_content(body)
    if not settings.smtp_host:
        outbox = settings.instance_path / "outbox"
        outbox.mkdir(parents=True, exist_ok=True)
        (outbox / f"{uuid.uuid4().hex}.eml").write_bytes(bytes(message))
        log.info("mail to %s written to %s (no SMTP server configured)", recipients, outbox)
        return
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        smtp.send_message(message)


@jobs.task(retries=5, retry_delay=20)
def post_webhook_job(url: str, payload: dict) -> None:
    data = json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (a setting)
        if response.status >= 300:
            raise RuntimeError(f"webhook answered {response.status}")
