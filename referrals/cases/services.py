"""Case operations: open, escalate, take, assign, move, note; subjects and identifiers.

Each takes the acting identity, checks the policy, flushes, writes the timeline and
the audit event, and never commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import bindparam, event, inspect, select, text
from sqlalchemy.orm import Session

from referrals.accounts.models import User
from referrals.audit.services import record_event
from referrals.cases import rules
from referrals.vocabulary.identifiers import KINDS, normalize, phone_region
from referrals.cases.models import Case, CaseEvent, Identifier, Subject
from referrals.cases.policies import case_policy
from referrals.core.clock import now
from referrals.core.errors import DomainError, InvalidInput, NotFound
from referrals.core.identity import Identity
from referrals.core.timefmt import format_instant
from referrals.extensions import db

NO_DEADLINE = datetime(9999, 1, 1, tzinfo=UTC)  # sorts last in the queue
# A case opened with numbered=False has this reference (and 16 random hex digits) until
# number_case gives it its number, within the same transaction.
PROVISIONAL = "new-"
_UNNUMBERED = "referrals_unnumbered_cases"
_ACTOR_NAMES = "referrals_actor_names"


_CASE_BY_REFERENCE = select(Case).where(Case.reference == bindparam("reference"))  # built once


def get_case(reference: str) -> Case:
    case = db.session.scalar(_CASE_BY_REFERENCE, {"reference": reference.strip().upper()})
    if case is None:
        raise NotFound(f"There is no case {reference}.")
    return case


def next_reference(year: int) -> str:
    """CASE-YYYY-NNNNNN, numbered per year without gaps between concurrent writers.

    The year's counter row stays locked from here to the commit: every other transaction that
    opens a case waits that long. Take it as the last write before the audit event (see
    ``open_case(numbered=False)``)."""
    number = db.session.execute(
        text(
            "INSERT INTO case_counters (year, last) VALUES (:year, 1) "
            "ON CONFLICT (year) DO UPDATE SET last = case_counters.last + 1 RETURNING last"
        ),
        {"year": year},
    ).scalar_one()
    return f"CASE-{year:04d}-{number:06d}"


def add_case_event(case: Case, actor: Identity, kind: str, body: str, at: datetime | None = None):
    """A line on the case's timeline (evidence adds its own)."""
    event = CaseEvent(case_id=case.id, occurred_at=at or now(), kind=kind,
                      actor_id=actor.user_id if actor.kind in ("staff", "agency") else None,
                      actor_label=_actor_name(actor), body=body)
    db.session.add(event)
    return event


def _actor_name(actor: Identity) -> str:
    """The name on a timeline line: looked up once per transaction (the session keeps a
    loaded user only while something holds it: each line of an intake loaded it again)."""
    if actor.user_id is None:
        return actor.label
    names = db.session.info.setdefault(_ACTOR_NAMES, {})
    if actor.user_id not in names:
        user = db.session.get(User, actor.user_id)
        names[actor.user_id] = user.display_name if user is not None else actor.label
    return names[actor.user_id]


def _snapshot(case: Case) -> dict:
    return {
        "reference": case.reference, "status": case.status, "priority": case.priority,
        "category": case.category, "assignee_id": case.assignee_id,
        "due_at": case.due_at.isoformat() if case.due_at else None,
    }


def _refresh_queue_due(case: Case) -> None:
    if not case.is_open:
        case.queue_due_at = NO_DEADLINE
    elif case.first_response_at is None:
        case.queue_due_at = case.response_due_at
    else:
        case.queue_due_at = case.due_at or NO_DEADLINE


def note_response(case: Case, actor: Identity, at: datetime) -> None:
    """The first action of a person on a case answers its first-response target: a signed-in
    member of staff, never an automatic step (an integration or a command acting through a
    token's scopes, or a job), which would stop the clock before anyone looked."""
    if case.first_response_at is None and actor.is_staff and actor.scopes is None:
        case.first_response_at = at
        _refresh_queue_due(case)


def _check_choice(value: str, choices: dict | tuple, field: str, what: str) -> str:
    if value not in choices:
        raise InvalidInput(f"Choose a {what}.", field=field)
    return value


