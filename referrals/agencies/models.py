"""Agencies: the outside bodies that send us legal process or receive referrals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from referrals.core.clock import now
from referrals.core.types import UTCDateTime
from referrals.extensions import db

AGENCY_KINDS = {
    "law_enforcement": "Law enforcement",
    "hotline": "Hotline / NGO",
    "ncmec": "NCMEC",
    "regulator": "Regulator",
}
AGENCY_STATUSES = ("pending", "verified", "suspended")


class Agency(db.Model):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    def __repr__(self) -> str:
        return f"<Agency {self.id} {self.name!r}>"
