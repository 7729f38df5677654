"""Agencies: the outside bodies that send us legal process or receive referrals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.audit.labels import register_labels
from referrals.core.clock import now
from referrals.core.types import UTCDateTime
from referrals.extensions import db

AGENCY_KINDS = {
    "law_enforcement": "Law enforcement",
    "hotline": "Hotline / NGO",
    "ncmec": "NCMEC",
    "regulator": "Regulator",
}
AGENCY_STATUSES = {"pending": "Pending", "verified": "Verified", "suspended": "Suspended"}

class Agency(db.Model):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    status: Mapped[str] = mapped_column(String(16), default="pending")
    legal_entity: Mapped[str] = mapped_column(String(8), default="us")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    domains: Mapped[list[AgencyDomain]] = relationship(
        back_populates="agency", cascade="all, delete-orphan", order_by="AgencyDomain.domain")
    phones: Mapped[list[AgencyPhone]] = relationship(
        back_populates="agency", cascade="all, delete-orphan", order_by="AgencyPhone.id")
    keys: Mapped[list[AgencyKey]] = relationship(
        back_populates="agency", cascade="all, delete-orphan", order_by="AgencyKey.id")

    def __repr__(self) -> str:
        return f"<Agency {self.id} {self.name!r}>"


class AgencyDomain(db.Model):
    """A verified e-mail domain: officers register only with an address on one of these."""

    __tablename__ = "agency_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    agency: Mapped[Agency] = relationship(back_populates="domains")


class AgencyPhone(db.Model):
    """A number from the agency registry, for out-of-band call-backs (never from a request)."""

    __tablename__ = "agency_phones"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(20))  # E.164
    label: Mapped[str] = mapped_column(String(100), default="")
    agency: Mapped[Agency] = relationship(back_populates="phones")


class AgencyKey(db.Model):
    """A public key that evidence packages for this agency are encrypted to."""

    __tablename__ = "agency_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # age | ssh-ed25519
    public_key: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(100), default="")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    agency: Mapped[Agency] = relationship(back_populates="keys")


# The audit log names agencies, not agency ids.
register_labels("agency", Agency.id, Agency.name, fields=("agency_id",), object_types=("agency",))