def open_case(
    actor: Identity,
    *,
    title: str,
    category: str,
    priority: str | None = None,
    source: str = "staff",
    summary: str = "",
    opened_at: datetime | None = None,
    audit: bool = True,
    check: bool = True,
    numbered: bool = True,
) -> Case:
    """Open a case. ``check=False`` is for callers that authorised the actor otherwise
    (an escalation token's scope, or the demo seed). ``numbered=False``: the case number is
    taken later, by ``number_case``, by a caller with more to write after the case (the
    counter row is locked from the number to the commit); until then the case has a
    provisional reference, which never reaches an audit event or a commit."""
    if audit and not numbered:
        raise ValueError("the case.opened audit event names the case by its number")
    if check:
        case_policy.require(actor, "open")
    _check_choice(category, rules.CATEGORIES, "category", "category")
    priority = priority or rules.DEFAULT_PRIORITY[category]
    _check_choice(priority, rules.PRIORITIES, "priority", "priority")
    _check_choice(source, rules.SOURCES, "source", "source")
    title = (title or "").strip()
    if not title:
        raise InvalidInput("Give the case a short title.", field="title")
    at = opened_at or now()
    case = Case(
        reference=next_reference(at.year) if numbered else PROVISIONAL + secrets.token_hex(8),
        title=title[:200],
        summary=(summary or "").strip(),
        category=category,
        priority=priority,
        priority_rank=rules.PRIORITY_RANK[priority],
        status="new",
        is_open=True,
        source=source,
        created_by_id=actor.user_id if actor.is_staff else None,
        created_at=at,
        updated_at=at,
        response_due_at=at + rules.PRIORITIES[priority][1],
    )
    _refresh_queue_due(case)
    db.session.add(case)
    db.session.flush()
    if not numbered:
        db.session.info.setdefault(_UNNUMBERED, []).append(case)
    add_case_event(case, actor, "opened",
              f"Opened as {priority} ({rules.CATEGORIES[category]}), source: {rules.SOURCES[source]}.",
              at)
    if audit:
        record_event(actor, "case.opened", object_type="case", object_id=case.reference,
                     after=_snapshot(case))
    return case


def number_case(case: Case) -> None:
    """Give a case opened with ``numbered=False`` its number (nothing if it has one): the last
    write before the audit event that names it."""
    if case.reference.startswith(PROVISIONAL):
        case.reference = next_reference(case.created_at.year)


