"""Writing and verifying the audit chain.

Each event stores the hash of the event before it and its own hash over a
canonical encoding of every field, so an edited, deleted or reordered row breaks
the chain where it happened. Appending first updates the single head row, which
takes a row lock on PostgreSQL (and the write lock on SQLite): two transactions
can never read the same head and fork the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import insert, select, text

from referrals.audit.canonical_sql import HASHED, canonical_text_sql
from referrals.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from referrals.core.bookkeeping import note
from referrals.core.clock import as_utc, now
from referrals.core.identity import Identity
from referrals.extensions import db

HEAD_ID = 1


def canonical_json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


# The canonical encoding the hashes cover: sorted keys, no spaces, UTF-8. One encoder for
# every event (``json.dumps`` with these options would make a new one each call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(_CANONICAL.encode(fields).encode("utf-8")).hexdigest()


def hashed_fields(event: Any) -> dict[str, Any]:
    """Everything the hash covers, in plain values."""
    return {
        "seq": event.seq,
        "occurred_at": as_utc(event.occurred_at).isoformat(timespec="microseconds"),
        "actor_kind": event.actor_kind,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "agency_id": event.agency_id,
        "before": event.before,
        "after": event.after,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "prev_hash": event.prev_hash,
    }


def _advance_head(step: int = 1) -> tuple[int, str]:
    """Claim the next sequence number (``step`` 0: only lock the head and read it); holds the
    head's lock until commit."""
    row = db.session.execute(
        text("UPDATE audit_chain_head SET seq = seq + :step WHERE id = :id "
             "RETURNING seq, last_hash"),
        {"id": HEAD_ID, "step": step},
    ).first()
    if row is None:
        db.session.add(AuditChainHead(id=HEAD_ID, seq=step, last_hash=GENESIS_HASH))
        db.session.flush()
        return step, GENESIS_HASH
    return int(row[0]), row[1]


def _request_context() -> dict[str, str | None]:
    if not has_request_context():
        return {"ip": None, "user_agent": None, "request_id": None}
    return {
        "ip": request.remote_addr,
        "user_agent": (request.user_agent.string or "")[:512] or None,
        "request_id": g.get("request_id"),
    }


def record_event(
    actor: Identity,
    action: str,
    *,
    object_type: str | None = None,
    object_id: Any = None,
    agency_id: int | None = None,
    before: Any = None,
    after: Any = None,
    occurred_at: datetime | None = None,
) -> AuditEvent:
    """Append one event to the chain in the caller's transaction."""
    db.session.flush()  # the change it describes goes first
    seq, prev_hash = _advance_head()
    event = AuditEvent(
        seq=seq,
        occurred_at=occurred_at or now(),
        actor_kind=actor.kind,
        actor_id=actor.user_id,
        actor_label=actor.label[:255],
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        agency_id=agency_id,
        before=canonical_json(before),
        after=canonical_json(after),
        prev_hash=prev_hash,
        **_request_context(),
    )
    event.hash = event_digest(hashed_fields(event))
    db.session.add(event)
    db.session.execute(
        text("UPDATE audit_chain_head SET last_hash = :hash WHERE id = :id"),
        {"hash": event.hash, "id": HEAD_ID},
    )
    return event


def record_view(actor: Identity, object_type: str, object_id: Any, *,
                agency_id: int | None = None, action: str | None = None) -> None:
    """A sensitive page was shown: "<object_type>.viewed" (or ``action``), once per page load,
    with the page's endpoint.

    In a request it is a bookkeeping note (``referrals.core.bookkeeping``): written once the
    page's own transaction has ended, in a short transaction of its own, only if the page is
    shown, and the page is withheld if it cannot be written. A page that only reads never
    takes the chain head during its queries or its rendering, wherever it calls this. Outside
    a request it is written at once."""
    page = request.endpoint if has_request_context() else None
    note(record_event, actor, action or f"{object_type}.viewed", object_type=object_type,
         object_id=object_id, agency_id=agency_id, after={"page": page},
         shown_only=True, required=True)


_COLUMNS = ("seq", "occurred_at", "actor_kind", "actor_id", "actor_label", "action", "object_type",
            "object_id", "agency_id", "before", "after", "ip", "user_agent", "request_id",
            "prev_hash", "hash")


def record_events_in_bulk(actor: Identity, events: Iterable[dict[str, Any]], *,
                          batch: int = 20_000) -> int:
    """Append many events with bulk inserts (benchmark data): the same chain and hashes as
    ``record_event``, holding the head's lock for the whole call. Each event is a dict of
    ``action`` and optionally ``object_type``, ``object_id``, ``agency_id``, ``before``,
    ``after`` and ``occurred_at``. Returns how many it wrote."""
    db.session.flush()
    seq, prev_hash = _advance_head(step=0)
    made, rows = 0, []
    for fields in events:
        seq += 1
        event = AuditEvent(
            seq=seq, occurred_at=fields.get("occurred_at") or now(), actor_kind=actor.kind,
            actor_id=actor.user_id, actor_label=actor.label[:255], action=fields["action"],
            object_type=fields.get("object_type"),
            object_id=None if fields.get("object_id") is None else str(fields["object_id"]),
            agency_id=fields.get("agency_id"), before=canonical_json(fields.get("before")),
            after=canonical_json(fields.get("after")), prev_hash=prev_hash,
            ip=None, user_agent=None, request_id=None,
        )
        event.hash = prev_hash = event_digest(hashed_fields(event))
        rows.append({column: getattr(event, column) for column in _COLUMNS})
        if len(rows) >= batch:
            db.session.execute(insert(AuditEvent), rows)
            made, rows = made + len(rows), []
    if rows:
        db.session.execute(insert(AuditEvent), rows)
        made += len(rows)
    db.session.execute(
        text("UPDATE audit_chain_head SET seq = :seq, last_hash = :hash WHERE id = :id"),
        {"seq": seq, "hash": prev_hash, "id": HEAD_ID},
    )
    return made


