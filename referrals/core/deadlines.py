"""Every legal and internal deadline the product computes: one table, each rule with its source.

Legal and compliance may read and change this file. How a period is counted matters as much
as its length:

- ``elapsed``: a span of real time (hours of a 24/7 emergency target): daylight-saving
  changes do not stretch or shrink it.
- ``calendar``: N calendar days (or years) later at the same wall-clock time in the legal
  time zone; across a daylight-saving change the UTC instant moves by the hour that changed.
  A year from 29 February ends on 28 February.
- ``eu_days``: Regulation (EEC, Euratom) No 1182/71, art. 3, which governs periods in EU acts:
  the day of the event is not counted, and the period ends at the end of its last day
  (23:59:59.999999 in the legal time zone). EU hour periods (``eu_hours``) start at the
  beginning of the hour after the event and end at the end of the last hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class DeadlineRule:
    key: str
    instrument: str
    amount: int
    unit: str  # hours | days | years
    counting: str  # elapsed | calendar | eu_days | eu_hours
    source: str
    note: str = ""


RULES: dict[str, DeadlineRule] = {
    rule.key: rule
    for rule in (
        DeadlineRule(
            "us_preservation", "US preservation request, 18 U.S.C. 2703(f)", 90, "days",
            "calendar", "18 U.S.C. 2703(f)(2)",
            "From receipt. One renewal of 90 days on a renewed request; serial renewals are "
            "refused. Remind at least 7 days before expiry."),
        DeadlineRule(
            "us_preservation_renewal", "Renewal of a 2703(f) preservation", 90, "days",
            "calendar", "18 U.S.C. 2703(f)(2)", "From the end of the first period."),
        DeadlineRule(
            "ncmec_report_preservation", "Preservation of a CyberTipline report's contents", 1,
            "years", "calendar", "18 U.S.C. 2258A(h)(1), as amended by the REPORT Act (2024)",
            "From the report's completion (/finish)."),
        DeadlineRule(
            "eu_preservation_order", "European Preservation Order (EPOC-PR)", 60, "days",
            "eu_days", "Regulation (EU) 2023/1543, art. 11(1)",
            "+30 days on an Annex VI request; until production once an Annex V confirms a "
            "production order."),
        DeadlineRule(
            "eu_preservation_extension", "EPOC-PR extension (Annex VI)", 30, "days", "eu_days",
            "Regulation (EU) 2023/1543, art. 11(1)", "From the end of the first 60 days."),
        DeadlineRule(
            "eu_production_order", "European Production Order (EPOC)", 10, "days", "eu_days",
            "Regulation (EU) 2023/1543, art. 10(2)", "From receipt of the EPOC."),
        DeadlineRule(
            "eu_production_order_emergency", "European Production Order, emergency", 8,
            "hours", "eu_hours", "Regulation (EU) 2023/1543, art. 10(4)",
            "From receipt, for an imminent threat to life, physical integrity or safety."),
        DeadlineRule(
            "emergency_disclosure_response", "Emergency disclosure request, 18 U.S.C. "
            "2702(b)(8)", 1, "hours", "elapsed", "Internal target (no statutory clock)",
            "First response, 24/7."),
        DeadlineRule(
            "internal_hold_review", "Internal legal hold, periodic review", 180, "days",
            "calendar", "Internal policy", "Held until released; reviewed every 180 days."),
        DeadlineRule(
            "standard_request_response", "Other legal process (subpoena, court order, "
            "warrant, MLAT, UK OPO)", 14, "days", "calendar", "Internal target",
            "First substantive answer to the agency."),
    )
}


def compute_deadline(key: str, start: datetime, legal_zone: str = "UTC") -> datetime:
    """When the period named ``key`` that began at ``start`` ends (timezone-aware UTC)."""
    rule = RULES[key]
    if start.tzinfo is None:
        raise ValueError("deadlines start from a timezone-aware time")
    zone = ZoneInfo(legal_zone)
    if rule.counting == "elapsed":
        return (start.astimezone(UTC) + _span(rule)).astimezone(UTC)
    local = start.astimezone(zone)
    if rule.counting == "calendar":
        if rule.unit == "years":
            end_date = _add_years(local.date(), rule.amount)
        elif rule.unit == "days":
            end_date = local.date() + timedelta(days=rule.amount)
        else:
            raise ValueError(f"{key}: calendar counting needs days or years")
        return _wall_clock(end_date, local.time(), zone)
    if rule.counting == "eu_days":
        # Art. 3(1)(b) and 3(2)(b): the event's day is not counted; ends at the end of the last day.
        last_day = local.date() + timedelta(days=rule.amount)
        return _wall_clock(last_day, time(23, 59, 59, 999999), zone)
    if rule.counting == "eu_hours":
        # Art. 3(1)(a) and 3(2)(a): starts at the next full hour; ends at the end of the last hour.
        begins = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return begins + timedelta(hours=rule.amount) - timedelta(microseconds=1)
    raise ValueError(f"{key}: unknown counting {rule.counting}")


def _span(rule: DeadlineRule) -> timedelta:
    if rule.unit == "hours":
        return timedelta(hours=rule.amount)
    if rule.unit == "days":
        return timedelta(days=rule.amount)
    raise ValueError(f"{rule.key}: elapsed counting needs hours or days")


def _add_years(day, years: int):
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February → 28 February
        return day.replace(year=day.year + years, day=28)


def _wall_clock(day, clock: time, zone: ZoneInfo) -> datetime:
    """``day`` at ``clock`` in ``zone``, as UTC. A time skipped by a spring-forward change
    resolves to the later side (fold=0 maps forward past the gap); a repeated autumn time
    takes its first occurrence."""
    local = datetime.combine(day, clock, tzinfo=zone)
    return local.astimezone(UTC)


def describe(key: str) -> str:
    rule = RULES[key]
    unit = rule.unit if rule.amount != 1 else rule.unit.rstrip("s")
    return f"{rule.amount} {unit} ({rule.source})"
