"""Reading the audit log: filters, pages and exports, fast at a million events.

Every filter is an indexed condition (migration 0019_audit_review): an action prefix is
the names it matches (found by a loose index scan), each walked on ``(action, seq)``; an actor is an exact label on ``(actor_label, seq)``, an object
is ``(object_type, object_id, seq)``, an agency ``(agency_id, seq)``, a date range
``occurred_at``. Pages are keyset pages on ``seq`` ("older than #N"), so the last page costs
what the first does. An export walks the same conditions in ``seq`` order up to the head as
it was when the export began, one batch per short transaction (no lock is held between
batches, nothing piles up in the session): any size in constant memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import select, text, union_all

from referrals.audit.difference import changed_names
from referrals.audit.labels import Labels
from referrals.audit.models import AuditChainHead, AuditEvent
from referrals.audit.services import HEAD_ID, record_event
from referrals.core.clock import as_utc, now
from referrals.core.errors import InvalidInput, NotFound
from referrals.core.identity import Identity
from referrals.core.policy import Policy, has_role
from referrals.core.spreadsheet import csv_lines
from referrals.core.transaction import has_written
from referrals.extensions import db

PAGE_SIZE = 50
EXPORT_BATCH = 2000
MAX_TEXT = 200  # longest filter value worth looking for


class AuditPolicy(Policy):
    # Compliance reviewers read, export and check the log; nobody else sees it.
    rules = {
        "view": has_role("compliance"),
        "export": has_role("compliance"),
        "verify": has_role("compliance"),
    }


audit_policy = AuditPolicy()


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""  # the start of the action's name: "case." or "case.viewed"
    actor: str = ""  # the actor's label exactly as recorded (an e-mail, "job:…")
    object_type: str = ""
    object_id: str = ""
    agency_id: int | None = None
    date_from: date | None = None  # UTC day, inclusive
    date_to: date | None = None  # UTC day, inclusive

    @property
    def empty(self) -> bool:
        return not any(asdict(self).values())

    def as_args(self) -> dict[str, str]:
        """The filters as query arguments (for links: next page, export)."""
        out = {}
        for name, value in asdict(self).items():
            if value not in (None, ""):
                out[name] = value.isoformat() if isinstance(value, date) else str(value)
        return out


def _text(args: Mapping[str, Any], name: str) -> str:
    value = (args.get(name) or "").strip()
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"The filter “{name.replace('_', ' ')}” is too long "
                           f"(at most {MAX_TEXT} characters).")
    return value


def _day(args: Mapping[str, Any], name: str, label: str) -> date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"“{label}” must be a date written YYYY-MM-DD, "
                           f"e.g. 2026-07-01; “{raw[:40]}” is not one.") from None


def parse_filters(args: Mapping[str, Any]) -> AuditFilters:
    """The filters from a query string; a plain refusal for a value that cannot be one."""
    agency_raw = (args.get("agency_id") or "").strip()
    if agency_raw and not (agency_raw.isdigit() and len(agency_raw) < 10):
        raise InvalidInput("Choose the agency from the list (its number).")
    filters = AuditFilters(
        action=_text(args, "action"), actor=_text(args, "actor"),
        object_type=_text(args, "object_type"), object_id=_text(args, "object_id"),
        agency_id=int(agency_raw) if agency_raw else None,
        date_from=_day(args, "date_from", "From"), date_to=_day(args, "date_to", "To"))
    return checked_filters(filters)


def checked_filters(filters: AuditFilters) -> AuditFilters:
    """Refuse filters that cannot match anything by construction."""
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InvalidInput("“From” is after “To”: no event can be in that range.")
    return filters


def _prefix_end(prefix: str) -> str:
    # Everything that starts with "case." sorts in ["case.", "case/"): a plain index range
    # on both databases, where LIKE 'case.%' is not (collations, case-insensitive LIKE).
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def conditions(filters: AuditFilters) -> list:
    """Every filter but the action's as SQL conditions (the action: see ``_newest``)."""
    table = AuditEvent.__table__.c
    where = []
    if filters.actor:
        where.append(table.actor_label == filters.actor)
    if filters.object_type:
        where.append(table.object_type == filters.object_type)
    if filters.object_id:
        where.append(table.object_id == filters.object_id)
    if filters.agency_id is not None:
        where.append(table.agency_id == filters.agency_id)
    if filters.date_from:
        where.append(table.occurred_at >= _day_start(filters.date_from))
    if filters.date_to:
        where.append(table.occurred_at < _day_start(filters.date_to + timedelta(days=1)))
    return where


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    next_before: int | None  # the "older events" link's ``before``
    labels: Labels
    changed: dict[int, list[str]]  # seq → the titles of the fields it changed


