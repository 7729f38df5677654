"""The directory: official lists of who owns a domain, kept apart from the agencies we deal with.

Two lists: the US .gov registry, loaded from CISA's daily file, and a staff-kept list of other
official domains (UK police forces, other countries' governments), each with its evidence.
An agency is linked to an entry; the entry itself is reference data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from referrals.core.clock import now
from referrals.core.types import UTCDateTime
from referrals.extensions import db

# The registries a look-alike key comes from.
LIST_KINDS = {"dotgov": "US .gov registry", "official": "Official domains (staff-kept)"}
CHECK_METHODS = {
    "government_website": "Listed on the government's or force's own website",
    "phone_call": "Confirmed by a call to a number from an official source",
    "official_letter": "Named in an official letter or publication",
    "registry_lookup": "Looked up in the country's domain registry",
}


class DirectoryEntry(db.Model):
    """One domain of the US .gov registry, as CISA last published it."""

    __tablename__ = "directory_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    domain_type: Mapped[str] = mapped_column(String(64), default="")
    organization: Mapped[str] = mapped_column(String(300), default="")
    suborganization: Mapped[str] = mapped_column(String(300), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    state: Mapped[str] = mapped_column(String(8), default="")
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # Set when a file no longer lists the domain: kept, so an officer or agency on it can be
    # shown as "left the registry" instead of "never heard of".
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    @property
    def present(self) -> bool:
        return self.removed_at is None

    @property
    def place(self) -> str:
        return ", ".join(part for part in (self.city, self.state) if part)


class DirectoryNameChange(db.Model):
    """A registrant's name as it was before a file renamed it: the history of an entry."""

    __tablename__ = "directory_name_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("directory_entries.id", ondelete="CASCADE"),
                                          index=True)
    old_organization: Mapped[str] = mapped_column(String(300))
    new_organization: Mapped[str] = mapped_column(String(300))
    old_suborganization: Mapped[str] = mapped_column(String(300), default="")
    new_suborganization: Mapped[str] = mapped_column(String(300), default="")
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class OfficialDomain(db.Model):
    """A domain staff have checked belongs to a police force or government outside .gov."""

    __tablename__ = "official_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    organization: Mapped[str] = mapped_column(String(300))
    country: Mapped[str] = mapped_column(String(2))
    # The evidence: who checked, how, when, and what they saw.
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checked_by_label: Mapped[str] = mapped_column(String(255), default="")
    method: Mapped[str] = mapped_column(String(32))
    evidence: Mapped[str] = mapped_column(Text, default="")
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class LookalikeKey(db.Model):
    """The look-alike index: a listed domain under its skeleton and each one-shorter form of it.

    A name is a look-alike of a listed one when they share a key (see names.index_keys): one
    indexed IN query finds the few candidates, and only those are compared letter by letter.
    """

    __tablename__ = "directory_lookalike_keys"
    __table_args__ = (Index("ix_directory_lookalike_keys_key", "key"),
                      Index("ix_directory_lookalike_keys_domain", "domain"))

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    domain: Mapped[str] = mapped_column(String(253))
    list_kind: Mapped[str] = mapped_column(String(16))
