"""Disclosure requests from agencies: the legal process, its targets, decisions and messages."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.audit.labels import register_labels
from referrals.core.types import UTCDateTime
from referrals.disclosures.models import Disclosure
from referrals.extensions import db
from referrals.requests.rules import CLOCK_STOPPED_STATUSES


class RequestCounter(db.Model):
    __tablename__ = "request_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class DisclosureRequest(db.Model):
    __tablename__ = "disclosure_requests"
    __table_args__ = (
        Index("ix_requests_queue", "is_open", "emergency", "deadline_at", "id"),
        Index("ix_requests_agency", "agency_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    request_type: Mapped[str] = mapped_column(String(32))
    emergency: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default="received")
    is_open: Mapped[bool] = mapped_column(default=True)
    # The earlier request this one renews or follows (a 2703(f) renewal, an EPOC after an
    # EPOC-PR), by the reference the agency was given.
    related_reference: Mapped[str | None] = mapped_column(String(20))
    addressed_to: Mapped[str] = mapped_column(String(8))  # our legal entity, as the agency addressed it
    # Our entity that receives it (requests.rules.receiving_entity): every date of the request
    # and of its hold is counted in this entity's zone.
    legal_entity: Mapped[str] = mapped_column(String(8), default="us", server_default="us")
    # A return or compliance date written on the process: when given, it is the deadline.
    return_date: Mapped[date | None] = mapped_column(Date)
    issuing_authority: Mapped[str] = mapped_column(String(300), default="")
    officer_name: Mapped[str] = mapped_column(String(200))
    badge_number: Mapped[str] = mapped_column(String(64), default="")
    official_email: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str] = mapped_column(String(40))  # as given: never used for call-backs
    data_categories: Mapped[list] = mapped_column(JSON, default=list)
    date_from: Mapped[date | None] = mapped_column(Date)
    date_to: Mapped[date | None] = mapped_column(Date)
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    offences: Mapped[str] = mapped_column(Text, default="")
    user_notice_allowed: Mapped[bool] = mapped_column(default=False)
    nondisclosure_order: Mapped[bool] = mapped_column(default=False)
    nondisclosure_until: Mapped[date | None] = mapped_column(Date)
    # Emergency disclosure requests (18 U.S.C. 2702(b)(8))
    emergency_description: Mapped[str] = mapped_column(Text, default="")
    person_at_risk: Mapped[str] = mapped_column(Text, default="")
    why_data_helps: Mapped[str] = mapped_column(Text, default="")
    # The officer's good-faith statement (rules.GOOD_FAITH), as ticked: the exact words and
    # their version, who and when.
    attestation_version: Mapped[str | None] = mapped_column(String(32))
    attestation_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    attested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Sent by an officer whose portal account was not yet approved (an emergency only): the
    # call-back to the agency's registered number verifies them.
    officer_unverified: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    # Intake checks, as shown to staff (and to the officer at submission).
    warnings: Mapped[list] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Emergency EPOC: our internal target in elapsed hours, never later than deadline_at.
    internal_target_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # EPOC with notification of the enforcing authority (Reg. 2023/1543 art. 8, 10(3)-(4)):
    # until the window ends it may still raise a ground for refusal.
    enforcing_authority_notified: Mapped[bool] = mapped_column(default=False,
                                                              server_default=sa_false())
    enforcement_window_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Annex III "cannot comply" sent (art. 10(6)): the clock stands until the clarification.
    clock_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why it stands: "annex_iii" (above), or "needs_info" (we asked the agency for
    # information and wait for its answer; requests.pause). None while it runs.
    clock_paused_for: Mapped[str | None] = mapped_column(String(16))
    # An indefinite non-disclosure order: the next legal review (rule
    # nondisclosure_indefinite_review).
    nondisclosure_review_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str] = mapped_column(Text, default="")  # rejection / redirection
    prepared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    prepared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    collected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    disclosed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    disclosed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback_number: Mapped[str | None] = mapped_column(String(20))
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    callback_outcome: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def clock_running(self) -> bool:
        """Still waiting for our answer: a disclosed, closed or withdrawn request's deadline
        no longer counts down."""
        return self.is_open and self.status not in CLOCK_STOPPED_STATUSES

    agency = relationship("Agency", lazy="joined")
    submitted_by = relationship("User", foreign_keys=[submitted_by_id], lazy="joined")
    assignee = relationship("User", foreign_keys=[assignee_id])
    targets: Mapped[list[RequestTarget]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="RequestTarget.id")
    documents: Mapped[list[LegalProcessDocument]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="LegalProcessDocument.id")
    collaborators: Mapped[list[RequestCollaborator]] = relationship(
        back_populates="request", cascade="all, delete-orphan")
    # What left for the request: written only through referrals.disclosures.services.
    disclosures: Mapped[list[Disclosure]] = relationship(
        viewonly=True, order_by=(Disclosure.disclosed_at, Disclosure.id))


class RequestCollaborator(db.Model):
    """A colleague of the same agency the submitting officer added to the request."""

    __tablename__ = "request_collaborators"

    request_id: Mapped[int] = mapped_column(
        ForeignKey("disclosure_requests.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True, index=True)
    request: Mapped[DisclosureRequest] = relationship(back_populates="collaborators")
    user = relationship("User", lazy="joined")


class RequestTarget(db.Model):
    """An account the request is about, and the decision on it."""

    __tablename__ = "request_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("disclosure_requests.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    value: Mapped[str] = mapped_column(String(320))
    normalized: Mapped[str] = mapped_column(String(320), index=True)
    decision: Mapped[str | None] = mapped_column(String(16))  # produce | withhold
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    request: Mapped[DisclosureRequest] = relationship(back_populates="targets")


class LegalProcessDocument(db.Model):
    __tablename__ = "legal_process_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("disclosure_requests.id", ondelete="CASCADE"), index=True)
    original_name: Mapped[str] = mapped_column(String(255))
    storage_name: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    pages: Mapped[int | None] = mapped_column(Integer)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    request: Mapped[DisclosureRequest] = relationship(back_populates="documents")


class RequestMessage(db.Model):
    """A message between the officer(s) and the LER team; ``internal`` never reaches the portal."""

    __tablename__ = "request_messages"
    __table_args__ = (Index("ix_request_messages_request", "request_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("disclosure_requests.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_agency: Mapped[bool] = mapped_column(default=False)
    internal: Mapped[bool] = mapped_column(default=False)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    author = relationship("User", lazy="joined")


class UserNoticeTask(db.Model):
    """The user may (now) be told about the request: allowed from the start, or an NDO ended."""

    __tablename__ = "user_notice_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("disclosure_requests.id", ondelete="CASCADE"), unique=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    request: Mapped[DisclosureRequest] = relationship(lazy="joined")



class CannedText(db.Model):
    """A prepared answer staff insert into a message (needs information, rejected, redirected
    to an MLAT …); supervisors edit them (``requests.canned``)."""

    __tablename__ = "canned_texts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


# The audit log names requests by reference, not by row id.
register_labels("request", DisclosureRequest.id, DisclosureRequest.reference,
                fields=("request_id",))
