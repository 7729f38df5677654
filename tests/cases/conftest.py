"""Fixtures for the case tests: an integration account and its escalation token."""

from __future__ import annotations

import pytest

from tests import factories
from tests.cases.helpers import bearer, make_token


@pytest.fixture
def integration_user():
    """The upstream moderation system's account: staff kind, no staff role."""
    return factories.make_user(None, full_name="Made-up hash matcher", enrolled=False)


@pytest.fixture
def escalation_token(integration_user):
    return make_token(integration_user, "escalations:write")


@pytest.fixture
def post_escalation(client, escalation_token):
    def post(body, token=None, **kwargs):
        headers = bearer(token or escalation_token)
        return client.post("/api/v1/escalations", json=body, headers=headers, **kwargs)

    return post




@pytest.fixture
def browser(app, client):
    """``browser(user)``: another signed-in browser (each has its own cookies)."""
    from tests.conftest import SignIn

    def open_as(user):
        other = app.test_client()
        other.environ_base["HTTP_REFERER"] = "https://localhost/"
        SignIn(other)(user)
        return other

    return open_as


@pytest.fixture(autouse=True)
def _fresh_sign_in_limit():
    """These tests sign in often. The sign-in rate limit counts per client address in
    memory for the whole run, so their sign-ins must not use up later tests' allowance."""
    from referrals.extensions import limiter

    limiter.reset()
    yield
    limiter.reset()
