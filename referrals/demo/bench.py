"""Benchmark data: ``seed_bulk_cases`` makes N cases (with 3 identifiers each, and audit
events up to a target) with bulk inserts, for the queue benchmark. Its audit events are
written by the audit package (``record_events_in_bulk``), chained like any others, so
``audit verify`` still passes."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import func, insert, select, text

from referrals.audit.models import AuditEvent
from referrals.audit.services import record_events_in_bulk
from referrals.cases import rules, services
from referrals.cases.models import Case, CaseCounter, Identifier, Subject
from referrals.core.clock import now
from referrals.core.identity import Identity, system_identity
from referrals.extensions import db


def seed_bulk_cases(count: int, *, identifiers_per_case: int = 3,
                    audit_events_total: int = 1_000_000, batch: int = 5000) -> dict:
    """Bulk data for benchmarks: ``count`` cases, their identifiers, audit events."""
    rng = random.Random(20261122)
    actor = system_identity("cli:demo seed --cases")
    start = now() - timedelta(days=365)
    year = now().year
    made_cases = made_identifiers = 0
    counter = db.session.get(CaseCounter, year)
    first_number = (counter.last if counter else 0) + 1
    categories = list(rules.CATEGORIES)
    priorities = list(rules.PRIORITIES)
    statuses = list(rules.STATUSES)
    next_id = (db.session.scalar(select(func.max(Case.id))) or 0) + 1
    next_subject = (db.session.scalar(select(func.max(Subject.id))) or 0) + 1
    for offset in range(0, count, batch):
        case_rows, subject_rows, identifier_rows = [], [], []
        for i in range(offset, min(offset + batch, count)):
            case_id = next_id + i
            priority = rng.choice(priorities)
            status = rng.choice(statuses)
            created = start + timedelta(minutes=rng.randrange(525_000))
            response_due = created + rules.PRIORITIES[priority][1]
            is_open = status != "closed"
            case_rows.append({
                "id": case_id, "reference": f"CASE-{year}-{first_number + i:06d}",
                "title": f"Synthetic case {i}", "summary": "", "category": rng.choice(categories),
                "priority": priority, "priority_rank": rules.PRIORITY_RANK[priority],
                "status": status, "is_open": is_open, "source": "classifier",
                "created_at": created, "updated_at": created, "response_due_at": response_due,
                "queue_due_at": response_due if is_open else services.NO_DEADLINE,
                "closed_at": created + timedelta(days=3) if not is_open else None,
            })
            subject_id = next_subject + i
            subject_rows.append({"id": subject_id, "case_id": case_id, "label": f"account-{i}",
                                 "role": "account", "notes": "", "created_at": created})
            for k in range(identifiers_per_case):
                kind, value = _synthetic_identifier(rng, i, k)
                identifier_rows.append({"subject_id": subject_id, "case_id": case_id,
                                        "kind": kind, "value": value, "normalized": value})
        db.session.execute(insert(Case), case_rows)
        db.session.execute(insert(Subject), subject_rows)
        db.session.execute(insert(Identifier), identifier_rows)
        made_cases += len(case_rows)
        made_identifiers += len(identifier_rows)
    db.session.execute(text(
        "INSERT INTO case_counters (year, last) VALUES (:year, :last) "
        "ON CONFLICT (year) DO UPDATE SET last = :last"), {"year": year, "last": first_number + count - 1})
    _advance_sequences(Case, Subject)
    have = db.session.scalar(select(func.count(AuditEvent.id))) or 0
    made_events = _bulk_audit_events(actor, max(0, audit_events_total - have), next_id, count,
                                     batch * 4)
    return {"cases": made_cases, "identifiers": made_identifiers, "audit_events": made_events}


def _advance_sequences(*models) -> None:
    """After inserts with explicit ids: PostgreSQL's sequence behind each id column would
    otherwise hand out those ids again, and the next case opened would collide. SQLite takes
    the next rowid from the table itself."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for model in models:
        table = model.__table__.name
        db.session.execute(text(
            "SELECT setval(pg_get_serial_sequence(:table, 'id'), "
            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"), {"table": table})


def _synthetic_identifier(rng: random.Random, i: int, k: int) -> tuple[str, str]:
    if k == 0:
        return "platform_user_id", f"u-{i:08d}"
    if k == 1:
        return "email", f"user{i}@mail.example"
    return "ip", f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def _bulk_audit_events(actor: Identity, total: int, first_case_id: int, case_count: int,
                       batch: int) -> int:
    """``total`` synthetic case views, chained by the audit package like any other event."""
    moment = now() - timedelta(days=1)
    events = ({"action": "case.viewed", "object_type": "case",
               "object_id": first_case_id + (n % max(case_count, 1)),
               "after": {"synthetic": True}, "occurred_at": moment + timedelta(microseconds=n)}
              for n in range(total))
    return record_events_in_bulk(actor, events, batch=batch)


def refresh_statistics() -> None:
    """After a bulk load, what one does after any: ``VACUUM (ANALYZE)`` on PostgreSQL.

    - ANALYZE: the planner works from statistics that autovacuum gathers only a while later
      (a minute or more); right after the seed it believed ``identifiers`` nearly empty and
      scanned it whole for each case page (8.6 ms instead of 0.1 ms at 20,000 cases).
    - VACUUM: sets the new rows' hint bits and the visibility map now, so neither the first
      reads (each dirtying the pages it reads) nor autovacuum's own pass over a million new
      audit events land on the requests that follow.

    VACUUM cannot run inside a transaction, so it runs on a connection of its own (it sees
    what the seed committed). ``TRUNCATE false``: giving empty trailing pages back to the
    system needs a table's exclusive lock, for which VACUUM waits seconds per table while
    anything else has it open; nothing here is worth that wait. SQLite's planner does not
    use statistics unless ANALYZE was run once, and its plans were measured without:
    unchanged."""
    bind = db.session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    engine = getattr(bind, "engine", bind)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM (ANALYZE, TRUNCATE false)"))
