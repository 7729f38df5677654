"""Fixtures for the token tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_sign_in_limit():
    """The sign-in rate limit counts per client address in memory for the whole run:
    start and leave these tests with a fresh allowance."""
    from referrals.extensions import limiter

    limiter.reset()
    yield
    limiter.reset()
