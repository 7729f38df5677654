"""Correcting and removing a case's subjects and identifiers: a typo in an e-mail address, an
account that turned out not to be in the case.

Every correction says why, is audited with what it was and what it became, and is a line on
the case's timeline, so the record shows what was believed when. A correction is normalised
like a new identifier, so matching across cases, requests and holds follows it at once.
"""

from __future__ import annotations

from referrals.audit.services import record_event
from referrals.cases.models import Case, Identifier, Subject
from referrals.cases.policies import case_policy
from referrals.cases.services import add_case_event
from referrals.core.clock import now
from referrals.core.errors import DomainError, InvalidInput, NotFound
from referrals.core.identity import Identity
from referrals.core.inputs import required_text
from referrals.extensions import db
from referrals.vocabulary.identifiers import KINDS, normalize, phone_region

def _reason(reason: str | None) -> str:
    return required_text(reason, "reason", "Say why: the reason stays on the case's timeline.")


def _editable(actor: Identity, case: Case) -> None:
    case_policy.require(actor, "edit_subjects", case)
    if case.purged_at is not None:
        raise DomainError("This case was purged under the retention policy: nothing in it "
                          "can be changed.")


def subject_of(case: Case, subject_id: int) -> Subject:
    subject = db.session.get(Subject, subject_id)
    if subject is None or subject.case_id != case.id:
        raise NotFound("There is no such subject in this case.")
    return subject


def identifier_of(case: Case, identifier_id: int) -> Identifier:
    identifier = db.session.get(Identifier, identifier_id)
    if identifier is None or identifier.case_id != case.id:
        raise NotFound("There is no such identifier in this case.")
    return identifier


def _identifier_fields(identifier: Identifier) -> dict:
    return {"identifier_id": identifier.id, "subject_id": identifier.subject_id,
            "kind": identifier.kind, "value": identifier.value,
            "normalized": identifier.normalized}


def correct_identifier(actor: Identity, case: Case, identifier: Identifier, *, kind: str,
                       value: str, reason: str) -> Identifier:
    _editable(actor, case)
    reason = _reason(reason)
    if kind not in KINDS:
        raise InvalidInput("Choose the identifier's type.", field="kind")
    normalized = normalize(kind, value, region=phone_region())
    if (kind, normalized) == (identifier.kind, identifier.normalized) \
            and (value or "").strip() == identifier.value:
        raise DomainError("That is what the identifier already says.")
    if kind != "ip" and (identifier.observed_at or identifier.port is not None):
        raise InvalidInput("Only IP addresses take a time and a port: remove this identifier "
                           "and add the new one instead.", field="kind")
    before = _identifier_fields(identifier)
    identifier.kind, identifier.value, identifier.normalized = kind, value.strip()[:320], normalized
    case.updated_at = now()
    db.session.flush()
    add_case_event(case, actor, "correction",
                   f"Identifier corrected: {KINDS[before['kind']].lower()} "
                   f"{before['normalized']} is now {KINDS[kind].lower()} {normalized}. "
                   f"Why: {reason}")
    record_event(actor, "identifier.corrected", object_type="case", object_id=case.reference,
                 before=before, after={**_identifier_fields(identifier), "reason": reason})
    return identifier


def remove_identifier(actor: Identity, case: Case, identifier: Identifier, reason: str) -> None:
    _editable(actor, case)
    reason = _reason(reason)
    before = _identifier_fields(identifier)
    identifier.subject.identifiers.remove(identifier)
    db.session.delete(identifier)
    case.updated_at = now()
    db.session.flush()
    add_case_event(case, actor, "correction",
                   f"Identifier removed: {KINDS[before['kind']].lower()} {before['normalized']}. "
                   f"Why: {reason}")
    record_event(actor, "identifier.removed", object_type="case", object_id=case.reference,
                 before=before, after={"reason": reason})


def _subject_fields(subject: Subject) -> dict:
    return {"subject_id": subject.id, "label": subject.label, "role": subject.role,
            "identifiers": [f"{i.kind}:{i.normalized}" for i in subject.identifiers]}


def correct_subject(actor: Identity, case: Case, subject: Subject, *, label: str, role: str,
                    reason: str) -> Subject:
    _editable(actor, case)
    reason = _reason(reason)
    label, role = (label or "").strip()[:200], (role or "").strip()[:32] or subject.role
    if not label:
        raise InvalidInput("Name the subject (a display name or the account's handle).",
                           field="label")
    if (label, role) == (subject.label, subject.role):
        raise DomainError("That is what the subject already says.")
    before = _subject_fields(subject)
    subject.label, subject.role = label, role
    case.updated_at = now()
    db.session.flush()
    add_case_event(case, actor, "correction",
                   f"Subject corrected: “{before['label']}” ({before['role']}) is now "
                   f"“{label}” ({role}). Why: {reason}")
    record_event(actor, "subject.corrected", object_type="case", object_id=case.reference,
                 before=before, after={**_subject_fields(subject), "reason": reason})
    return subject


def remove_subject(actor: Identity, case: Case, subject: Subject, reason: str) -> None:
    """The subject and its identifiers leave the case (they stay in the audit log)."""
    _editable(actor, case)
    reason = _reason(reason)
    before = _subject_fields(subject)
    db.session.delete(subject)
    case.updated_at = now()
    db.session.flush()
    add_case_event(case, actor, "correction",
                   f"Subject removed: “{before['label']}” ({before['role']}) with "
                   f"{len(before['identifiers'])} identifier(s). Why: {reason}")
    record_event(actor, "subject.removed", object_type="case", object_id=case.reference,
                 before=before, after={"reason": reason})
