"""The transparency report for a half-year: government requests for user data by country, in the
columns the large platforms publish (TikTok's information requests report: legal requests,
emergency requests, accounts specified, disclosure rate, preservation requests; Meta's
government requests for user data: legal process and emergency disclosure requests, users or
accounts requested, percentage of requests where some data was produced, preservation
requests, requests with a non-disclosure order), plus user notices and CyberTipline reports.

Every number is counted by the database in a handful of grouped queries (one per table), so a
half-year of 100,000 requests builds in well under the benchmark's 10 seconds
(``bench/transparency.py``). The rules of counting, once:

- A request belongs to the half-year it was *received* in (UTC), and to the country of the
  agency that sent it.
- *Legal requests* are requests with legal process; *emergency requests* are emergency
  disclosure requests (18 U.S.C. 2702(b)(8)), which carry none (an emergency EPOC is legal
  process, counted under its type); *preservation requests* (2703(f), renewals, EPOC-PR) are
  their own table, as both platforms publish them apart. *Total* is legal plus emergency.
- *Accounts specified*: the accounts (targets) the requests name.
- *Some data disclosed*: the request has at least one disclosure record (whenever it left,
  up to when the report is built); the share is of the requests counted, in percent.
- *User notices given*: notices marked done within the half-year, by the request's country.
- *CyberTipline reports*: reports NCMEC confirmed as finished within the half-year.

Column names are stable (``TABLES``): scripts that read the CSV files rely on them, and a
test pins them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import and_, case, distinct, exists, func, select

from referrals.agencies.models import Agency
from referrals.core.clock import now
from referrals.core.errors import InvalidInput
from referrals.disclosures.models import Disclosure
from referrals.extensions import db
from referrals.holds.models import PreservationHold
from referrals.ncmec.models import NcmecReport
from referrals.requests.models import DisclosureRequest, RequestTarget, UserNoticeTask
from referrals.requests.rules import REQUEST_TYPES

PERIOD_PATTERN = re.compile(r"^(\d{4})-H([12])$")
PERIOD_MESSAGE = "Give a half-year as YYYY-H1 or YYYY-H2, for example 2026-H2."
FIRST_YEAR, LAST_YEAR = 2000, 2199

EMERGENCY_TYPES = tuple(key for key, kind in REQUEST_TYPES.items() if kind.emergency)
PRESERVATION_TYPES = tuple(key for key, kind in REQUEST_TYPES.items() if kind.preservation)
LEGAL_TYPES = tuple(key for key in REQUEST_TYPES
                    if key not in EMERGENCY_TYPES and key not in PRESERVATION_TYPES)

# table name → its columns, in order. Stable: add columns at the end, never rename.
TABLES: dict[str, tuple[str, ...]] = {
    "summary": (
        "period", "countries", "legal_requests", "emergency_requests", "total_requests",
        "total_accounts_specified", "total_requests_some_data_disclosed",
        "total_share_some_data_disclosed", "preservation_requests",
        "requests_with_nondisclosure_order", "user_notices_given", "cybertipline_reports",
        "cybertipline_cases_reported"),
    "requests_by_country": (
        "period", "country", "legal_requests", "legal_accounts_specified",
        "legal_requests_some_data_disclosed", "legal_share_some_data_disclosed",
        "emergency_requests", "emergency_accounts_specified",
        "emergency_requests_some_data_disclosed", "emergency_share_some_data_disclosed",
        "total_requests", "total_accounts_specified", "total_requests_some_data_disclosed",
        "total_share_some_data_disclosed"),
    "legal_process_by_type": (
        "period", "country", "legal_process_type", "legal_process_label", "requests",
        "accounts_specified", "requests_some_data_disclosed", "share_some_data_disclosed"),
    "preservation_by_country": (
        "period", "country", "preservation_requests", "renewal_requests",
        "accounts_specified", "holds_placed"),
    "user_notice_by_country": (
        "period", "country", "requests", "requests_with_nondisclosure_order",
        "share_with_nondisclosure_order", "nondisclosure_orders_without_end_date",
        "user_notices_given"),
}

TABLE_TITLES = {
    "summary": "Summary",
    "requests_by_country": "Requests for user data by country",
    "legal_process_by_type": "Legal requests by type of legal process",
    "preservation_by_country": "Preservation requests by country",
    "user_notice_by_country": "Non-disclosure orders and user notices by country",
}


@dataclass(frozen=True)
class Period:
    """A half-year, [start, end) in UTC."""

    key: str
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        last_day = "30 June" if self.key.endswith("H1") else "31 December"
        first_day = "1 January" if self.key.endswith("H1") else "1 July"
        return f"{first_day} – {last_day} {self.start.year}"


def parse_period(text: str | None) -> Period:
    """``2026-H2`` → 1 July 2026 00:00 UTC to 1 January 2027 00:00 UTC."""
    match = PERIOD_PATTERN.match((text or "").strip().upper())
    if not match:
        raise InvalidInput(PERIOD_MESSAGE, field="period")
    year, half = int(match.group(1)), int(match.group(2))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput(f"Give a year from {FIRST_YEAR} to {LAST_YEAR}.", field="period")
    start = datetime(year, 1 if half == 1 else 7, 1, tzinfo=UTC)
    end = datetime(year, 7, 1, tzinfo=UTC) if half == 1 else datetime(year + 1, 1, 1, tzinfo=UTC)
    return Period(f"{year}-H{half}", start, end)


def period_of(moment: datetime) -> Period:
    """The half-year ``moment`` falls in."""
    return parse_period(f"{moment.year}-H{1 if moment.month <= 6 else 2}")


def share(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent, one decimal; None when there is nothing to divide."""
    return round(100 * part / whole, 1) if whole else None


