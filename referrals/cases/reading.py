"""What the case page shows of a case, in a fixed number of statements however many
subjects, identifiers and related cases it has (``tests/cases/test_case_page_cost.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from referrals.cases.models import Case, CaseEvent, Identifier, ReportedContent, Subject
from referrals.extensions import db


class OtherCase(NamedTuple):
    """Another case that has one of this case's identifiers: what a link to it needs."""
    id: int
    reference: str


@dataclass(frozen=True)
class CaseRecord:
    events: list[CaseEvent]  # newest first
    subjects: list[Subject]  # with their identifiers loaded
    sharing: dict[int, list[OtherCase]]  # identifier id -> other cases, newest first
    reported: list[ReportedContent]


# Built once: making a statement and its loader options costs more CPU than running it.
_EVENTS = (select(CaseEvent).where(CaseEvent.case_id == bindparam("case_id"))
           .order_by(CaseEvent.occurred_at.desc(), CaseEvent.id.desc()))
# The subjects with their identifiers in one statement, not one more per subject.
_SUBJECTS = (select(Subject).where(Subject.case_id == bindparam("case_id"))
             .options(joinedload(Subject.identifiers)).order_by(Subject.id))
_REPORTED = select(ReportedContent).where(ReportedContent.case_id == bindparam("case_id"))
_SHARING = (select(Identifier.kind, Identifier.normalized, Case.id, Case.reference)
            .join(Case, Case.id == Identifier.case_id)
            .where(Identifier.normalized.in_(bindparam("normalized", expanding=True)),
                   Case.id != bindparam("case_id"))
            .order_by(Case.created_at.desc(), Case.id.desc()))


def case_record(case: Case) -> CaseRecord:
    by_case = {"case_id": case.id}
    events = list(db.session.scalars(_EVENTS, by_case))
    subjects = list(db.session.scalars(_SUBJECTS, by_case).unique())
    reported = list(db.session.scalars(_REPORTED, by_case))
    return CaseRecord(events, subjects, cases_sharing(
        [i for s in subjects for i in s.identifiers], exclude_case_id=case.id), reported)


def cases_sharing(identifiers: Iterable[Identifier], *, exclude_case_id: int,
                  limit: int = 10) -> dict[int, list[OtherCase]]:
    """For each identifier id, the other cases where the same normalised identifier appears,
    newest first, at most ``limit``: their id and reference, not case objects (each would
    bring its assignee's account, agency and roles along)."""
    identifiers = list(identifiers)
    if not identifiers:
        return {}
    pairs = {(i.kind, i.normalized) for i in identifiers}
    rows = db.session.execute(_SHARING, {"normalized": sorted({n for _, n in pairs}),
                                         "case_id": exclude_case_id})
    found: dict[tuple[str, str], list[OtherCase]] = {}
    for kind, normalized, case_id, reference in rows:
        if (kind, normalized) in pairs:
            bucket = found.setdefault((kind, normalized), [])
            if all(other.id != case_id for other in bucket):
                bucket.append(OtherCase(case_id, reference))
    return {i.id: found.get((i.kind, i.normalized), [])[:limit] for i in identifiers}
