"""Webhook deliveries: a one-step remote operation, so a delivery is stored with the change
that caused it, retried with backoff when the receiver cannot be reached, and its answer (the
status and the receiver's request id) kept. Each delivery carries an ``Idempotency-Key``
header, the same on every attempt, so a receiver can drop a repeat after a lost answer."""

from __future__ import annotations

import uuid

from referrals.core.http import http_client, remote_request_id
from referrals.core.identity import Identity, system_identity
from referrals.remote.models import RemoteOperation
from referrals.remote.operations import (OperationKind, StepCall, StepKind, StepResult,
                                         register, start_operation)


def _post(call: StepCall) -> StepResult:
    with http_client() as client:
        response = client.request("POST", call.payload["url"], json=call.payload["body"],
                                  idempotency_key=call.idempotency_key)
    return StepResult(outcome={"status": response.status_code},
                      remote_request_id=remote_request_id(response))


WEBHOOK = register(OperationKind(
    name="webhook",
    plan=lambda payload: [("post", {})],
    steps={"post": StepKind(run=_post, repeatable=True)},
    max_attempts=6))


def queue_webhook(url: str | None, payload: dict, *, actor: Identity | None = None,
                  object_type: str | None = None, object_id: object = None
                  ) -> RemoteOperation | None:
    """POST ``payload`` as JSON to ``url`` once the current transaction has committed (never
    for a rolled-back change). Nothing when there is no URL."""
    if not url:
        return None
    return start_operation(actor or system_identity("webhook"), WEBHOOK.name,
                           key=f"webhook:{uuid.uuid4().hex}", payload={"url": url, "body": payload},
                           object_type=object_type, object_id=object_id)
