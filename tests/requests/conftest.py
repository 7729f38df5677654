"""Fixtures shared with the request, portal and agency tests (see tests/requests/fixtures.py)."""

from tests.requests.fixtures import *  # noqa: F401,F403
