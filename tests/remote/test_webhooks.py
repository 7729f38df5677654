"""Webhook deliveries are remote operations: stored with the change, their answer recorded,
retried later when the receiver cannot be reached."""

from __future__ import annotations

from referrals.core.transaction import commit
from referrals.extensions import db
from referrals.remote.models import RemoteOperation
from referrals.remote.webhooks import queue_webhook
from tests.requests.fixtures import free_port, override_settings, webhook  # noqa: F401


def _operation(operation_id: int) -> RemoteOperation:
    db.session.expire_all()
    return db.session.get(RemoteOperation, operation_id)


def test_a_delivery_records_the_receivers_answer(webhook):
    operation = queue_webhook(webhook.url, {"event": "x"}, object_type="request",
                              object_id="REQ-2026-000009")
    commit()
    operation = _operation(operation.id)
    [step] = operation.steps
    assert (operation.state, operation.kind, operation.object_id) == (
        "done", "webhook", "REQ-2026-000009")
    assert (step.state, step.outcome, step.remote_request_id) == ("done", {"status": 204}, "hook-1")
    [call] = webhook.calls
    assert call["idempotency_key"] == step.idempotency_key


def test_a_receiver_that_is_down_is_tried_again_later(app, override_settings):
    override_settings(http_retries=1)
    url = f"http://127.0.0.1:{free_port()}/hooks/oncall"  # nothing listens there
    operation = queue_webhook(url, {"event": "x"})
    commit()  # must not raise
    operation = _operation(operation.id)
    assert operation.state == "waiting" and operation.next_try_at is not None
    assert operation.steps[0].state == "pending" and operation.steps[0].attempts == 1
    assert operation.last_error.startswith("RemoteUnavailable: Could not reach 127.0.0.1")
