"""Outgoing mail and webhooks: sent by a job only after the change that caused them commits,
through a real (local) SMTP server, or into instance/outbox/ when none is configured."""

from __future__ import annotations

import email
import email.policy

from referrals.core.mail import queue_mail, send_mail_job
from referrals.remote.webhooks import queue_webhook
from referrals.core.transaction import commit, rollback, unit_of_work
from tests.requests.fixtures import (mailbox, override_settings, smtp_server,  # noqa: F401
                                     webhook)
from tests.requests.fixtures import free_port


def test_mail_waits_for_the_commit_and_then_reaches_the_smtp_server(app, mailbox):
    queue_mail(["officer.one@made-up.police.example"], "An update on your request",
               "There is an update.\n")
    assert mailbox.messages == []  # nothing before the commit
    commit()
    [message] = mailbox.messages
    assert message["To"] == "officer.one@made-up.police.example"
    assert message["X-Envelope-To"] == "officer.one@made-up.police.example"
    assert message["Subject"] == "An update on your request"
    assert message["From"] == app.config["REFERRALS_SETTINGS"].mail_sender
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@referrals>")
    assert mailbox.body(message) == "There is an update.\n"


def test_mail_for_a_rolled_back_change_is_never_sent(mailbox):
    queue_mail("officer.two@made-up.police.example", "Confirm your e-mail address", "link")
    rollback()
    commit()  # a later commit does not send what the rollback dropped
    assert mailbox.messages == []


def test_unit_of_work_that_raises_sends_nothing(mailbox):
    try:
        with unit_of_work():
            queue_mail("officer.three@made-up.police.example", "Subject", "Body")
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    assert mailbox.messages == []


def test_one_message_to_several_recipients(mailbox):
    queue_mail(["a@made-up.example", "b@made-up.example"], "Several", "Body")
    commit()
    [message] = mailbox.messages
    assert sorted(message["X-Envelope-To"].split(", ")) == ["a@made-up.example", "b@made-up.example"]


def test_no_recipients_queues_nothing(app, mailbox):
    from referrals.core.transaction import _KEY
    from referrals.extensions import db

    queue_mail([], "Nobody", "Body")
    assert not db.session.info.get(_KEY)
    commit()
    assert mailbox.messages == []


def test_a_non_ascii_subject_and_body_survive_the_trip(mailbox):
    queue_mail("agent@made-up.example", "Mise à jour — demande", "Déjà vu: “quoted” ✓\n")
    commit()
    [message] = mailbox.messages
    assert message["Subject"] == "Mise à jour — demande"
    assert mailbox.body(message) == "Déjà vu: “quoted” ✓\n"


def test_without_an_smtp_server_mail_is_written_to_the_outbox(app, override_settings, tmp_path):
    settings = override_settings(smtp_host=None, instance_path=tmp_path)
    queue_mail("officer.four@made-up.police.example", "Outbox subject", "Outbox body\n")
    assert not (tmp_path / "outbox").exists()
    commit()
    [path] = list((settings.instance_path / "outbox").glob("*.eml"))
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "officer.four@made-up.police.example"
    assert message["Subject"] == "Outbox subject"
    assert message.get_body().get_content() == "Outbox body\n"


def test_an_smtp_server_that_is_down_does_not_undo_the_commit(app, override_settings, caplog):
    from referrals.accounts.models import User
    from referrals.extensions import db
    from tests import factories

    override_settings(smtp_host="127.0.0.1", smtp_port=free_port())  # nothing listens there
    user = factories.make_user("agent")
    queue_mail("nobody@made-up.example", "Lost", "Body")
    commit()  # must not raise
    assert db.session.get(User, user.id) is not None
    # The mail is still owed: its outbox entry waits for another attempt, with the reason.
    from sqlalchemy import select

    from referrals.core.outbox import OutboxEntry
    [entry] = db.session.scalars(select(OutboxEntry).where(
        OutboxEntry.job == send_mail_job.name)).all()
    assert (entry.state, entry.attempts) == ("pending", 1)
    assert "Connection refused" in entry.last_error or "refused" in entry.last_error.lower()


def test_webhook_waits_for_the_commit_and_posts_json(webhook):
    queue_webhook(webhook.url, {"event": "emergency_request", "reference": "REQ-2026-000001"})
    assert webhook.calls == []
    commit()
    [call] = webhook.calls
    assert call["path"] == "/hooks/oncall"
    assert call["content_type"] == "application/json"
    assert call["json"] == {"event": "emergency_request", "reference": "REQ-2026-000001"}
    assert call["idempotency_key"]  # the receiver can drop a repeat


def test_webhook_for_a_rolled_back_change_is_never_posted(webhook):
    queue_webhook(webhook.url, {"event": "x"})
    rollback()
    commit()
    assert webhook.calls == []


def test_no_webhook_url_queues_nothing(webhook):
    queue_webhook(None, {"event": "x"})
    queue_webhook("", {"event": "x"})
    commit()
    assert webhook.calls == []


def test_the_mail_job_can_run_directly(app, mailbox):
    send_mail_job(["direct@made-up.example"], "Direct", "Body")
    assert [m["Subject"] for m in mailbox.messages] == ["Direct"]
