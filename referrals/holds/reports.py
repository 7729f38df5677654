"""Reading holds for reports: which holds expire soon (a page and a CSV), and loading one
hold for its confirmation letter, on the staff side or an officer's.

Officers reach a hold only through a request they may see (``portal_scope``): a hold on
another agency's request, or on none, is "not found", exactly like a reference that does
not exist.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import aliased, selectinload

from referrals.audit.services import record_event
from referrals.core.clock import as_utc, now
from referrals.core.errors import InvalidInput, NotFound
from referrals.core.identity import Identity
from referrals.extensions import db
from referrals.holds.models import PreservationHold
from referrals.holds.notices import days_left, hold_time, kind_label
from referrals.holds.policies import hold_policy
from referrals.holds.rules import LIVE_STATUSES, RENEWAL_REQUEST_TYPES, STATUSES
from referrals.requests.models import DisclosureRequest
from referrals.requests.services import portal_scope

DEFAULT_DAYS = 30
MAX_DAYS = 365


# --- one hold ---------------------------------------------------------------------------------


def get_hold_for_officer(identity: Identity, reference: str) -> PreservationHold:
    """The hold placed by a request the officer may see, or renewed by one (a renewal shows
    the hold it renewed in the portal, so its letter is there too)."""
    scope = portal_scope(identity)
    visible = scope.with_only_columns(DisclosureRequest.id)
    renewed = scope.with_only_columns(DisclosureRequest.related_reference).where(
        DisclosureRequest.request_type.in_(RENEWAL_REQUEST_TYPES),
        DisclosureRequest.related_reference.is_not(None))
    origin = aliased(DisclosureRequest)
    hold = db.session.scalar(
        select(PreservationHold)
        .join(origin, origin.id == PreservationHold.request_id)
        .where(PreservationHold.reference == reference.upper(),
               origin.agency_id == identity.agency_id,
               or_(origin.id.in_(visible), origin.reference.in_(renewed))))
    if hold is None:
        raise NotFound("There is no such hold.")
    return hold


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


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


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
