"""QA sampling: a share of disclosures drawn at random for a second review, reproducibly, and
the findings of that review tracked by staff to closure. Every step is audited.

The draw. Each draw takes the disclosures released since the previous draw's window ended (the
first draw: all of them) up to ``SETTLE`` before now, and a fresh 32-byte random seed. The lag
lets every release that had begun by the window's end commit first: a disclosure written in a
transaction still open when the draw ran would otherwise fall inside a window it was never
drawn from, and the draw would no longer recompute. A disclosure is drawn when

    int(SHA-256("<seed>:<disclosure id>"), 16)  <  rate × 2^256

compared exactly (the rate is a decimal, read as a fraction). The draw records the seed, the
rate as written, its window, who or what drew it and when, and the hash of each disclosure it
drew; ``recompute_draw`` (or a few lines of any language) gives the same disclosures from the
records alone. The windows do not overlap, so a disclosure can be drawn once at most, and a
disclosure's release time never changes, so a window's population never does either.

Who does what (``qa_policy``): compliance reviewers draw, review and record findings — the only
things they change anywhere; supervisors assign findings and close them with a resolution; the
assignee (or a supervisor) responds.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction

from sqlalchemy import func, select

from referrals.accounts.models import Role, User
from referrals.audit.services import record_event
from referrals.core.clock import now
from referrals.core.errors import DomainError, InvalidInput, NotFound
from referrals.core.identity import Identity
from referrals.core.policy import Policy, has_role, system_or
from referrals.disclosures.models import Disclosure
from referrals.disclosures.qa_models import (FINDING_CATEGORIES, OPEN_FINDING_STATUSES, QaDraw,
                                             QaFinding, QaSample)
from referrals.extensions import db

TEXT_LIMIT = 4000
SETTLE = timedelta(minutes=10)
# Who a finding may be assigned to: staff who work disclosures.
ASSIGNABLE_ROLES = ("agent", "supervisor")


def _assignee_or_supervisor(identity: Identity, finding=None) -> bool:
    if not identity.is_staff:
        return False
    if identity.has_role("supervisor"):
        return True
    return (identity.has_role("agent") and finding is not None
            and finding.assignee_id == identity.user_id)


class QaPolicy(Policy):
    rules = {
        "read": has_role("compliance", "supervisor", "agent"),
        "draw": system_or(has_role("compliance")),
        "review": has_role("compliance"),
        "record_finding": has_role("compliance"),
        "assign_finding": has_role("supervisor"),
        "respond_finding": _assignee_or_supervisor,
        "close_finding": has_role("supervisor"),
    }


qa_policy = QaPolicy()


# --- the draw -------------------------------------------------------------------------------


def parse_rate(text: str) -> Fraction:
    """The rate as an exact fraction, 0 < rate <= 1."""
    try:
        rate = Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        raise InvalidInput(f"The sample rate {text!r} is not a number such as 0.1.",
                           field="rate") from None
    if not 0 < rate <= 1:
        raise InvalidInput("The sample rate must be above 0 and at most 1.", field="rate")
    return rate


def draw_hash(seed: str, disclosure_id: int) -> str:
    return hashlib.sha256(f"{seed}:{disclosure_id}".encode("ascii")).hexdigest()


def is_drawn(seed: str, disclosure_id: int, rate: Fraction) -> bool:
    value = int(draw_hash(seed, disclosure_id), 16)
    return value * rate.denominator < rate.numerator * 2**256


def _population(window_start, window_end) -> list[int]:
    query = select(Disclosure.id).where(Disclosure.disclosed_at < window_end)
    if window_start is not None:
        query = query.where(Disclosure.disclosed_at >= window_start)
    return list(db.session.scalars(query.order_by(Disclosure.id)))


def draw_sample(actor: Identity, rate_text: str, *, seed: str | None = None) -> QaDraw:
    """Draw from the disclosures released since the last draw; ``seed`` only for tests and for
    recomputing (a real draw takes a fresh random one)."""
    qa_policy.require(actor, "draw")
    rate = parse_rate(rate_text)
    seed = seed or secrets.token_hex(32)
    previous = db.session.scalar(select(QaDraw).order_by(QaDraw.id.desc()).limit(1))
    window_start = previous.window_end if previous else None
    drawn_at = now()
    window_end = drawn_at - SETTLE
    if window_start is not None and window_end <= window_start:
        raise DomainError("The last draw took every disclosure released until "
                          f"{SETTLE.seconds // 60} minutes before it: wait until then.")
    population = _population(window_start, window_end)
    chosen = [(i, draw_hash(seed, i)) for i in population if is_drawn(seed, i, rate)]
    draw = QaDraw(seed=seed, rate=str(rate_text).strip(), window_start=window_start,
                  window_end=window_end, population=len(population), drawn=len(chosen),
                  drawn_at=drawn_at, drawn_by_id=actor.user_id, drawn_by_label=actor.label[:255])
    draw.samples = [QaSample(disclosure_id=i, draw_hash=h) for i, h in chosen]
    db.session.add(draw)
    db.session.flush()
    record_event(actor, "qa.drawn", object_type="qa_draw", object_id=draw.id, after={
        "seed": seed, "rate": draw.rate,
        "window_start": window_start.isoformat() if window_start else None,
        "window_end": window_end.isoformat(), "population": len(population),
        "drawn": [i for i, _ in chosen],
        "rule": "SHA-256('<seed>:<disclosure id>') as a number < rate * 2^256"})
    return draw


@dataclass(frozen=True)
class Recomputed:
    expected: list[int]
    recorded: list[int]
    population: int

    @property
    def matches(self) -> bool:
        return self.expected == self.recorded


def recompute_draw(draw: QaDraw) -> Recomputed:
    """Draw again from the records alone: the same seed, rate and window must give the same
    disclosures."""
    population = _population(draw.window_start, draw.window_end)
    rate = parse_rate(draw.rate)
    expected = [i for i in population if is_drawn(draw.seed, i, rate)]
    recorded = sorted(sample.disclosure_id for sample in draw.samples)
    return Recomputed(expected, recorded, len(population))


# --- the review and its findings --------------------------------------------------------------


def _text(value: str, field: str, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(message, field=field)
    if len(value) > TEXT_LIMIT:
        raise InvalidInput(f"Keep it under {TEXT_LIMIT} characters.", field=field)
    return value


def _get(identity: Identity, model, key: int, what: str):
    qa_policy.require(identity, "read")
    found = db.session.get(model, key)
    if found is None:
        raise NotFound(f"There is no such {what}.")
    return found


def get_sample(identity: Identity, sample_id: int) -> QaSample:
    return _get(identity, QaSample, sample_id, "QA sample")


def get_finding(identity: Identity, finding_id: int) -> QaFinding:
    return _get(identity, QaFinding, finding_id, "QA finding")


def mark_reviewed(actor: Identity, sample: QaSample) -> None:
    qa_policy.require(actor, "review")
    if sample.reviewed_at is not None:
        raise DomainError("This sample has already been reviewed.")
    sample.reviewed_at = now()
    sample.reviewed_by_id = actor.user_id
    db.session.flush()
    record_event(actor, "qa.sample_reviewed", object_type="qa_sample", object_id=sample.id,
                 after={"disclosure_id": sample.disclosure_id,
                        "findings": [f.id for f in sample.findings]})


def record_finding(actor: Identity, sample: QaSample, category: str, notes: str) -> QaFinding:
    qa_policy.require(actor, "record_finding")
    if category not in FINDING_CATEGORIES:
        raise InvalidInput("Choose what kind of finding it is from the list.", field="category")
    notes = _text(notes, "notes", "Say what you found.")
    finding = QaFinding(sample_id=sample.id, disclosure_id=sample.disclosure_id,
                        category=category, notes=notes, status="open",
                        recorded_by_id=actor.user_id, recorded_at=now())
    db.session.add(finding)
    db.session.flush()
    record_event(actor, "qa.finding_recorded", object_type="qa_finding", object_id=finding.id,
                 after={"disclosure_id": sample.disclosure_id, "category": category,
                        "notes": notes})
    return finding


def _require_open(finding: QaFinding) -> None:
    if not finding.is_open:
        raise DomainError("This finding is closed.")


def assignable_staff() -> list[User]:
    return list(db.session.scalars(
        select(User).where(User.kind == "staff", User.active.is_(True),
                           User.roles.any(Role.name.in_(ASSIGNABLE_ROLES)))
        .order_by(User.full_name, User.email)))


def assign_finding(actor: Identity, finding: QaFinding, assignee_id: int) -> None:
    qa_policy.require(actor, "assign_finding", finding)
    _require_open(finding)
    assignee = db.session.get(User, assignee_id)
    if assignee is None or assignee not in assignable_staff():
        raise InvalidInput("Choose an agent or supervisor from the list.", field="assignee_id")
    before = {"status": finding.status, "assignee_id": finding.assignee_id}
    finding.assignee_id = assignee.id
    finding.assigned_at = now()
    if finding.status == "open":
        finding.status = "assigned"
    db.session.flush()
    record_event(actor, "qa.finding_assigned", object_type="qa_finding", object_id=finding.id,
                 before=before, after={"status": finding.status, "assignee_id": assignee.id,
                                       "assignee": assignee.email})


def respond_to_finding(actor: Identity, finding: QaFinding, response: str) -> None:
    qa_policy.require(actor, "respond_finding", finding)
    _require_open(finding)
    response = _text(response, "response", "Write the response.")
    before = {"status": finding.status, "response": finding.response}
    finding.response = response
    finding.responded_by_id = actor.user_id
    finding.responded_at = now()
    finding.status = "responded"
    db.session.flush()
    record_event(actor, "qa.finding_responded", object_type="qa_finding", object_id=finding.id,
                 before=before, after={"status": "responded", "response": response})


def close_finding(actor: Identity, finding: QaFinding, resolution: str) -> None:
    qa_policy.require(actor, "close_finding", finding)
    _require_open(finding)
    resolution = _text(resolution, "resolution", "Say how the finding was resolved.")
    before = {"status": finding.status}
    finding.resolution = resolution
    finding.closed_by_id = actor.user_id
    finding.closed_at = now()
    finding.status = "closed"
    db.session.flush()
    record_event(actor, "qa.finding_closed", object_type="qa_finding", object_id=finding.id,
                 before=before, after={"status": "closed", "resolution": resolution})


def open_findings_count() -> int:
    return int(db.session.scalar(select(func.count(QaFinding.id))
                                 .where(QaFinding.status.in_(OPEN_FINDING_STATUSES))) or 0)


def recent_draws(limit: int = 10) -> list[QaDraw]:
    return list(db.session.scalars(select(QaDraw).order_by(QaDraw.id.desc()).limit(limit)))


def samples_to_review(limit: int = 100) -> list[QaSample]:
    return list(db.session.scalars(select(QaSample).where(QaSample.reviewed_at.is_(None))
                                   .order_by(QaSample.id).limit(limit)))


def findings(status: str = "open", limit: int = 200) -> list[QaFinding]:
    query = select(QaFinding).order_by(QaFinding.id.desc()).limit(limit)
    if status == "open":
        query = query.where(QaFinding.status.in_(OPEN_FINDING_STATUSES))
    elif status == "closed":
        query = query.where(QaFinding.status == "closed")
    return list(db.session.scalars(query))
