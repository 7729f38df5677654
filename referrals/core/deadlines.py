"""Every legal and internal deadline the product computes: one table, each rule with its source.

Legal and compliance may read and change this file; staff read it at /deadline-rules, with
the value each rule has now (a rule with a ``setting`` takes its value from that setting).
How a period is counted matters as much as its length:

- ``elapsed``: a span of real time (hours of a 24/7 emergency target): daylight-saving
  changes do not stretch or shrink it.
- ``calendar``: N calendar days (or years) later at the same wall-clock time in the legal
  time zone; across a daylight-saving change the UTC instant moves by the hour that changed.
  A year from 29 February ends on 28 February.
- ``eu_days``: Regulation (EEC, Euratom) No 1182/71, art. 3: the day of the event is not
  counted (art. 3(1), second subparagraph), the period ends at the end of its last day
  (art. 3(2)(b): 23:59:59.999999 in the legal time zone), and a period whose last day is a
  Saturday, a Sunday or a public holiday ends with the expiry of the last hour of the
  following working day (art. 3(4), first subparagraph). Public holidays are those of the
  member state where the action is taken (art. 2(1)): Ireland for our EU entity, from the
  ``holidays`` library.
- ``eu_hours``: 1182/71 art. 3(1), first subparagraph, and art. 3(2)(a): an hour period
  starts at the beginning of the hour after the event and ends at the end of its last hour.
  Art. 3(4), first subparagraph, reaches only periods "expressed otherwise than in hours",
  so hour periods run over weekends and holidays.
- ``uk_days``: "N days beginning with the day on which the order is served" (Crime
  (Overseas Production Orders) Act 2019): the day of service is day 1; the period ends at
  the end of day N in London. No working-day rule.
- ``end_of_day``: no period of its own; the end of a date written on the process.

Rules with counting ``mark`` are not periods but lengths the product compares against
(how close "due soon" is, when reminders go out); they are here so that every number a
lawyer may question is in one place with its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

COUNTINGS = ("elapsed", "calendar", "eu_days", "eu_hours", "uk_days", "end_of_day", "mark")
END_OF_DAY = time(23, 59, 59, 999999)


@dataclass(frozen=True)
class DeadlineRule:
    key: str
    instrument: str
    amount: int | tuple[int, ...]
    unit: str  # hours | days | years
    counting: str  # one of COUNTINGS
    source: str
    note: str = ""
    # The setting that changes it (a field of config.Settings, with its environment name);
    # its value, not ``amount``, is the rule's current value.
    setting: str | None = None
    env: str | None = None


def _rules(*rules: DeadlineRule) -> dict[str, DeadlineRule]:
    return {rule.key: rule for rule in rules}


RULES: dict[str, DeadlineRule] = _rules(
    # --- United States ------------------------------------------------------------------
    DeadlineRule(
        "us_preservation", "US preservation request, 18 U.S.C. 2703(f)", 90, "days",
        "calendar", "18 U.S.C. 2703(f)(2); binds only on a governmental entity, "
        "18 U.S.C. 2711(4)",
        "From receipt, for a request from a US governmental entity only. One renewal of 90 "
        "days on a renewed request; serial renewals are refused."),
    DeadlineRule(
        "us_preservation_renewal", "Renewal of a 2703(f) preservation", 90, "days",
        "calendar", "18 U.S.C. 2703(f)(2)", "From the end of the first period."),
    DeadlineRule(
        "ncmec_report_preservation", "Preservation of a CyberTipline report's contents", 1,
        "years", "calendar", "18 U.S.C. 2258A(h)(1), as amended by the REPORT Act (2024)",
        "From the report's completion (/finish)."),
    DeadlineRule(
        "emergency_disclosure_response", "Emergency disclosure request, 18 U.S.C. "
        "2702(b)(8)", 1, "hours", "elapsed", "Internal target (no statutory clock)",
        "First response, 24/7."),
    # --- requests from outside the United States for preservation ---------------------------
    DeadlineRule(
        "budapest_preservation", "Preservation at the request of a Budapest Convention party "
        "(art. 29)", 60, "days", "calendar",
        "Council of Europe Convention on Cybercrime (ETS No. 185), art. 29(7): not less than "
        "60 days; kept by us voluntarily under internal policy",
        "18 U.S.C. 2703(f) does not bind on a foreign authority; we preserve at least 60 days "
        "while the mutual assistance request is prepared. One renewal under policy."),
    DeadlineRule(
        "voluntary_preservation", "Voluntary preservation under internal policy (non-US "
        "authority, not a Budapest party)", 90, "days", "calendar",
        "Internal policy (no law binds us to preserve)",
        "Kept voluntarily while the authority obtains process we can answer. One renewal "
        "under policy."),
    DeadlineRule(
        "voluntary_preservation_renewal", "Renewal of a voluntary or Budapest art. 29 "
        "preservation", 90, "days", "calendar", "Internal policy",
        "From the end of the first period."),
    # --- European Union, Regulation (EU) 2023/1543 ----------------------------------------------
    DeadlineRule(
        "eu_preservation_order", "European Preservation Order (EPOC-PR)", 60, "days",
        "eu_days", "Regulation (EU) 2023/1543, art. 11(1), first subparagraph; counted under "
        "Regulation (EEC, Euratom) No 1182/71, art. 3",
        "+30 days on an Annex VI request; until production once an Annex V confirms a "
        "production order."),
    DeadlineRule(
        "eu_preservation_extension", "EPOC-PR extension (Annex VI)", 30, "days", "eu_days",
        "Regulation (EU) 2023/1543, art. 11(1), second subparagraph",
        "From the end of the first 60 days."),
    DeadlineRule(
        "eu_production_order", "European Production Order (EPOC)", 10, "days", "eu_days",
        "Regulation (EU) 2023/1543, art. 10(2); counted under Regulation (EEC, Euratom) "
        "No 1182/71, art. 3", "From receipt of the EPOC."),
    DeadlineRule(
        "eu_production_order_emergency", "European Production Order, emergency", 8,
        "hours", "eu_hours", "Regulation (EU) 2023/1543, art. 10(4), first subparagraph",
        "From receipt, for an imminent threat to life, physical integrity or safety."),
    DeadlineRule(
        "eu_production_order_emergency_target", "European Production Order, emergency: our "
        "internal target", 6, "hours", "elapsed", "Internal policy",
        "Elapsed hours from receipt, shown beside the legal deadline and never later than it."),
    DeadlineRule(
        "eu_enforcing_authority_window", "Enforcing authority's time to raise a ground for "
        "refusal (notified EPOC)", 10, "days", "eu_days",
        "Regulation (EU) 2023/1543, art. 10(3) with art. 8 and art. 12",
        "Where the enforcing authority is notified, the data are transmitted at the end of "
        "the 10 days unless it raised a ground for refusal (earlier if it confirms it will "
        "not). An Annex III 'cannot comply' (art. 10(6)) pauses the clock."),
    DeadlineRule(
        "eu_enforcing_authority_window_emergency", "Enforcing authority's time to raise a "
        "ground for refusal (notified emergency EPOC)", 96, "hours", "eu_hours",
        "Regulation (EU) 2023/1543, art. 10(4), second subparagraph",
        "The data go within 8 hours; the enforcing authority may still object within 96 hours "
        "of the notification."),
    # --- United Kingdom ---------------------------------------------------------------------
    DeadlineRule(
        "uk_overseas_production_order", "UK overseas production order", 7, "days", "uk_days",
        "Crime (Overseas Production Orders) Act 2019, s. 5(5)",
        "7 days beginning with the day the order is served, unless the order sets another "
        "period (then its date is the deadline)."),
    DeadlineRule(
        "uk_us_data_access_order", "Order under the UK–US Data Access Agreement", 7, "days",
        "uk_days", "UK–US Data Access Agreement (2019), art. 10, with the Crime (Overseas "
        "Production Orders) Act 2019, s. 5(5)",
        "Served as an overseas production order under the designated agreement: 7 days "
        "beginning with service unless the order sets another period."),
    # --- any legal process --------------------------------------------------------------------
    DeadlineRule(
        "process_return_date", "Return or compliance date written on the legal process", 0,
        "days", "end_of_day", "The legal process itself (a subpoena's return date, a "
        "warrant's or order's compliance date)",
        "When given, it is the request's deadline: the end of that day in the receiving "
        "entity's zone."),
    DeadlineRule(
        "standard_request_response", "Other legal process (subpoena, court order, "
        "warrant, MLAT)", 14, "days", "calendar", "Internal target",
        "First substantive answer to the agency, when the process sets no date."),
    DeadlineRule(
        "preservation_time_to_act", "Time to act on a new preservation request", 24, "hours",
        "elapsed", "Internal policy", "The request's own deadline in the queue; the hold's "
        "expiry is its own period.", setting="preservation_action_hours",
        env="REFERRALS_PRESERVATION_ACTION_HOURS"),
    # --- non-disclosure orders ---------------------------------------------------------------
    DeadlineRule(
        "nondisclosure_end", "Non-disclosure order: when the user notice falls due", 1,
        "days", "end_of_day", "18 U.S.C. 2705(b); our reading (internal policy): the end "
        "date is the last day the order is in force",
        "The notice falls due at the start of the next day (00:00) in the receiving entity's "
        "zone. The other reading (the order ends at the start of its end date) would make "
        "notice due a day earlier."),
    DeadlineRule(
        "nondisclosure_indefinite_review", "Indefinite non-disclosure order: legal review",
        90, "days", "calendar", "US Department of Justice, Policy Regarding Applications for "
        "Protective Orders Pursuant to 18 U.S.C. 2705(b) (19 October 2017): orders of one year "
        "or less; our re-check interval is internal policy",
        "An order without an end date goes to the legal-review queue and is re-checked at "
        "this interval until it is lifted or given an end date."),
    # --- internal --------------------------------------------------------------------------
    DeadlineRule(
        "internal_hold_review", "Internal legal hold, periodic review", 180, "days",
        "calendar", "Internal policy", "Held until released; reviewed every 180 days."),
    DeadlineRule(
        "case_first_response_P0", "Case first response, P0 (life at risk)", 1, "hours",
        "elapsed", "Internal policy"),
    DeadlineRule(
        "case_first_response_P1", "Case first response, P1 (urgent)", 24, "hours",
        "elapsed", "Internal policy"),
    DeadlineRule(
        "case_first_response_P2", "Case first response, P2 (standard)", 3, "days",
        "elapsed", "Internal policy"),
    DeadlineRule(
        "case_first_response_P3", "Case first response, P3 (low)", 10, "days",
        "elapsed", "Internal policy"),
    DeadlineRule(
        "case_due_soon", "Case queue: 'due soon' mark", 2, "hours", "mark", "Internal policy",
        "A case is marked due soon this long before its next deadline."),
    DeadlineRule(
        "hold_expiring_soon", "Hold: 'expiring soon' mark", 7, "days", "mark",
        "Internal policy, after the practice of reminding at least 7 days before a 2703(f) "
        "hold expires", "A hold is marked expiring soon this long before its expiry."),
    DeadlineRule(
        "hold_reminders", "Hold expiry reminders", (14, 7), "days", "mark", "Internal policy",
        "Days before expiry a reminder goes to the hold's owner and the team (each once).",
        setting="hold_reminder_days", env="REFERRALS_HOLD_REMINDER_DAYS"),
    DeadlineRule(
        "retention", "Retention of closed cases and ended holds' snapshots", 730, "days",
        "mark", "Internal policy (data minimisation; GDPR art. 5(1)(e))",
        "Purged this long after closing or ending, unless held.",
        setting="retention_days", env="REFERRALS_RETENTION_DAYS"),
)

# The member state whose public holidays close an EU period (1182/71 art. 2(1)), by zone.
HOLIDAY_COUNTRIES = {"Europe/Dublin": "IE"}


def current_value(rule: DeadlineRule, settings=None):
    """The rule's value now: its setting's, if it has one and settings are given."""
    if rule.setting and settings is not None:
        return getattr(settings, rule.setting)
    return rule.amount


def span(key: str, settings=None) -> timedelta:
    """The length of a rule counted in elapsed time (targets and marks)."""
    rule = RULES[key]
    amount = current_value(rule, settings)
    if rule.unit == "hours":
        return timedelta(hours=amount)
    if rule.unit == "days":
        return timedelta(days=amount)
    raise ValueError(f"{key}: a span needs hours or days")


def is_working_day(day: date, zone: str) -> bool:
    """Not a Saturday, a Sunday or a public holiday where ``zone``'s periods are counted."""
    if day.weekday() >= 5:
        return False
    country = HOLIDAY_COUNTRIES.get(zone)
    return country is None or day not in _public_holidays(country, day.year)