@event.listens_for(Session, "before_commit")
def _every_case_committed_has_its_number(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint's release, not the commit
        return
    unnumbered = [case for case in session.info.pop(_UNNUMBERED, ())
                  if inspect(case).persistent and case.reference.startswith(PROVISIONAL)]
    if unnumbered:
        raise RuntimeError(f"{len(unnumbered)} case(s) opened with numbered=False were never "
                           "given their number (number_case)")


@event.listens_for(Session, "after_transaction_end")
def _end_with_the_transaction(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_UNNUMBERED, None)
        session.info.pop(_ACTOR_NAMES, None)


def raise_priority(actor: Identity, case: Case, priority: str, why: str) -> bool:
    """Move a case to a more urgent priority (never down: that is a person's decision)."""
    if rules.PRIORITY_RANK[priority] >= case.priority_rank:
        return False
    before = _snapshot(case)
    case.priority = priority
    case.priority_rank = rules.PRIORITY_RANK[priority]
    target = now() + rules.PRIORITIES[priority][1]
    if case.first_response_at is None and target < case.response_due_at:
        case.response_due_at = target
    _refresh_queue_due(case)
    case.updated_at = now()
    add_case_event(case, actor, "priority", f"Priority raised to {priority}: {why}")
    record_event(actor, "case.priority_raised", object_type="case", object_id=case.reference,
                 before=before, after=_snapshot(case))
    return True


def take_case(actor: Identity, case: Case) -> Case:
    if case.assignee_id is not None:
        raise DomainError("Someone already has this case. Ask a supervisor to reassign it.")
    case_policy.require(actor, "take", case)
    before = _snapshot(case)
    at = now()
    case.assignee_id = actor.user_id
    case.updated_at = at
    if case.status == "new":
        case.status = "triage"
    note_response(case, actor, at)
    add_case_event(case, actor, "assigned", f"{_actor_name(actor)} took the case.", at)
    record_event(actor, "case.taken", object_type="case", object_id=case.reference,
                 before=before, after=_snapshot(case))
    return case


def assign_case(actor: Identity, case: Case, assignee_id: int | None) -> Case:
    case_policy.require(actor, "assign", case)
    assignee = None
    if assignee_id is not None:
        assignee = db.session.get(User, assignee_id)
        if (assignee is None or assignee.kind != "staff" or not assignee.active
                or not {"agent", "supervisor"} & set(assignee.role_names)):
            raise InvalidInput("Assign the case to an active agent or supervisor.",
                               field="assignee_id")
    if case.assignee_id == assignee_id:
        raise DomainError("The case is already assigned that way.")
    before = _snapshot(case)
    case.assignee_id = assignee_id
    case.updated_at = now()
    body = (f"Assigned to {assignee.display_name}." if assignee else "Unassigned.")
    add_case_event(case, actor, "assigned", body)
    record_event(actor, "case.assigned", object_type="case", object_id=case.reference,
                 before=before, after=_snapshot(case))
    return case


def _refuse_purged(case: Case) -> None:
    """A purged case is a tombstone (referrals.retention): nothing is added back to it."""
    if case.purged_at is not None:
        raise DomainError("This case was purged under the retention policy: it cannot be "
                          "reopened or added to. Open a new case instead.")


# What features above cases require before a case takes a status (outbound: a case is
# "referred" only with a referral sent). Each condition takes the case and answers why not,
# in plain words, or None.
status_conditions: dict[str, list[Callable[[Case], str | None]]] = {}


def add_status_condition(status: str):
    def register(condition: Callable[[Case], str | None]) -> Callable[[Case], str | None]:
        status_conditions.setdefault(status, []).append(condition)
        return condition
    return register


def change_status(actor: Identity, case: Case, status: str, note: str = "") -> Case:
    case_policy.require(actor, "change_status", case)
    _refuse_purged(case)
    rules.CASE_STATES.require(case.status, status, reason=note)
    for condition in status_conditions.get(status, ()):
        refusal = condition(case)
        if refusal:
            raise DomainError(refusal, field="status")
    before = _snapshot(case)
    at = now()
    case.status = status
    case.is_open = not rules.CASE_STATES.is_final(status)
    case.closed_at = None if case.is_open else at
    case.updated_at = at
    note_response(case, actor, at)
    _refresh_queue_due(case)
    body = f"Status: {rules.STATUSES[before['status']]} → {rules.STATUSES[status]}."
    if note.strip():
        body += f" {note.strip()}"
    add_case_event(case, actor, "status", body, at)
    record_event(actor, "case.status_changed", object_type="case", object_id=case.reference,
                 before=before, after=_snapshot(case))
    return case


def add_note(actor: Identity, case: Case, body: str) -> CaseEvent:
    case_policy.require(actor, "add_note", case)
    _refuse_purged(case)
    body = (body or "").strip()
    if not body:
        raise InvalidInput("Write the note first.", field="body")
    if len(body) > 20000:
        raise InvalidInput("A note can be at most 20,000 characters.", field="body")
    at = now()
    case.updated_at = at
    note_response(case, actor, at)
    event = add_case_event(case, actor, "note", body, at)
    db.session.flush()
    record_event(actor, "case.note_added", object_type="case", object_id=case.reference,
                 after={"case_event_id": event.id, "length": len(body)})
    return event


def set_due(actor: Identity, case: Case, due_at: datetime | None) -> Case:
    case_policy.require(actor, "set_due", case)
    if due_at is not None and due_at <= now():
        raise InvalidInput("That time has already passed: give a due date in the future "
                           "(an overdue case shows as overdue by itself).", field="due_at")
    before = _snapshot(case)
    case.due_at = due_at
    case.updated_at = now()
    _refresh_queue_due(case)
    add_case_event(case, actor, "due", f"Due date set to {format_instant(due_at)}." if due_at
              else "Due date removed.")
    record_event(actor, "case.due_changed", object_type="case", object_id=case.reference,
                 before=before, after=_snapshot(case))
    return case


# --- subjects and identifiers ----------------------------------------------------------


def add_subject(actor: Identity, case: Case, *, label: str, role: str = "account",
                notes: str = "", audit: bool = True, check: bool = True) -> Subject:
    if check:
        case_policy.require(actor, "edit_subjects", case)
    _refuse_purged(case)
    label = (label or "").strip()
    if not label:
        raise InvalidInput("Name the subject (a display name or the account's handle).",
                           field="label")
    subject = Subject(case_id=case.id, label=label[:200], role=role or "account",
                      notes=(notes or "").strip(), created_at=now(),
                      identifiers=[])  # new: nothing to load when identifiers are added
    db.session.add(subject)
    db.session.flush()
    if audit:
        record_event(actor, "subject.added", object_type="case", object_id=case.reference,
                     after={"subject_id": subject.id, "label": subject.label, "role": subject.role})
    return subject


def add_identifier(actor: Identity, subject: Subject, *, kind: str, value: str,
                   observed_at: datetime | None = None, port: int | None = None,
                   audit: bool = True, check: bool = True) -> Identifier:
    if check:
        case_policy.require(actor, "edit_subjects", subject)
    normalized = normalize(kind, value, region=phone_region())
    if kind != "ip" and (observed_at or port):
        raise InvalidInput("Only IP addresses take a time and a port.", field="observed_at")
    if port is not None and not 0 <= port <= 65535:
        raise InvalidInput("A port is a number from 0 to 65535.", field="port")
    for existing in subject.identifiers:
        if (existing.kind, existing.normalized, existing.observed_at, existing.port) == (
            kind, normalized, observed_at, port):
            return existing
    identifier = Identifier(subject=subject, case_id=subject.case_id, kind=kind,
                            value=value.strip()[:320], normalized=normalized,
                            observed_at=observed_at, port=port)
    db.session.add(identifier)
    db.session.flush()
    if audit:
        case = db.session.get(Case, subject.case_id)
        record_event(actor, "identifier.added", object_type="case", object_id=case.reference,
                     after={"subject_id": subject.id, "kind": kind, "normalized": normalized})
    return identifier


def identifier_kinds() -> dict[str, str]:
    return KINDS
