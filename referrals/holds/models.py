"""Preservation holds: what is frozen, why, since when and until when."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.core.types import UTCDateTime
from referrals.extensions import db


class HoldCounter(db.Model):
    __tablename__ = "hold_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class PreservationHold(db.Model):
    """A freeze on data. ``kind`` names the instrument (see ``referrals.holds.rules.HOLD_KINDS``);
    ``expires_at`` is None while the hold lasts until released (internal holds, and EPOC-PR
    holds once a production order is confirmed)."""

    __tablename__ = "preservation_holds"
    __table_args__ = (
        Index("ix_holds_status_expiry", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)  # HOLD-YYYY-NNNNNN
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(12), default="active")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    # Where it came from: a request from an agency, a case, or an external report id (NCMEC).
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("disclosure_requests.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    external_reference: Mapped[str] = mapped_column(String(64), default="")
    # Scope
    data_categories: Mapped[list] = mapped_column(JSON, default=list)
    date_from: Mapped[date | None] = mapped_column(Date)
    date_to: Mapped[date | None] = mapped_column(Date)
    # Clock
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)  # receipt / report completion
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # internal holds
    renewals: Mapped[int] = mapped_column(Integer, default=0)  # 2703(f) renewals granted
    extensions: Mapped[int] = mapped_column(Integer, default=0)  # EPOC-PR Annex VI extensions
    production_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The production order or legal process that keeps the hold (confirmed) or took it over
    # (converted): one of our request references, or the issuing authority's own number.
    production_reference: Mapped[str] = mapped_column(String(64), default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    placed_by_label: Mapped[str] = mapped_column(String(255))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # released / expired / converted
    end_reason: Mapped[str] = mapped_column(Text, default="")
    snapshot_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    identifiers: Mapped[list[HeldIdentifier]] = relationship(
        back_populates="hold", cascade="all, delete-orphan", order_by="HeldIdentifier.id")
    events: Mapped[list[HoldEvent]] = relationship(
        back_populates="hold", cascade="all, delete-orphan", order_by="HoldEvent.id")
    request = relationship("DisclosureRequest", foreign_keys=[request_id])
    case = relationship("Case", foreign_keys=[case_id])
    agency = relationship("Agency", foreign_keys=[agency_id])
    owner = relationship("User", foreign_keys=[owner_id])


class HeldIdentifier(db.Model):
    """One identifier in a hold's scope, normalised like case identifiers so a hold finds
    the same account wherever it appears."""

    __tablename__ = "held_identifiers"
    __table_args__ = (Index("ix_held_identifiers_lookup", "kind", "normalized"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hold_id: Mapped[int] = mapped_column(
        ForeignKey("preservation_holds.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    value: Mapped[str] = mapped_column(String(320))
    normalized: Mapped[str] = mapped_column(String(320))

    hold: Mapped[PreservationHold] = relationship(back_populates="identifiers")


class HoldEvent(db.Model):
    """The hold's own history, as staff and the agency read it (placed, renewed, reminded …)."""

    __tablename__ = "hold_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    hold_id: Mapped[int] = mapped_column(
        ForeignKey("preservation_holds.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    body: Mapped[str] = mapped_column(Text)
    actor_label: Mapped[str] = mapped_column(String(255))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)

    hold: Mapped[PreservationHold] = relationship(back_populates="events")


class HoldReminder(db.Model):
    """A reminder sent, so the daily sweep sends each one once (``days_before`` 0 = expired)."""

    __tablename__ = "hold_reminders"
    __table_args__ = (UniqueConstraint("hold_id", "expires_at", "days_before",
                                       name="uq_hold_reminders_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hold_id: Mapped[int] = mapped_column(
        ForeignKey("preservation_holds.id", ondelete="CASCADE"), index=True)
    # The expiry it was about: a renewal moves the expiry, and its reminders fall due again.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    days_before: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