@cache
def _public_holidays(country: str, year: int):
    """One country's public holidays of one year (a few dozen countries and years a run)."""
    # Imported here, not at the top: the holidays package loads every country's calendar,
    # about 3.5 MB of every process that imports the app, and only a deadline counted in EU
    # or UK working days needs it (issue 17: the process ingesting 1 GiB stays under 150 MB).
    import holidays

    return holidays.country_holidays(country, years=year)


def compute_deadline(key: str, start: datetime, legal_zone: str = "UTC",
                     settings=None) -> datetime:
    """When the period named ``key`` that began at ``start`` ends (timezone-aware UTC)."""
    rule = RULES[key]
    if start.tzinfo is None:
        raise ValueError("deadlines start from a timezone-aware time")
    zone = ZoneInfo(legal_zone)
    if rule.counting == "elapsed":
        return (start.astimezone(UTC) + span(key, settings)).astimezone(UTC)
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
        # Art. 3(1), second subparagraph, and 3(2)(b): the event's day is not counted; the
        # period ends at the end of its last day. Art. 3(4): not on a weekend or holiday.
        last_day = local.date() + timedelta(days=rule.amount)
        while not is_working_day(last_day, legal_zone):
            last_day += timedelta(days=1)
        return _wall_clock(last_day, END_OF_DAY, zone)
    if rule.counting == "eu_hours":
        # Art. 3(1), first subparagraph, and 3(2)(a): starts at the next full hour; ends at
        # the end of the last hour.
        begins = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return begins + timedelta(hours=rule.amount) - timedelta(microseconds=1)
    if rule.counting == "uk_days":
        return _wall_clock(local.date() + timedelta(days=rule.amount - 1), END_OF_DAY, zone)
    raise ValueError(f"{key}: {rule.counting} is not a period counted from a start")


