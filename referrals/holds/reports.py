"""Reading holds for reports: which holds expire soon (a page and a CSV)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from referrals.audit.services import record_event
from referrals.core.clock import as_utc, now
from referrals.core.errors import InvalidInput
from referrals.core.identity import Identity
from referrals.core.spreadsheet import spreadsheet_safe
from referrals.extensions import db
from referrals.holds.models import PreservationHold
from referrals.holds.notices import days_left, hold_time, kind_label
from referrals.holds.policies import hold_policy
from referrals.holds.rules import LIVE_STATUSES, STATUSES

DEFAULT_DAYS = 30
MAX_DAYS = 365


# --- holds expiring soon --------------------------------------------------------------------


def parse_days(raw: str | None) -> int:
    """The report's window from ``?days=``: 1 to 365, default 30."""
    if raw is None or raw.strip() == "":
        return DEFAULT_DAYS
    try:
        days = int(raw.strip())
    except ValueError:
        raise InvalidInput(f"days must be a whole number from 1 to {MAX_DAYS}.", field="days") from None
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be from 1 to {MAX_DAYS}.", field="days")
    return days


@dataclass(frozen=True)
class ExpiringRow:
    reference: str
    kind: str
    status: str
    expires_at: datetime
    expires: str  # in the legal time zone, zone named
    days_left: int
    agency: str
    request: str
    owner: str
    renewals: int
    extensions: int


def expiring_holds(identity: Identity, days: int, at: datetime | None = None) -> list[ExpiringRow]:
    """Live holds whose expiry falls within ``days`` of ``at``, soonest first."""
    hold_policy.require(identity, "list")
    at = as_utc(at or now())
    holds = db.session.scalars(
        select(PreservationHold)
        .where(PreservationHold.status.in_(LIVE_STATUSES),
               PreservationHold.expires_at > at,
               PreservationHold.expires_at <= at + timedelta(days=days))
        .options(selectinload(PreservationHold.agency), selectinload(PreservationHold.request),
                 selectinload(PreservationHold.owner))
        .order_by(PreservationHold.expires_at, PreservationHold.id))
    return [ExpiringRow(
        reference=h.reference, kind=kind_label(h.kind), status=STATUSES.get(h.status, h.status),
        expires_at=as_utc(h.expires_at), expires=hold_time(h, h.expires_at),
        days_left=days_left(h.expires_at, at),
        agency=h.agency.name if h.agency is not None else "",
        request=h.request.reference if h.request is not None else "",
        owner=h.owner.email if h.owner is not None else "",
        renewals=h.renewals, extensions=h.extensions) for h in holds]


CSV_COLUMNS = ("reference", "kind", "status", "expires_at_utc", "expires_legal_time", "days_left",
               "agency", "request", "owner", "renewals", "extensions")


def export_expiring_csv(identity: Identity, days: int, at: datetime | None = None) -> str:
    """The report as CSV text; the export is audited."""
    hold_policy.require(identity, "export")
    at = as_utc(at or now())
    rows = expiring_holds(identity, days, at)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([spreadsheet_safe(v) for v in (
            row.reference, row.kind, row.status,
            row.expires_at.isoformat(timespec="seconds"), row.expires, row.days_left,
            row.agency, row.request, row.owner, row.renewals, row.extensions)])
    record_event(identity, "hold.export", object_type="hold_report", object_id="expiring",
                 after={"days": days, "rows": len(rows),
                        "references": [row.reference for row in rows]})
    return out.getvalue()
