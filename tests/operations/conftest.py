"""The request fixtures (agencies, officers, a mail server) for the operations tests."""

from tests.requests.fixtures import *  # noqa: F401,F403