def actions_starting(prefix: str) -> list[str]:
    """The distinct action names that start with ``prefix``: a loose index scan (one index
    seek per name, however many events each has), not a scan of the events."""
    found = db.session.execute(text(
        "WITH RECURSIVE found(action) AS ("
        " SELECT MIN(action) FROM audit_events WHERE action >= :low AND action < :high"
        " UNION ALL"
        " SELECT (SELECT MIN(e.action) FROM audit_events e"
        "         WHERE e.action > found.action AND e.action < :high)"
        " FROM found WHERE found.action IS NOT NULL)"
        " SELECT action FROM found WHERE action IS NOT NULL"),
        {"low": prefix, "high": _prefix_end(prefix)})
    return [row[0] for row in found]


def _matching_seqs(filters: AuditFilters, where: list, limit: int, newest_first: bool
                   ) -> list[int] | None:
    """With an action prefix: the sequence numbers of the first ``limit`` matches in order,
    one ``action = …`` branch per matching name (each an ordered walk of ``(action, seq)``),
    merged. A range on ``action`` with ``ORDER BY seq`` would sort every match of the prefix
    on every page (a third of the log for "case."). None: no action filter."""
    if not filters.action:
        return None
    table = AuditEvent.__table__.c
    order = table.seq.desc() if newest_first else table.seq.asc()
    branches = [select(table.seq).where(table.action == action, *where).order_by(order)
                .limit(limit).subquery().select() for action in actions_starting(filters.action)]
    if not branches:
        return []
    merged = union_all(*branches).subquery()
    ordered = merged.c.seq.desc() if newest_first else merged.c.seq.asc()
    return list(db.session.scalars(select(merged.c.seq).order_by(ordered).limit(limit)))


def event_page(identity: Identity, filters: AuditFilters, before: int | None = None,
               size: int = PAGE_SIZE) -> EventPage:
    """One page of matching events, newest first, older than ``before`` (a sequence number)."""
    audit_policy.require(identity, "view")
    where = conditions(filters)
    if before:
        where.append(AuditEvent.seq < before)  # keyset: the last page costs what the first does
    seqs = _matching_seqs(filters, where, size + 1, newest_first=True)
    if seqs is not None:
        where = [AuditEvent.seq.in_(seqs)]
    events = list(db.session.scalars(select(AuditEvent).where(*where)
                                     .order_by(AuditEvent.seq.desc()).limit(size + 1)))
    labels = Labels()
    for event in events[:size]:
        labels.want("agency", event.agency_id)
    next_before = events[size - 1].seq if len(events) > size else None
    return EventPage(events[:size], next_before, labels.resolve(),
                     {event.seq: changed_names(event) for event in events[:size]})


def get_event(identity: Identity, seq: int) -> AuditEvent:
    audit_policy.require(identity, "view")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.seq == seq))
    if event is None:
        raise NotFound(f"There is no audit event #{seq}.")
    return event


# --- export ----------------------------------------------------------------------------------

CSV_COLUMNS = ("seq", "occurred_at_utc", "actor_kind", "actor_id", "actor", "action",
               "object_type", "object_id", "agency_id", "agency", "before", "after", "ip",
               "user_agent", "request_id", "prev_hash", "hash")
FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def _rows(filters: AuditFilters, up_to: int, batch: int) -> Iterator[tuple[Any, str | None]]:
    """Matching events (rows, not ORM objects) with their agency's name, oldest first, up to
    event ``up_to``; each batch read in its own short transaction."""
    table = AuditEvent.__table__
    last = 0
    while True:
        where = [*conditions(filters), table.c.seq > last, table.c.seq <= up_to]
        seqs = _matching_seqs(filters, where, batch, newest_first=False)
        if seqs is not None:
            where = [table.c.seq.in_(seqs)]
        rows = db.session.execute(
            select(table).where(*where).order_by(table.c.seq).limit(batch)).all()
        labels = Labels()
        for row in rows:
            labels.want("agency", row.agency_id)
        labels.resolve()
        if not has_written():  # only read: let go of the transaction (and SQLite's lock)
            db.session.rollback()
        if not rows:
            return
        for row in rows:
            yield row, labels.label("agency", row.agency_id)
        last = rows[-1].seq


def _time(value: datetime) -> str:
    return as_utc(value).isoformat(timespec="microseconds")


def _csv_values(row, agency: str | None) -> tuple:
    return (row.seq, _time(row.occurred_at), row.actor_kind, row.actor_id, row.actor_label,
            row.action, row.object_type, row.object_id, row.agency_id, agency, row.before,
            row.after, row.ip, row.user_agent, row.request_id, row.prev_hash, row.hash)


def _json_event(row, agency: str | None) -> dict:
    # before/after stay the exact stored text: with prev_hash, a reader can recompute hash.
    return {"seq": row.seq, "occurred_at": _time(row.occurred_at),
            "actor_kind": row.actor_kind, "actor_id": row.actor_id, "actor": row.actor_label,
            "action": row.action, "object_type": row.object_type, "object_id": row.object_id,
            "agency_id": row.agency_id, "agency": agency, "before": row.before,
            "after": row.after, "ip": row.ip, "user_agent": row.user_agent,
            "request_id": row.request_id, "prev_hash": row.prev_hash, "hash": row.hash}


@dataclass(frozen=True)
class Export:
    filename: str
    content_type: str
    chunks: Iterator[str]
    up_to: int


def export_events(identity: Identity, filters: AuditFilters, fmt: str, *,
                  batch: int = EXPORT_BATCH) -> Export:
    """The matching events as CSV or JSON, streamed; audited (``audit.exported``) in the
    caller's transaction. The export covers the chain up to its head as it is now."""
    audit_policy.require(identity, "export")
    if fmt not in FORMATS:
        raise InvalidInput("Export as “csv” or “json”.")
    head = db.session.scalar(select(AuditChainHead.seq).where(AuditChainHead.id == HEAD_ID))
    up_to = int(head or 0)
    at = now()
    record_event(identity, "audit.exported", object_type="audit_log", object_id=fmt,
                 after={"format": fmt, "filters": filters.as_args(), "up_to_seq": up_to})
    rows = _rows(filters, up_to, batch)
    if fmt == "csv":
        chunks = csv_lines(CSV_COLUMNS, (_csv_values(row, agency) for row, agency in rows))
    else:
        chunks = _json_chunks(filters, up_to, at, rows)
    return Export(f"audit-log-{at:%Y%m%dT%H%M%SZ}.{fmt}", FORMATS[fmt], chunks, up_to)


def _json_chunks(filters: AuditFilters, up_to: int, at: datetime, rows) -> Iterator[str]:
    head = {"exported_at": _time(at), "filters": filters.as_args(), "up_to_seq": up_to}
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "events": ['
    separator = "\n"
    for row, agency in rows:
        yield separator + json.dumps(_json_event(row, agency), ensure_ascii=False)
        separator = ",\n"
    yield "\n]}\n"
