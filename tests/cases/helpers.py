"""Helpers shared by the case, evidence and token tests: synthetic data only."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from referrals.audit.models import AuditEvent
from referrals.cases import services
from referrals.cases.models import Case, CaseEvent
from referrals.core.clock import now
from referrals.core.identity import Identity, system_identity
from referrals.extensions import db
from referrals.tokens.services import create_token
from tests.conftest import csrf_from

SYSTEM = system_identity("test")


def make_token(user, *scopes: str, **kwargs) -> str:
    """An API token for ``user``; returns the secret (shown once)."""
    _, secret = create_token(SYSTEM, user, scopes=scopes or ["escalations:write"], **kwargs)
    return secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def escalation(**overrides) -> dict:
    """A synthetic escalation as an upstream system would send it (JSON-ready)."""
    tag = uuid.uuid4().hex[:10]
    body = {
        "source_system": "test-hashmatcher",
        "external_id": f"EXT-{tag}",
        "category": "violent_extremism",
        "reason": "classifier",
        "detected_at": (now() - timedelta(hours=1)).isoformat(),
        "accounts": [{
            "label": f"made_up_{tag}",
            "identifiers": [{"kind": "platform_user_id", "value": f"u-{tag}"}],
        }],
    }
    body.update(overrides)
    return body


def account(label: str, *identifiers: tuple[str, str], **extra) -> dict:
    return {"label": label, "identifiers": [{"kind": k, "value": v} for k, v in identifiers],
            **extra}


def open_case(user, *, title="Synthetic case", category="other", priority="P2", **kwargs) -> Case:
    return services.open_case(Identity.for_user(user), title=title, category=category,
                              priority=priority, **kwargs)


def add_target(user, case: Case, *identifiers: tuple[str, str], label="made_up_target"):
    actor = Identity.for_user(user)
    subject = services.add_subject(actor, case, label=label)
    for kind, value in identifiers:
        services.add_identifier(actor, subject, kind=kind, value=value)
    return subject


def count_cases() -> int:
    return db.session.scalar(select(func.count(Case.id)))


def reload_case(reference: str) -> Case:
    db.session.expire_all()
    return db.session.scalar(select(Case).where(Case.reference == reference))


def timeline(case: Case) -> list[CaseEvent]:
    return list(db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                   .order_by(CaseEvent.occurred_at, CaseEvent.id)))


def audit_events(action: str, object_id=None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action)
    if object_id is not None:
        query = query.where(AuditEvent.object_id == str(object_id))
    return list(db.session.scalars(query.order_by(AuditEvent.seq)))


def audit_after(event: AuditEvent) -> dict:
    return json.loads(event.after) if event.after else {}


def post_form(client, page_url: str, action_url: str, data: dict | None = None, **kwargs):
    """Load ``page_url`` for its CSRF token, then post ``data`` to ``action_url``."""
    page = client.get(page_url)
    assert page.status_code == 200, page.status_code
    return client.post(action_url, data={"csrf_token": csrf_from(page.text), **(data or {})},
                       **kwargs)
