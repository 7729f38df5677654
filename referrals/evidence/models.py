"""Evidence items, the encrypted blobs behind them, and their chain of custody."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, exists
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from referrals.core.types import UTCDateTime
from referrals.vocabulary.categories import data_category_label
from referrals.extensions import db

CUSTODY_ACTIONS = {
    "collected": "Collected",
    "viewed": "Viewed",
    "downloaded": "Downloaded",
    "exported": "Exported",
    "packaged": "Packaged",
    "disclosed": "Disclosed",
    "destroyed": "Destroyed",
}


class StoredBlob(db.Model):
    """One encrypted file on disk, stored once per SHA-256 whatever the number of items."""

    __tablename__ = "stored_blobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    storage_name: Mapped[str] = mapped_column(String(32), unique=True)
    key_id: Mapped[int]
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SensitiveMedia(db.Model):
    """Bytes that may be child sexual abuse material, by their SHA-256 (18 U.S.C. 2258B(c)).

    A property of the bytes, not of one item: every evidence item with this hash, on any
    case, request or hold, present or future, is shown only to cleared staff while the row
    exists (``EvidenceItem.may_be_csam``). Flagged by anyone who works evidence; removed only
    by a cleared supervisor, with a reason (``referrals.evidence.sensitive``)."""

    __tablename__ = "sensitive_media"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    flagged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    flagged_by_label: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text, default="")


class EvidenceItem(db.Model):
    __tablename__ = "evidence_items"
    __table_args__ = (
        Index("ix_evidence_items_case", "case_id", "captured_at"),
        # Exactly one owner: a case, a disclosure request (what was collected for it), or a
        # preservation hold (its snapshot).
        CheckConstraint(
            "(CASE WHEN case_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN request_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN hold_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("disclosure_requests.id", ondelete="RESTRICT"), index=True)
    hold_id: Mapped[int | None] = mapped_column(
        ForeignKey("preservation_holds.id", ondelete="RESTRICT"), index=True)
    blob_id: Mapped[int | None] = mapped_column(ForeignKey("stored_blobs.id"))
    original_name: Mapped[str] = mapped_column(String(255))  # as given; never a path
    mime_type: Mapped[str] = mapped_column(String(100))  # sniffed from the bytes
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str] = mapped_column(String(32))
    sha1: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    captured_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    captured_by_label: Mapped[str] = mapped_column(String(255))
    source_system: Mapped[str] = mapped_column(String(64), default="upload")
    platform_content_id: Mapped[str | None] = mapped_column(String(128))
    url: Mapped[str | None] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(Text, default="")
    # A key of referrals.vocabulary.categories.DATA_CATEGORIES, set when the item is collected or
    # uploaded; None only for items stored before the category was recorded and not placed.
    data_category: Mapped[str | None] = mapped_column(String(24))
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    blob: Mapped[StoredBlob | None] = relationship(lazy="joined")
    custody_events: Mapped[list[CustodyEvent]] = relationship(
        back_populates="item", order_by="CustodyEvent.occurred_at"
    )

    @property
    def may_be_csam(self) -> bool:
        """18 U.S.C. 2258B(c): bytes only for staff cleared to see such material. Read from
        ``sensitive_media`` by the item's SHA-256 (``bytes_flagged``); there is no per-item
        flag to set, so the same bytes can never be hidden on one case and open on another.
        Flag through ``referrals.evidence.sensitive.flag_media``."""
        return bool(self.bytes_flagged)

    @property
    def data_category_label(self) -> str:
        return data_category_label(self.data_category)

    @property
    def kind(self) -> str:
        major = self.mime_type.split("/", 1)[0]
        return major if major in ("image", "video", "audio") else "file"


# Loaded with every item, one primary-key probe; flag_media expires it on the items a session
# already holds, so a flag is seen at once.
EvidenceItem.bytes_flagged = column_property(
    exists().where(SensitiveMedia.sha256 == EvidenceItem.sha256))


class CustodyEvent(db.Model):
    __tablename__ = "custody_events"
    __table_args__ = (Index("ix_custody_events_item", "evidence_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence_items.id", ondelete="RESTRICT"))
    action: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(255))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    purpose: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))  # the hash of what was handled

    item: Mapped[EvidenceItem] = relationship(back_populates="custody_events")