@dataclass
class TransparencyReport:
    period: Period
    built_at: datetime
    tables: dict[str, list[dict]] = field(default_factory=dict)

    def rows(self, table: str) -> list[dict]:
        return self.tables[table]

    @property
    def summary(self) -> dict:
        return self.tables["summary"][0]

    def as_json(self) -> dict:
        return {"period": self.period.key, "label": self.period.label,
                "starts_at": self.period.start.isoformat(), "ends_at": self.period.end.isoformat(),
                "built_at": self.built_at.isoformat(),
                "tables": {name: self.tables[name] for name in TABLES}}


@dataclass
class _Counts:
    requests: int = 0
    accounts: int = 0
    disclosed: int = 0
    nondisclosure: int = 0
    nondisclosure_open_ended: int = 0
    holds: int = 0


def _per_country_and_type(period: Period) -> dict[tuple[str, str], _Counts]:
    """(country, request type) → its counts, in two grouped queries."""
    in_period = and_(DisclosureRequest.received_at >= period.start,
                     DisclosureRequest.received_at < period.end)
    disclosed = exists().where(Disclosure.request_id == DisclosureRequest.id)
    held = exists().where(PreservationHold.request_id == DisclosureRequest.id)
    ndo = DisclosureRequest.nondisclosure_order.is_(True)

    def count_if(condition):
        return func.sum(case((condition, 1), else_=0))

    counts: dict[tuple[str, str], _Counts] = {}
    rows = db.session.execute(
        select(Agency.country, DisclosureRequest.request_type, func.count(DisclosureRequest.id),
               count_if(disclosed), count_if(ndo),
               count_if(and_(ndo, DisclosureRequest.nondisclosure_until.is_(None))),
               count_if(held))
        .join(Agency, Agency.id == DisclosureRequest.agency_id)
        .where(in_period)
        .group_by(Agency.country, DisclosureRequest.request_type))
    for country, kind, total, n_disclosed, n_ndo, n_open, n_held in rows:
        counts[(country, kind)] = _Counts(int(total), 0, int(n_disclosed or 0), int(n_ndo or 0),
                                          int(n_open or 0), int(n_held or 0))
    targets = db.session.execute(
        select(Agency.country, DisclosureRequest.request_type, func.count(RequestTarget.id))
        .join(DisclosureRequest, DisclosureRequest.id == RequestTarget.request_id)
        .join(Agency, Agency.id == DisclosureRequest.agency_id)
        .where(in_period)
        .group_by(Agency.country, DisclosureRequest.request_type))
    for country, kind, accounts in targets:
        counts.setdefault((country, kind), _Counts()).accounts = int(accounts)
    return counts


def _notices_given(period: Period) -> dict[str, int]:
    rows = db.session.execute(
        select(Agency.country, func.count(UserNoticeTask.id))
        .join(DisclosureRequest, DisclosureRequest.id == UserNoticeTask.request_id)
        .join(Agency, Agency.id == DisclosureRequest.agency_id)
        .where(UserNoticeTask.done_at >= period.start, UserNoticeTask.done_at < period.end)
        .group_by(Agency.country))
    return {country: int(n) for country, n in rows}


def _cybertipline(period: Period) -> tuple[int, int]:
    row = db.session.execute(
        select(func.count(NcmecReport.id), func.count(distinct(NcmecReport.case_id)))
        .where(NcmecReport.status == "finished", NcmecReport.finished_at >= period.start,
               NcmecReport.finished_at < period.end)).one()
    return int(row[0]), int(row[1])


