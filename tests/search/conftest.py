"""Fixtures shared with the request tests."""

from tests.requests.fixtures import *  # noqa: F401,F403
