"""Fixtures shared with the request tests (officers, agencies, browsers)."""

from tests.requests.fixtures import *  # noqa: F401,F403