def _sum(counts: dict[tuple[str, str], _Counts], country: str, kinds: tuple[str, ...]) -> _Counts:
    total = _Counts()
    for kind in kinds:
        part = counts.get((country, kind))
        if part:
            total.requests += part.requests
            total.accounts += part.accounts
            total.disclosed += part.disclosed
            total.nondisclosure += part.nondisclosure
            total.nondisclosure_open_ended += part.nondisclosure_open_ended
            total.holds += part.holds
    return total


def build_report(period: Period, *, built_at: datetime | None = None) -> TransparencyReport:
    """Count the half-year. Reads only; nothing is written or audited here (the page and the
    command that hand the report out audit that)."""
    counts = _per_country_and_type(period)
    notices = _notices_given(period)
    countries = sorted({country for country, _ in counts} | set(notices))
    asking = LEGAL_TYPES + EMERGENCY_TYPES
    key = period.key
    by_country, by_type, preservation, notice_rows = [], [], [], []
    for country in countries:
        legal = _sum(counts, country, LEGAL_TYPES)
        emergency = _sum(counts, country, EMERGENCY_TYPES)
        total = _sum(counts, country, asking)
        if total.requests:
            by_country.append({
                "period": key, "country": country,
                "legal_requests": legal.requests, "legal_accounts_specified": legal.accounts,
                "legal_requests_some_data_disclosed": legal.disclosed,
                "legal_share_some_data_disclosed": share(legal.disclosed, legal.requests),
                "emergency_requests": emergency.requests,
                "emergency_accounts_specified": emergency.accounts,
                "emergency_requests_some_data_disclosed": emergency.disclosed,
                "emergency_share_some_data_disclosed": share(emergency.disclosed,
                                                             emergency.requests),
                "total_requests": total.requests, "total_accounts_specified": total.accounts,
                "total_requests_some_data_disclosed": total.disclosed,
                "total_share_some_data_disclosed": share(total.disclosed, total.requests)})
        for kind in LEGAL_TYPES:
            part = counts.get((country, kind))
            if part and part.requests:
                by_type.append({
                    "period": key, "country": country, "legal_process_type": kind,
                    "legal_process_label": REQUEST_TYPES[kind].label, "requests": part.requests,
                    "accounts_specified": part.accounts,
                    "requests_some_data_disclosed": part.disclosed,
                    "share_some_data_disclosed": share(part.disclosed, part.requests)})
        kept = _sum(counts, country, PRESERVATION_TYPES)
        if kept.requests:
            renewals = _sum(counts, country, tuple(
                k for k in PRESERVATION_TYPES if k.endswith("_renewal")))
            preservation.append({
                "period": key, "country": country, "preservation_requests": kept.requests,
                "renewal_requests": renewals.requests, "accounts_specified": kept.accounts,
                "holds_placed": kept.holds})
        if total.requests or notices.get(country):
            notice_rows.append({
                "period": key, "country": country, "requests": total.requests,
                "requests_with_nondisclosure_order": total.nondisclosure,
                "share_with_nondisclosure_order": share(total.nondisclosure, total.requests),
                "nondisclosure_orders_without_end_date": total.nondisclosure_open_ended,
                "user_notices_given": notices.get(country, 0)})
    reports, cases = _cybertipline(period)

    def column(rows, name):
        return sum(row[name] for row in rows)

    total_requests = column(by_country, "total_requests")
    total_disclosed = column(by_country, "total_requests_some_data_disclosed")
    summary = {
        "period": key, "countries": len(by_country),
        "legal_requests": column(by_country, "legal_requests"),
        "emergency_requests": column(by_country, "emergency_requests"),
        "total_requests": total_requests,
        "total_accounts_specified": column(by_country, "total_accounts_specified"),
        "total_requests_some_data_disclosed": total_disclosed,
        "total_share_some_data_disclosed": share(total_disclosed, total_requests),
        "preservation_requests": column(preservation, "preservation_requests"),
        "requests_with_nondisclosure_order": column(notice_rows,
                                                    "requests_with_nondisclosure_order"),
        "user_notices_given": column(notice_rows, "user_notices_given"),
        "cybertipline_reports": reports, "cybertipline_cases_reported": cases}
    return TransparencyReport(period, built_at or now(), {
        "summary": [summary], "requests_by_country": by_country,
        "legal_process_by_type": by_type, "preservation_by_country": preservation,
        "user_notice_by_country": notice_rows})
