"""The record of an evidence package: what it packages, for whom, how far its build got, and
every download. The file itself lives under the package directory (a setting), never in the
database: the record names it by its label."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.core.types import UTCDateTime
from referrals.extensions import db

STATUSES = {"building": "Building", "ready": "Ready", "failed": "Failed",
            "expired": "Expired", "withdrawn": "Replaced by a re-issue"}


class EvidencePackage(db.Model):
    __tablename__ = "evidence_packages"
    __table_args__ = (Index("ix_evidence_packages_request", "request_id", "created_at"),
                      Index("ix_evidence_packages_case", "case_id", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    # What it packages: a request's production, or a case's evidence for a referral.
    request_id: Mapped[int | None] = mapped_column(ForeignKey("disclosure_requests.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    purpose: Mapped[str] = mapped_column(String(20))  # production | referral
    label: Mapped[str] = mapped_column(String(64), unique=True)  # the file's and bag's name
    # Public recipients only: agency keys, a recipient given by staff, or the public half of
    # a one-time identity (recipient_kind "one_time").
    recipients: Mapped[list] = mapped_column(JSON, default=list)
    recipient_kind: Mapped[str] = mapped_column(String(12))  # agency | one_time | given
    # The one-time secret, sealed (AES-GCM under a key derived from SECRET_KEY) from the
    # build until the first officer sees it, then erased. Never logged, never audited.
    sealed_secret: Mapped[bytes | None] = mapped_column(db.LargeBinary)
    secret_shown_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    secret_shown_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(12), default="building")
    failure: Mapped[str] = mapped_column(Text, default="")
    progress_id: Mapped[int | None] = mapped_column(ForeignKey("job_progress.id"))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    items: Mapped[list] = mapped_column(JSON, default=list)  # evidence ids packaged
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    download_limit: Mapped[int] = mapped_column(Integer)
    downloads_used: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reissue_of_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_packages.id"))

    request = relationship("DisclosureRequest")
    case = relationship("Case")
    downloads: Mapped[list[PackageDownload]] = relationship(
        back_populates="package", order_by="PackageDownload.id")

    @property
    def file_name(self) -> str:
        return f"{self.label}.tar.age"

    @property
    def status_label(self) -> str:
        return STATUSES[self.status]


class PackageDownload(db.Model):
    """One download (or one range of it): who, when, which bytes, by which way."""

    __tablename__ = "package_downloads"

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("evidence_packages.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    user_label: Mapped[str] = mapped_column(String(255))
    via: Mapped[str] = mapped_column(String(12))  # portal | api | staff
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    range_start: Mapped[int] = mapped_column(BigInteger, default=0)
    range_end: Mapped[int | None] = mapped_column(BigInteger)  # inclusive; None: to the end
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)

    package: Mapped[EvidencePackage] = relationship(back_populates="downloads")
