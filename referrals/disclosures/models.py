"""The disclosure record: to whom (as the recipient was named at the time), on what basis,
which data categories, about whom, prepared, approved and released by whom, which items."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.core.types import UTCDateTime
from referrals.vocabulary.categories import DATA_CATEGORIES
from referrals.extensions import db

# What a disclosure answers. A production answers a request's legal process; an emergency
# disclosure answers an emergency disclosure request (18 U.S.C. 2702(b)(8)); a referral and an
# NCMEC report (18 U.S.C. 2258A) leave on our own initiative, from a case.
DISCLOSURE_KINDS = {
    "production": "Production",
    "emergency_disclosure": "Emergency disclosure",
    "referral": "Referral",
    "ncmec_report": "NCMEC report",
}


class Disclosure(db.Model):
    """One thing leaving the building: what, about whom, to whom, on what basis, approved by whom."""

    __tablename__ = "disclosures"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    # What it answers or comes from: a request (productions), a case (referrals, reports).
    request_id: Mapped[int | None] = mapped_column(ForeignKey("disclosure_requests.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    # The recipient, and its name and country copied as they were at the time: an agency
    # renamed or moved later must not rewrite where the data went.
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    legal_basis: Mapped[str] = mapped_column(Text)
    prepared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    disclosed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))  # who released it
    disclosed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    package_sha256: Mapped[str | None] = mapped_column(String(64))

    categories: Mapped[list[DisclosureCategory]] = relationship(
        cascade="all, delete-orphan", order_by="DisclosureCategory.category", lazy="selectin")
    subjects: Mapped[list[DisclosureSubject]] = relationship(
        cascade="all, delete-orphan", order_by="DisclosureSubject.id", lazy="selectin")
    items: Mapped[list[DisclosedItem]] = relationship(
        cascade="all, delete-orphan", order_by="DisclosedItem.id", lazy="selectin")
    agency = relationship("Agency")
    prepared_by = relationship("User", foreign_keys=[prepared_by_id])
    approved_by = relationship("User", foreign_keys=[approved_by_id])
    disclosed_by = relationship("User", foreign_keys=[disclosed_by_id])

    @property
    def data_categories(self) -> list[str]:
        """The categories in the vocabulary's order (the order people read them in)."""
        chosen = {c.category for c in self.categories}
        return [key for key in DATA_CATEGORIES if key in chosen] + sorted(chosen - set(DATA_CATEGORIES))


class DisclosureCategory(db.Model):
    """A data category the disclosure covers (a key of the data category vocabulary)."""

    __tablename__ = "disclosure_categories"

    disclosure_id: Mapped[int] = mapped_column(
        ForeignKey("disclosures.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[str] = mapped_column(String(24), primary_key=True)


class DisclosureSubject(db.Model):
    """A person (an account) the disclosure is about, by a normalised identifier."""

    __tablename__ = "disclosure_subjects"

    id: Mapped[int] = mapped_column(primary_key=True)
    disclosure_id: Mapped[int] = mapped_column(
        ForeignKey("disclosures.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    identifier: Mapped[str] = mapped_column(String(320))


class DisclosedItem(db.Model):
    """An evidence item that left with the disclosure, with the hash and data category it had."""

    __tablename__ = "disclosed_items"
    __table_args__ = (
        UniqueConstraint("disclosure_id", "evidence_id"),
        Index("ix_disclosed_items_evidence", "evidence_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    disclosure_id: Mapped[int] = mapped_column(
        ForeignKey("disclosures.id", ondelete="CASCADE"), index=True)
    # RESTRICT: retention marks an item destroyed and keeps its row, so what left stays known.
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence_items.id", ondelete="RESTRICT"))
    sha256: Mapped[str] = mapped_column(String(64))
    data_category: Mapped[str | None] = mapped_column(String(24))

    evidence = relationship("EvidenceItem", lazy="joined")
