"""A CyberTipline report about a case: who drafted and confirmed it, which files it carries,
the remote operation that sends it and the report id NCMEC gave it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from referrals.core.types import UTCDateTime
from referrals.extensions import db

# draft → confirmed → submitting → finished; retracted (before finish); failed (the remote
# refused, or the send gave up: a new draft is made from the case).
REPORT_STATES = ("draft", "confirmed", "submitting", "finished", "retracted", "failed")
LIVE_STATES = ("draft", "confirmed", "submitting")


class NcmecReport(db.Model):
    __tablename__ = "ncmec_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    evidence_ids: Mapped[list] = mapped_column(JSON, default=list)  # the files it carries
    # Normalised identifiers of the reported accounts: a later report lists this one's id.
    identifiers: Mapped[list] = mapped_column(JSON, default=list)
    remote_report_id: Mapped[str | None] = mapped_column(String(32), index=True)
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("remote_operations.id"))
    retract_operation_id: Mapped[int | None] = mapped_column(ForeignKey("remote_operations.id"))
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("preservation_holds.id"))
    # The disclosure record written in the transaction that records the finish.
    disclosure_id: Mapped[int | None] = mapped_column(ForeignKey("disclosures.id"))
    drafted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    drafted_by_label: Mapped[str] = mapped_column(String(255))
    drafted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_by_label: Mapped[str | None] = mapped_column(String(255))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retracted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
