"""The staff-kept list of official domains outside .gov, and reading the directory.

Each official domain carries its evidence: who checked it, how, when and what they saw. A
UK police force is entered under its own name (``met.police.uk``) or the PNN network's
(``met.pnn.police.uk``); sub-domains of a listed name count as listed.
"""

from __future__ import annotations

from sqlalchemy import delete, func, insert, or_, select

from referrals.audit.services import record_event
from referrals.core.clock import now
from referrals.core.errors import InvalidInput, NotFound
from referrals.core.identity import Identity
from referrals.directory.models import (CHECK_METHODS, DirectoryEntry, DirectoryNameChange,
                                        LookalikeKey, OfficialDomain)
from referrals.directory.names import clean_domain, index_keys, is_free_mail, split_domain
from referrals.directory.policies import directory_policy
from referrals.extensions import db

SEARCH_LIMIT = 50


def official_snapshot(row: OfficialDomain) -> dict:
    return {"domain": row.domain, "organization": row.organization, "country": row.country,
            "method": row.method, "evidence": row.evidence, "checked_by": row.checked_by_label,
            "checked_at": row.checked_at.isoformat() if row.checked_at else None}


def add_official_domain(actor: Identity, *, domain: str, organization: str, country: str,
                        method: str, evidence: str) -> OfficialDomain:
    directory_policy.require(actor, "manage")
    domain = clean_domain(domain)
    parts = split_domain(domain)
    if not parts.suffix or not parts.label:
        raise InvalidInput(f"“{domain}” is not a domain such as met.police.uk.", field="domain")
    if domain.endswith(".gov"):
        raise InvalidInput(".gov domains come from the registry file, not this list.",
                           field="domain")
    if is_free_mail(domain):
        raise InvalidInput(f"{domain} is a free-mail domain: anyone can have an address there.",
                           field="domain")
    if db.session.scalar(select(OfficialDomain.id).where(OfficialDomain.domain == domain)):
        raise InvalidInput(f"{domain} is already on the list.", field="domain")
    organization = (organization or "").strip()
    if not organization:
        raise InvalidInput("Name the force or government body the domain belongs to.",
                           field="organization")
    country = (country or "").strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise InvalidInput("Give the two-letter country code (ISO 3166), e.g. GB.", field="country")
    if method not in CHECK_METHODS:
        raise InvalidInput("Say how you checked the domain.", field="method")
    evidence = (evidence or "").strip()
    if len(evidence) < 10:
        raise InvalidInput("Record what you saw: the page's address, the number you called and "
                           "who answered, or the letter's reference.", field="evidence")
    row = OfficialDomain(domain=domain, organization=organization[:300], country=country,
                         method=method, evidence=evidence[:5000], checked_by_id=actor.user_id,
                         checked_by_label=actor.label[:255], checked_at=now())
    db.session.add(row)
    db.session.flush()
    keys = index_keys(domain)
    if keys:
        db.session.execute(insert(LookalikeKey), [
            {"key": key, "domain": domain, "list_kind": "official"} for key in keys])
    record_event(actor, "directory.official_added", object_type="official_domain",
                 object_id=row.id, after=official_snapshot(row))
    return row


def remove_official_domain(actor: Identity, official_id: int) -> None:
    directory_policy.require(actor, "manage")
    row = db.session.get(OfficialDomain, official_id)
    if row is None:
        raise NotFound("There is no such official domain.")
    before = official_snapshot(row)
    db.session.execute(delete(LookalikeKey).where(LookalikeKey.list_kind == "official",
                                                  LookalikeKey.domain == row.domain))
    db.session.delete(row)
    db.session.flush()
    record_event(actor, "directory.official_removed", object_type="official_domain",
                 object_id=official_id, before=before)


def official_domains() -> list[OfficialDomain]:
    return list(db.session.scalars(select(OfficialDomain).order_by(OfficialDomain.country,
                                                                   OfficialDomain.domain)))


def get_entry(entry_id: int) -> DirectoryEntry:
    entry = db.session.get(DirectoryEntry, entry_id)
    if entry is None:
        raise NotFound("There is no such directory entry.")
    return entry


def entry_history(entry: DirectoryEntry) -> list[DirectoryNameChange]:
    return list(db.session.scalars(select(DirectoryNameChange)
                                   .where(DirectoryNameChange.entry_id == entry.id)
                                   .order_by(DirectoryNameChange.changed_at.desc(),
                                             DirectoryNameChange.id.desc())))


def search_entries(query: str) -> list[DirectoryEntry]:
    """Registry entries whose domain or organisation contains the words typed (staff search)."""
    text = (query or "").strip().lower()
    if len(text) < 2:
        return []
    pattern = f"%{text.replace('%', '').replace('_', '')}%"
    return list(db.session.scalars(
        select(DirectoryEntry)
        .where(or_(DirectoryEntry.domain.like(pattern),
                   func.lower(DirectoryEntry.organization).like(pattern),
                   func.lower(DirectoryEntry.suborganization).like(pattern)))
        .order_by(DirectoryEntry.removed_at.is_not(None), DirectoryEntry.organization,
                  DirectoryEntry.domain)
        .limit(SEARCH_LIMIT)))


def registry_counts() -> dict:
    present = db.session.scalar(select(func.count(DirectoryEntry.id))
                                .where(DirectoryEntry.removed_at.is_(None))) or 0
    removed = db.session.scalar(select(func.count(DirectoryEntry.id))
                                .where(DirectoryEntry.removed_at.is_not(None))) or 0
    last = db.session.scalar(select(func.max(DirectoryEntry.last_seen_at)))
    return {"present": present, "removed": removed, "last_loaded": last}
