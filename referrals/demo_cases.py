"""Demo and benchmark cases: made-up targets, synthetic identifiers, generated images.

``seed_sample_cases`` makes a handful of worked cases for a try-out through the real
services. ``seed_bulk_cases`` makes N cases (with 3 identifiers each, and audit events
up to a target) with bulk inserts, for the queue benchmark; its audit events are
chained like any others, so ``audit verify`` still passes.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from datetime import timedelta

from sqlalchemy import func, insert, select, text

from referrals.audit.models import AuditChainHead, AuditEvent
from referrals.audit.services import GENESIS_HASH, canonical_json, event_digest
from referrals.cases import rules, services
from referrals.cases.escalations import receive_escalation
from referrals.cases.models import Case, CaseCounter, Identifier, Subject
from referrals.core.clock import now
from referrals.core.identity import Identity, system_identity
from referrals.extensions import db


def synthetic_png(width: int = 320, height: int = 200, seed: int = 1) -> bytes:
    """A generated gradient image (nothing real)."""
    rng = random.Random(seed)
    r0, g0, b0 = rng.randrange(256), rng.randrange(256), rng.randrange(256)
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            rows += bytes(((r0 + x) % 256, (g0 + y) % 256, (b0 + x + y) % 256))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(rows), 6)) + chunk(b"IEND", b""))


SAMPLES = [
    ("imminent_harm", "P0", "Live-stream viewer says they will hurt themselves tonight",
     [("streamer_lonewolf88", [("platform_user_id", "u-100234"), ("username", "@lonewolf88"),
                               ("ip", "198.51.100.23")])]),
    ("grooming", "P1", "Adult account messaging several minors off-platform",
     [("trusted.coach", [("platform_user_id", "u-554120"), ("email", "coach.demo@example.net"),
                         ("phone", "+1 202 555 0143")])]),
    ("violent_extremism", "P1", "Account sharing attack-planning material",
     [("northwind_77", [("platform_user_id", "u-778812"), ("device_id", "A1B2-C3D4-DEMO")])]),
    ("trafficking", "P2", "Advertisements suggesting forced labour",
     [("jobs.abroad.fast", [("platform_user_id", "u-901122"), ("phone", "+44 20 7946 0958")])]),
    ("other", "P3", "Threatening messages to a public official",
     [("angryvoice", [("platform_user_id", "u-300300")])]),
]


def seed_sample_cases(agent_id: int | None) -> int:
    """A few worked cases, once (skipped when any case exists)."""
    if db.session.scalar(select(func.count(Case.id))):
        return 0
    actor = Identity(kind="system", label="cli:demo seed", scopes=frozenset({"escalations:write"}))
    for n, (category, priority, title, accounts) in enumerate(SAMPLES, start=1):
        payload = {
            "source_system": "demo-moderation", "external_id": f"DEMO-{n:04d}",
            "category": category, "reason": "user_report" if n % 2 else "classifier",
            "detected_at": now() - timedelta(hours=n * 3), "priority": priority, "title": title,
            "summary": "Synthetic demo case: the people and accounts are made up.",
            "accounts": [{"label": label, "role": "account",
                          "identifiers": [{"kind": k, "value": v} for k, v in idents]}
                         for label, idents in accounts],
            "content": [{"platform_content_id": f"c-{n}00{n}", "url": f"https://platform.example/c/{n}00{n}",
                         "sha256": f"{n:02d}" * 32, "may_be_csam": False}],
        }
        intake = receive_escalation(actor, payload)
        if n in (1, 2) and agent_id is not None:
            from referrals.accounts.models import User
            from referrals.evidence.services import add_evidence

            agent = Identity.for_user(db.session.get(User, agent_id))
            # Case 2 (grooming) is the CyberTipline demo: a file no person has viewed yet.
            add_evidence(agent, intake.case, io.BytesIO(synthetic_png(seed=n)),
                         original_name="stream-capture.png" if n == 1 else "shared-image.png",
                         url=None if n == 1 else "https://platform.example/media/2002.png",
                         description="Synthetic demo image (a generated gradient).")
    return len(SAMPLES)


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
    have = db.session.scalar(select(func.count(AuditEvent.id))) or 0
    made_events = _bulk_audit_events(actor, max(0, audit_events_total - have), next_id, count,
                                     batch * 4)
    return {"cases": made_cases, "identifiers": made_identifiers, "audit_events": made_events}


def _synthetic_identifier(rng: random.Random, i: int, k: int) -> tuple[str, str]:
    if k == 0:
        return "platform_user_id", f"u-{i:08d}"
    if k == 1:
        return "email", f"user{i}@mail.example"
    return "ip", f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def _bulk_audit_events(actor: Identity, total: int, first_case_id: int, case_count: int,
                       batch: int) -> int:
    head = db.session.get(AuditChainHead, 1)
    if head is None:
        head = AuditChainHead(id=1, seq=0, last_hash=GENESIS_HASH)
        db.session.add(head)
        db.session.flush()
    seq, prev = head.seq, head.last_hash
    moment = now() - timedelta(days=1)
    made = 0
    while made < total:
        rows = []
        for _ in range(min(batch, total - made)):
            seq += 1
            case_no = first_case_id + (seq % max(case_count, 1))
            event = AuditEvent(seq=seq, occurred_at=moment + timedelta(microseconds=seq),
                               actor_kind=actor.kind, actor_id=None, actor_label=actor.label,
                               action="case.viewed", object_type="case", object_id=str(case_no),
                               agency_id=None, before=None,
                               after=canonical_json({"synthetic": True}), ip=None,
                               user_agent=None, request_id=None, prev_hash=prev)
            from referrals.audit.services import hashed_fields

            event.hash = event_digest(hashed_fields(event))
            prev = event.hash
            rows.append({c: getattr(event, c) for c in (
                "seq", "occurred_at", "actor_kind", "actor_id", "actor_label", "action",
                "object_type", "object_id", "agency_id", "before", "after", "ip", "user_agent",
                "request_id", "prev_hash", "hash")})
        db.session.execute(insert(AuditEvent), rows)
        made += len(rows)
    head.seq, head.last_hash = seq, prev
    db.session.flush()
    return made