@dataclass(frozen=True)
class ChainReport:
    checked: int
    ok: bool
    bad_seq: int | None = None
    bad_id: int | None = None
    reason: str = ""


def _rows_in_order(batch: int = 20_000,
                   progress: Callable[[int], None] | None = None) -> Iterator[tuple]:
    """``(seq, prev_hash, hash, id, canonical text)`` in chain order, the text written by the
    database (``canonical_sql``), a batch at a time, in the session's transaction. Plain
    tuples from the driver's cursor (SQLAlchemy's rows would cost as much as the hashing),
    nothing piling up in memory. ``progress(seq)`` is told after each batch has been walked
    (it may commit).

    Each batch is a range of sequence numbers, not "the next N after": PostgreSQL has no
    statistics on a freshly filled table and would plan "seq > x ... LIMIT n" as a scan and
    sort of the whole rest of the table, building the text of every row it sorts (35 s for
    1,000,000 events instead of 8); a bounded range is an index range on any plan."""
    canonical = canonical_text_sql(db.session.get_bind().dialect.name)
    last = 0
    while True:
        # Integers written into the statement: no placeholder style to tell the drivers apart.
        rows = _fetch(f"SELECT seq, prev_hash, hash, id, {canonical} FROM audit_events "
                      f"WHERE seq > {int(last)} AND seq <= {int(last) + int(batch)} ORDER BY seq")
        if not rows:
            # A gap as long as a batch (events deleted): on to the next stored event, if any.
            following = _fetch(f"SELECT min(seq) FROM audit_events WHERE seq > {int(last)}")
            if following[0][0] is None:
                return
            last = following[0][0] - 1
            continue
        yield from rows
        last = rows[-1][0]
        if progress is not None:
            progress(last)


def _fetch(statement: str) -> list[tuple]:
    cursor = db.session.connection().connection.cursor()
    try:
        cursor.execute(statement)
        return cursor.fetchall()
    finally:
        cursor.close()


def _utc_text(value: Any) -> str:
    """``occurred_at`` as the hash has it, from what the driver gave: SQLite's text
    (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC) or PostgreSQL's datetime."""
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " ":  # the stored form: only the separator differs
            return f"{value[:10]}T{value[11:]}+00:00"
        value = datetime.fromisoformat(value)
    return as_utc(value).isoformat(timespec="microseconds")


def _reference_digest(event_id: int) -> str:
    """The hash of one event's stored values encoded by Python (``event_digest``): the check
    for an event whose database-written text did not hash to its stored hash."""
    row = db.session.execute(
        text(f"SELECT {', '.join(HASHED)} FROM audit_events WHERE id = :id"),
        {"id": event_id}).one()
    fields = dict(zip(HASHED, row))
    fields["occurred_at"] = _utc_text(fields["occurred_at"])
    return event_digest(fields)


def verify_chain(signed: Mapping[int, str] | None = None, *,
                 progress: Callable[[int], None] | None = None) -> ChainReport:
    """Walk the chain from the first event; stop at the first that does not fit.

    ``signed`` maps sequence numbers to the hashes signed checkpoints recorded for them
    (``audit.checkpoints``): such an event must still have that hash, which the chain's own
    unkeyed hashes cannot promise once someone recomputes them all. ``progress(seq)`` is
    told how far the walk got after each batch (a job's progress; it may commit).
    """
    signed = signed or {}
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    sha256 = hashlib.sha256
    for seq, prev, stored, event_id, canonical in _rows_in_order(progress=progress):
        if seq != expected_seq:
            return ChainReport(
                checked, False, expected_seq, None,
                f"event #{expected_seq} is missing (the next stored is #{seq})",
            )
        if prev != prev_hash:
            return ChainReport(
                checked, False, seq, event_id,
                f"event #{seq} does not follow event #{seq - 1} "
                "(removed, inserted or reordered)",
            )
        if ((canonical is None or sha256(canonical.encode("utf-8")).hexdigest() != stored)
                and _reference_digest(event_id) != stored):
            return ChainReport(
                checked, False, seq, event_id,
                f"event #{seq} was changed after it was written",
            )
        if signed and signed.get(seq, stored) != stored:
            return ChainReport(
                checked, False, seq, event_id,
                f"event #{seq} is not the event a signed checkpoint recorded: "
                "the log was rewritten from there or before, its hashes recomputed",
            )
        checked += 1
        prev_hash = stored
        expected_seq += 1

    head = db.session.get(AuditChainHead, HEAD_ID)
    head_seq = head.seq if head else 0
    head_hash = head.last_hash if head else GENESIS_HASH
    if head_seq != checked or head_hash != prev_hash:
        return ChainReport(
            checked, False, checked + 1 if head_seq > checked else head_seq, None,
            f"the chain ends at event #{checked} but its head records #{head_seq}: "
            "events at the end were removed or the head was altered",
        )
    return ChainReport(checked, True)
