"""Connector tests."""

from tests.connector.fixtures import use_connector  # noqa: F401
