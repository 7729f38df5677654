"""Fixtures for the holds core: officers of two made-up agencies (tests/requests/fixtures.py),
the demo platform as the connector, staff of each role, and a stopped clock."""

from __future__ import annotations

import pytest

from referrals.connector.demo import DemoConnector
from tests.connector.fixtures import use_connector  # noqa: F401  (fixture)
from tests.requests.fixtures import *  # noqa: F401,F403


@pytest.fixture(autouse=True)
def _demo_platform(use_connector):  # noqa: F811
    use_connector(DemoConnector())


@pytest.fixture
def us_time(override_settings):
    """The US legal time zone, named (the default, said out loud for the expiry assertions)."""
    return override_settings(legal_time_zone="America/Los_Angeles")