def end_of(day: date, legal_zone: str) -> datetime:
    """The last instant of ``day`` in ``legal_zone`` (a return date on the process), as UTC."""
    return _wall_clock(day, END_OF_DAY, ZoneInfo(legal_zone))


def nondisclosure_notice_due(end_date: date, legal_zone: str) -> datetime:
    """When the user notice falls due for an order ending on ``end_date`` (rule
    ``nondisclosure_end``: the end date is the last day in force; notice at 00:00 next day)."""
    return _wall_clock(end_date + timedelta(days=RULES["nondisclosure_end"].amount), time(0, 0),
                       ZoneInfo(legal_zone))


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


def value_text(rule: DeadlineRule, settings=None) -> str:
    """"90 days", "14, 7 days", "1 hour"."""
    amount = current_value(rule, settings)
    if isinstance(amount, tuple):
        return f"{', '.join(str(a) for a in amount)} {rule.unit}"
    if rule.key == "process_return_date":
        return "the date on the process"
    if rule.key == "nondisclosure_end":
        return "00:00 the day after the end date"
    unit = rule.unit if amount != 1 else rule.unit.rstrip("s")
    return f"{amount} {unit}"


def describe(key: str) -> str:
    rule = RULES[key]
    return f"{value_text(rule)} ({rule.source})"
