"""Building cases, holds and evidence for the retention tests: synthetic data only.

Rows are made directly (with the fields the services would set) where the service is not what
is under test; evidence always goes through the evidence services, so its bytes are really
stored, encrypted, in the test's store.
"""

from __future__ import annotations

import io
import itertools
from datetime import datetime, timedelta

from referrals.cases.models import Case, CaseEvent, Escalation, Identifier, ReportedContent, Subject
from referrals.core.clock import now
from referrals.core.identity import Identity
from referrals.evidence.models import EvidenceItem
from referrals.evidence.services import add_collected_evidence, add_evidence
from referrals.core import transaction
from referrals.extensions import db
from referrals.holds.models import HeldIdentifier, PreservationHold
from referrals.requests.models import DisclosureRequest

AGENT = Identity(kind="staff", label="retention-test-agent@test.example",
                 roles=frozenset({"agent"}))
_numbers = itertools.count(1)


def make_case(*, closed_at: datetime | None = None, title: str = "Synthetic case",
              summary: str = "A made-up summary about a made-up account.") -> Case:
    n = next(_numbers)
    at = now()
    case = Case(reference=f"CASE-1999-{n:06d}", title=title, summary=summary, category="other",
                priority="P2", priority_rank=2, status="closed" if closed_at else "investigating",
                is_open=closed_at is None, source="staff", created_at=at, updated_at=at,
                response_due_at=at + timedelta(days=3), closed_at=closed_at)
    db.session.add(case)
    db.session.flush()
    return case


def add_account(case: Case, *identifiers: tuple[str, str], label: str = "made-up account") -> Subject:
    subject = Subject(case_id=case.id, label=label, role="account", notes="made-up notes",
                      created_at=now())
    db.session.add(subject)
    db.session.flush()
    for kind, normalized in identifiers:
        db.session.add(Identifier(subject_id=subject.id, case_id=case.id, kind=kind,
                                  value=normalized, normalized=normalized))
    db.session.flush()
    return subject


def add_note(case: Case, body: str = "A made-up note naming a made-up person.") -> CaseEvent:
    event = CaseEvent(case_id=case.id, occurred_at=now(), kind="note", actor_label="test",
                      body=body)
    db.session.add(event)
    db.session.flush()
    return event


def add_escalation(case: Case) -> Escalation:
    n = next(_numbers)
    escalation = Escalation(source_system="synthetic-classifier", external_id=f"ext-{n}",
                            case_id=case.id, category="other", reason="classifier",
                            detected_at=now(), received_at=now(),
                            payload='{"accounts":[{"label":"made-up account"}]}')
    db.session.add(escalation)
    db.session.flush()
    db.session.add(ReportedContent(case_id=case.id, escalation_id=escalation.id,
                                   platform_content_id="post-made-up",
                                   url="https://platform.example/p/made-up"))
    db.session.flush()
    return escalation


def add_item(case: Case, data: bytes, name: str = "synthetic.txt") -> EvidenceItem:
    return add_evidence(AGENT, case, io.BytesIO(data), original_name=name,
                        url="https://platform.example/p/made-up", platform_content_id="post-1",
                        description="made-up description")


def make_hold(*, status: str = "active", case: Case | None = None,
              identifiers: tuple[tuple[str, str], ...] = (), expires_at: datetime | None = None,
              ended_at: datetime | None = None, kind: str = "internal") -> PreservationHold:
    n = next(_numbers)
    at = now()
    hold = PreservationHold(reference=f"HOLD-1999-{n:06d}", kind=kind, status=status,
                            case_id=case.id if case else None, starts_at=at, expires_at=expires_at,
                            placed_by_label="test", placed_at=at, ended_at=ended_at,
                            updated_at=at)
    hold.identifiers = [HeldIdentifier(kind=k, value=v, normalized=v) for k, v in identifiers]
    db.session.add(hold)
    db.session.flush()
    return hold


def make_request(officer, *, over_at: datetime | None,
                 accounts: tuple[tuple[str, str], ...]) -> DisclosureRequest:
    """A search warrant from ``officer`` about ``accounts`` (normalized values): closed and
    last changed at ``over_at``, or still collecting when that is None."""
    from referrals.requests.models import RequestTarget

    n = next(_numbers)
    at = now()
    request = DisclosureRequest(
        reference=f"REQ-1999-{n:06d}", agency_id=officer.agency_id, submitted_by_id=officer.id,
        request_type="search_warrant", addressed_to="us", officer_name="Det. Made Up",
        official_email=officer.email, phone="+1 202 555 0100", received_at=at,
        status="collecting" if over_at is None else "closed", is_open=over_at is None,
        updated_at=over_at or at,
        targets=[RequestTarget(kind=k, value=v, normalized=v) for k, v in accounts])
    db.session.add(request)
    db.session.flush()
    return request


def add_request_item(request: DisclosureRequest, data: bytes, name: str) -> EvidenceItem:
    return add_collected_evidence(AGENT, io.BytesIO(data), request=request, original_name=name,
                                  source_system="demo-platform", data_category="subscriber",
                                  purpose="Collected (test)")


def add_snapshot_item(hold: PreservationHold, data: bytes, name: str = "snapshot.json") -> EvidenceItem:
    return add_collected_evidence(AGENT, io.BytesIO(data), hold=hold, original_name=name,
                                  source_system="demo-platform", data_category="subscriber",
                                  purpose="Snapshot (test)")


def settle_stored_files() -> None:
    """Run what waits for the commit (retention overwrites destroyed bytes only after it)
    without committing: for tests inside savepoints that are rolled back afterwards."""
    for fn, args, kwargs in db.session.info.pop(transaction._KEY, []):
        fn(*args, **kwargs)
