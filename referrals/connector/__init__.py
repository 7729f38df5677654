"""The platform data connector: how the case manager asks the platform for its users' data.

The case manager does not own the platform's data. Everything it collects (for a disclosure
request's "collecting" step, for a preservation hold's snapshot) comes through one interface,
``PlatformConnector``, with one method per data category. A deployment names its own
implementation with ``REFERRALS_CONNECTOR=package.module:ClassName``; the class is built with
no arguments (it reads its own configuration) once per application.

``referrals.connector.demo.DemoConnector`` returns synthetic, deterministic data for any
identifier, so the demo and the tests work end to end without a platform.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, runtime_checkable

from flask import current_app

from referrals.core.errors import DomainError


@dataclass(frozen=True)
class Target:
    """An account to look up: an identifier kind (see ``referrals.vocabulary.identifiers.KINDS``)
    and its normalised value."""

    kind: str
    value: str


@dataclass(frozen=True)
class Period:
    """The dates asked for, inclusive; None on a side means unbounded on that side."""

    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class ExportFile:
    """One file the platform holds (a post's media, an attachment)."""

    name: str
    data: bytes
    platform_content_id: str | None = None
    url: str | None = None
    may_be_csam: bool = False


@dataclass(frozen=True)
class Export:
    """What the platform returned for one target and one data category: rows (JSON-ready
    dicts, each with its own timestamp where it has one) and files."""

    category: str
    target: Target
    period: Period
    records: list[dict] = field(default_factory=list)
    files: list[ExportFile] = field(default_factory=list)
    # Whether the platform knows the account at all: "no such account" is an answer too.
    found: bool = True


@runtime_checkable
class PlatformConnector(Protocol):
    """One method per data category (``referrals.requests.rules.DATA_CATEGORIES``)."""

    #: Recorded as the evidence items' source system.
    name: str

    def subscriber_information(self, target: Target, period: Period) -> Export: ...

    def login_records(self, target: Target, period: Period) -> Export: ...

    def interaction_records(self, target: Target, period: Period) -> Export: ...

    def content_items(self, target: Target, period: Period) -> Export: ...

    def transactions(self, target: Target, period: Period) -> Export: ...


# Data category (as requests and holds name them) → connector method.
METHODS = {
    "subscriber": "subscriber_information",
    "login_logout": "login_records",
    "interaction": "interaction_records",
    "content": "content_items",
    "transaction": "transactions",
}


class ConnectorError(DomainError):
    """The platform could not answer; the message is shown to staff."""

    status = 502
    title = "The platform did not answer"


def fetch(connector: PlatformConnector, category: str, target: Target, period: Period) -> Export:
    try:
        method = getattr(connector, METHODS[category])
    except KeyError:
        raise ConnectorError(f"There is no data category called {category!r}.") from None
    return method(target, period)


def load_connector(spec: str) -> PlatformConnector:
    """Build the connector named ``module:attribute``; refuse one that lacks a method."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConnectorError(f"REFERRALS_CONNECTOR must look like 'package.module:Class', not {spec!r}.")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ConnectorError(f"The platform connector {spec!r} cannot be loaded: {error}") from error
    connector = factory()
    missing = [m for m in ("name", *METHODS.values()) if not hasattr(connector, m)]
    if missing:
        raise ConnectorError(f"The platform connector {spec!r} lacks {', '.join(missing)}.")
    return connector


def get_connector() -> PlatformConnector:
    """The application's connector, built once."""
    extensions = current_app.extensions
    if "referrals.connector" not in extensions:
        spec = current_app.config["REFERRALS_SETTINGS"].connector
        extensions["referrals.connector"] = load_connector(spec)
    return extensions["referrals.connector"]
