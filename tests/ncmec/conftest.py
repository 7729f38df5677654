"""Synthetic CyberTipline cases: made-up accounts, reserved domains, documentation IPs."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest

from referrals.cases.escalations import receive_escalation
from referrals.core.clock import now
from referrals.core.identity import Identity
from referrals.demo.cases import synthetic_png
from referrals.evidence.services import add_evidence, record_custody
from tests.ncmec.sandbox_server import PASSWORD, USERNAME, SandboxServer
from tests.requests.fixtures import override_settings  # noqa: F401

INTAKE = Identity(kind="system", label="test:intake", scopes=frozenset({"escalations:write"}))


def grooming_case(*, reason="hash_match", identifiers=None, role="account", category="grooming"):
    tag = uuid.uuid4().hex[:8]
    identifiers = identifiers or [("platform_user_id", f"u-{tag}"),
                                  ("email", f"made.up.{tag}@example.net"),
                                  ("ip", "198.51.100.7")]
    intake = receive_escalation(INTAKE, {
        "source_system": "test-hashmatch", "external_id": f"T-{tag}", "category": category,
        "reason": reason, "detected_at": now() - timedelta(hours=2), "priority": "P1",
        "title": "Synthetic grooming case", "summary": "Made-up people.",
        "accounts": [{"label": f"made_up_{tag}", "role": role,
                      "identifiers": [{"kind": k, "value": v} for k, v in identifiers]}],
        "content": [{"platform_content_id": f"c-{tag}", "url": f"https://platform.example/c/{tag}",
                     "sha256": "ab" * 32, "may_be_csam": True}]})
    return intake.case


def add_file(user, case, name="capture.png", seed=1, viewed_by=None):
    actor = Identity.for_user(user)
    item = add_evidence(actor, case, io.BytesIO(synthetic_png(seed=seed)), original_name=name,
                        url="https://platform.example/media/" + name)
    if viewed_by is not None:
        record_custody(Identity.for_user(viewed_by), item, "viewed", "Reviewed for the report")
    return item


@pytest.fixture
def agent(make_user):
    return make_user("agent", cleared_for_csam=True)


@pytest.fixture(scope="session")
def sandbox_server():
    server = SandboxServer().start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server, override_settings):
    """The sandbox on loopback, empty, and the app's NCMEC settings pointing at it."""
    sandbox_server.state.reset()
    override_settings(ncmec_base_url=sandbox_server.base_url, ncmec_username=USERNAME,
                      ncmec_password=PASSWORD, http_retries=0)
    return sandbox_server.state
