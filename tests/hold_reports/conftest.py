"""Fixtures for the hold sweep, letter and report tests: holds made directly with the models
(the placing services belong to the holds core), on synthetic requests and made-up agencies."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from referrals.core import clock
from referrals.extensions import db
from referrals.holds.models import HeldIdentifier, PreservationHold
from tests.requests.fixtures import *  # noqa: F401,F403  (mailbox, officers, agencies, clients)
from tests.requests.helpers import submit

# A fixed "now" for every test here: Tuesday 3 March 2026, 17:00 UTC (09:00 in Los Angeles).
NOW = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
_numbers = itertools.count(900001)


@pytest.fixture
def at_now():
    """The clock stopped at NOW (requests and services read the same clock)."""
    clock.freeze(NOW)
    yield NOW
    clock.freeze(None)


@pytest.fixture
def team(override_settings):
    """Reminders go to a team address; settings put back after the test."""
    return override_settings(team_emails=("ler-team@platform.example",), oncall_emails=(),
                             hold_reminder_days=(14, 7), legal_time_zone="America/Los_Angeles",
                             base_url="https://referrals.example")


@pytest.fixture
def preservation_request(officer_a, at_now):
    """A request from officer A (a court order, so nothing else places holds on it)."""
    return submit(officer_a)


def new_hold(*, expires_at: datetime | None, kind: str = "us_2703f", status: str = "active",
             request=None, agency=None, owner=None, review_due_at: datetime | None = None,
             identifiers=(("username", "@made_up_target_one"),), **fields) -> PreservationHold:
    placed = fields.pop("placed_at", NOW - timedelta(days=30))
    hold = PreservationHold(
        reference=fields.pop("reference", f"HOLD-2026-{next(_numbers):06d}"),
        kind=kind, status=status,
        legal_basis=fields.pop("legal_basis", "Made-up preservation letter under 18 U.S.C. 2703(f)"),
        request_id=request.id if request is not None else None,
        agency_id=(agency.id if agency is not None else
                   request.agency_id if request is not None else None),
        data_categories=fields.pop("data_categories", ["subscriber", "login_logout", "content"]),
        date_from=fields.pop("date_from", date(2025, 12, 1)),
        date_to=fields.pop("date_to", date(2026, 2, 28)),
        starts_at=fields.pop("starts_at", placed),
        expires_at=expires_at, review_due_at=review_due_at,
        owner_id=owner.id if owner is not None else None,
        placed_by_label="test fixture", placed_at=placed, updated_at=placed,
        **fields)
    hold.identifiers = [HeldIdentifier(kind=k, value=v, normalized=v.lower().lstrip("@"))
                        for k, v in identifiers]
    db.session.add(hold)
    db.session.flush()
    return hold


@pytest.fixture
def make_hold():
    return new_hold
