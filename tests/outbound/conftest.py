"""Fixtures shared with the request tests (officers, agencies, mail, clients)."""

from tests.requests.fixtures import *  # noqa: F401,F403
