"""Cases, their timeline, subjects and identifiers, and the escalations that open them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.audit.labels import register_labels
from referrals.core.types import UTCDateTime
from referrals.extensions import db


class CaseCounter(db.Model):
    """The last case number given out in a year (CASE-YYYY-NNNNNN)."""

    __tablename__ = "case_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Case(db.Model):
    __tablename__ = "cases"
    __table_args__ = (
        # The queue's keyset order: open first by priority, then by the next deadline.
        Index("ix_cases_queue", "is_open", "priority_rank", "queue_due_at", "id"),
        Index("ix_cases_assignee_queue", "assignee_id", "is_open", "priority_rank",
              "queue_due_at", "id"),
        Index("ix_cases_deadlines", "is_open", "queue_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(40))
    priority: Mapped[str] = mapped_column(String(2))
    priority_rank: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="new")
    is_open: Mapped[bool] = mapped_column(default=True)
    source: Mapped[str] = mapped_column(String(20))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # First response: computed from the priority table when the case opens.
    response_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # set by staff
    # The next deadline (response target until answered, then due_at): what the queue sorts on.
    queue_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when retention purged the case: its subjects, notes and evidence bytes are gone,
    # this row and the evidence items' hashes stay as the record of what was destroyed.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    assignee = relationship("User", foreign_keys=[assignee_id], lazy="joined")
    created_by = relationship("User", foreign_keys=[created_by_id])

    def __repr__(self) -> str:
        return f"<Case {self.reference}>"


class CaseEvent(db.Model):
    """One line of a case's timeline: a note, a status change, an escalation attached …"""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case", "case_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")


class Escalation(db.Model):
    """What an upstream system sent. (source_system, external_id) is unique: idempotency."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("source_system", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_system: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(20))
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attached_to_existing: Mapped[bool] = mapped_column(default=False)
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON as received


class Subject(db.Model):
    """An account or person in a case."""

    __tablename__ = "subjects"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32), default="account")  # account, suspect, victim …
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    identifiers: Mapped[list[Identifier]] = relationship(
        back_populates="subject", order_by="Identifier.id", cascade="all, delete-orphan"
    )


class Identifier(db.Model):
    """A typed identifier, kept as entered and normalised (the form used to match)."""

    __tablename__ = "identifiers"
    __table_args__ = (
        Index("ix_identifiers_match", "kind", "normalized", "case_id"),
        Index("ix_identifiers_normalized", "normalized"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    value: Mapped[str] = mapped_column(String(320))
    normalized: Mapped[str] = mapped_column(String(320))
    observed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # IP addresses
    port: Mapped[int | None] = mapped_column(Integer)  # IP addresses (CGNAT needs it)

    subject: Mapped[Subject] = relationship(back_populates="identifiers")


class ReportedContent(db.Model):
    """Content an escalation pointed at: where it is and the hashes the source reported.

    Not evidence: its bytes are not in our custody until collected or uploaded.
    """

    __tablename__ = "reported_content"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id", ondelete="CASCADE"))
    platform_content_id: Mapped[str | None] = mapped_column(String(128))
    url: Mapped[str | None] = mapped_column(String(2048))
    mime_type: Mapped[str | None] = mapped_column(String(100))
    md5: Mapped[str | None] = mapped_column(String(32))
    sha1: Mapped[str | None] = mapped_column(String(40))
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    pdq: Mapped[str | None] = mapped_column(String(64))
    may_be_csam: Mapped[bool] = mapped_column(default=False)


# The audit log names cases by reference, not by row id.
register_labels("case", Case.id, Case.reference, fields=("case_id",))
