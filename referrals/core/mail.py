"""Outgoing mail, sent by a job through the outbox after the change that caused it commits
(webhooks are remote operations: ``referrals.remote.webhooks``).

Mail goes through the SMTP server in the settings. With none configured (a laptop
running ``make run``), messages are written to ``instance/outbox/`` instead, so a
confirmation link can still be followed.
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from email.message import EmailMessage

from flask import current_app

from referrals.core import outbox
from referrals.extensions import jobs

log = logging.getLogger(__name__)


def queue_mail(to: list[str] | str, subject: str, body: str) -> None:
    """Send once the current transaction has committed (never for a rolled-back change, and
    not lost if the worker is down then: an outbox entry is stored with the change)."""
    recipients = [to] if isinstance(to, str) else list(to)
    if recipients:
        outbox.enqueue(send_mail_job, recipients, subject, body)


@jobs.task()
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

