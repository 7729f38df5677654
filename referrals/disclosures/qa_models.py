"""QA sampling of disclosures: each draw (with what anyone needs to recompute it), the
disclosures it drew, and the findings a compliance reviewer records on them, tracked by staff
to closure."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.core.types import UTCDateTime
from referrals.disclosures.models import Disclosure
from referrals.extensions import db

FINDING_CATEGORIES = {
    "over_disclosure": "Over-disclosure: more than the legal process or the decisions allowed",
    "wrong_legal_basis": "Wrong legal basis",
    "missing_approval": "Missing approval",
    "notice_not_given": "User notice not given",
    "other": "Other",
}
FINDING_STATUSES = {"open": "Open", "assigned": "Assigned", "responded": "Responded",
                    "closed": "Closed"}
OPEN_FINDING_STATUSES = ("open", "assigned", "responded")


class QaDraw(db.Model):
    """One draw: the seed, the rate and the window of disclosures it drew from. Anyone can
    recompute it (``disclosures.qa.recompute_draw``): a disclosure is drawn when
    SHA-256("<seed>:<disclosure id>"), read as a 256-bit number, is below rate × 2^256."""

    __tablename__ = "qa_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    seed: Mapped[str] = mapped_column(String(64))  # 32 random bytes, hex
    rate: Mapped[str] = mapped_column(String(12))  # the decimal, as the setting gave it
    # Disclosures released in [window_start, window_end); no start: from the first one.
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    population: Mapped[int] = mapped_column(Integer)
    drawn: Mapped[int] = mapped_column(Integer)
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime)
    drawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    drawn_by_label: Mapped[str] = mapped_column(String(255))

    samples: Mapped[list[QaSample]] = relationship(back_populates="draw",
                                                   order_by="QaSample.disclosure_id")


class QaSample(db.Model):
    """A disclosure a draw chose for a second review."""

    __tablename__ = "qa_samples"

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("qa_draws.id"), index=True)
    # Each disclosure is in one draw's window only, so it is drawn at most once.
    disclosure_id: Mapped[int] = mapped_column(ForeignKey("disclosures.id"), unique=True)
    # The hash the draw compared, in hex (so a reader can check it by hand).
    draw_hash: Mapped[str] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    draw: Mapped[QaDraw] = relationship(back_populates="samples")
    disclosure: Mapped[Disclosure] = relationship(lazy="joined")
    findings: Mapped[list[QaFinding]] = relationship(back_populates="sample",
                                                     order_by="QaFinding.id")
    reviewed_by = relationship("User", foreign_keys=[reviewed_by_id])


class QaFinding(db.Model):
    """What the second review found, and how staff dealt with it."""

    __tablename__ = "qa_findings"
    __table_args__ = (Index("ix_qa_findings_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("qa_samples.id"), index=True)
    disclosure_id: Mapped[int] = mapped_column(ForeignKey("disclosures.id"), index=True)
    category: Mapped[str] = mapped_column(String(24))
    notes: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="open")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response: Mapped[str] = mapped_column(Text, default="")
    responded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str] = mapped_column(Text, default="")
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sample: Mapped[QaSample] = relationship(back_populates="findings")
    recorded_by = relationship("User", foreign_keys=[recorded_by_id])
    assignee = relationship("User", foreign_keys=[assignee_id])
    responded_by = relationship("User", foreign_keys=[responded_by_id])
    closed_by = relationship("User", foreign_keys=[closed_by_id])

    @property
    def category_label(self) -> str:
        return FINDING_CATEGORIES.get(self.category, self.category)

    @property
    def status_label(self) -> str:
        return FINDING_STATUSES.get(self.status, self.status)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_FINDING_STATUSES
