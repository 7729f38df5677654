"""A referral from a case to an agency: what it says, what it carries, who drafted, approved,
sent it and how, and the agency's reference once acknowledged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.core.types import UTCDateTime
from referrals.extensions import db


class Referral(db.Model):
    __tablename__ = "outbound_referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    reason: Mapped[str] = mapped_column(Text)
    incident_type: Mapped[str] = mapped_column(String(40))  # a key of cases.rules.CATEGORIES
    summary: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(String(24))  # a key of outbound.rules.LEGAL_BASES
    legal_basis_note: Mapped[str] = mapped_column(Text, default="")
    subject_ids: Mapped[list] = mapped_column(JSON, default=list)  # the case's subjects it names
    evidence_ids: Mapped[list] = mapped_column(JSON, default=list)  # the items it carries
    drafted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    drafted_by_label: Mapped[str] = mapped_column(String(255))
    drafted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_label: Mapped[str | None] = mapped_column(String(255))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Sending: how (outbound.rules.DELIVERY_METHODS), by whom, when; for a hand delivery the
    # person who carried it and the channel; for NCMEC the report of the case it went with.
    delivery_method: Mapped[str | None] = mapped_column(String(16))
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sent_by_label: Mapped[str | None] = mapped_column(String(255))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_by: Mapped[str] = mapped_column(String(200), default="")
    delivery_channel: Mapped[str] = mapped_column(String(24), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivery_note: Mapped[str] = mapped_column(Text, default="")
    # Through the portal: the message its officers read with the package (no staff names).
    portal_message: Mapped[str] = mapped_column(Text, default="")
    ncmec_report_id: Mapped[int | None] = mapped_column(ForeignKey("ncmec_reports.id"))
    # The encrypted package of the case's evidence a hand delivery carried (packages feature).
    package_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_packages.id"))
    disclosure_id: Mapped[int | None] = mapped_column(ForeignKey("disclosures.id"))
    agency_reference: Mapped[str | None] = mapped_column(String(120))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdraw_reason: Mapped[str] = mapped_column(Text, default="")
    returned_reason: Mapped[str] = mapped_column(Text, default="")

    case = relationship("Case")
    agency = relationship("Agency")
    package = relationship("EvidencePackage")

    @property
    def reference(self) -> str:
        return f"RFL-{self.id:06d}"
