"""Managing agencies: who they are, their domains, call-back numbers and keys."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import func, or_, select

from referrals.agencies.models import (AGENCY_KINDS, AGENCY_STATUSES, Agency,
                                       AgencyDomain, AgencyKey, AgencyPhone)
from referrals.agencies.validation import normalize_domain, parse_public_key, split_phone_line
from referrals.audit.services import record_event
from referrals.core.clock import now
from referrals.core.errors import InvalidInput, NotFound
from referrals.core.identity import Identity
from referrals.core.policy import Policy, has_role, system_or
from referrals.directory.models import DirectoryEntry
from referrals.extensions import db
from referrals.vocabulary.entities import LEGAL_ENTITIES
from referrals.vocabulary.identifiers import email_domain


class AgencyPolicy(Policy):
    rules = {
        "list": has_role("admin", "supervisor", "agent", "compliance"),
        "manage": system_or(has_role("admin", "supervisor")),
    }


agency_policy = AgencyPolicy()


def snapshot(agency: Agency) -> dict:
    return {
        "name": agency.name, "kind": agency.kind, "country": agency.country,
        "status": agency.status, "legal_entity": agency.legal_entity,
        "domains": [d.domain for d in agency.domains],
        "phones": [p.number for p in agency.phones],
        "keys": [k.public_key for k in agency.keys],
    }


def get_agency(agency_id: int) -> Agency:
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("There is no such agency.")
    return agency


def agency_for_email(email: str) -> Agency | None:
    """The verified agency whose verified domain this address is on (sub-domains count)."""
    domain = email_domain(email)
    candidates = [domain]
    parts = domain.split(".")
    candidates += [".".join(parts[i:]) for i in range(1, len(parts) - 1)]
    row = db.session.scalar(
        select(AgencyDomain).join(Agency)
        .where(AgencyDomain.domain.in_(candidates), Agency.status == "verified")
        .order_by(func.length(AgencyDomain.domain).desc()))
    return row.agency if row else None


def agency_domain_list(agency: Agency | None) -> str:
    """The agency's e-mail domains as one comparable string ("a.gov b.gov")."""
    return " ".join(sorted(d.domain for d in agency.domains)) if agency else ""


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").replace(",", "\n").splitlines() if line.strip()]


def _apply(agency: Agency, *, name: str, kind: str, country: str, status: str, legal_entity: str,
           domains: str, phones: str, notes: str) -> None:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Give the agency's name.", field="name")
    clash = db.session.scalar(select(Agency).where(func.lower(Agency.name) == name.lower(),
                                                   Agency.id != (agency.id or 0)))
    if clash is not None:
        raise InvalidInput("Another agency has this name.", field="name")
    if kind not in AGENCY_KINDS:
        raise InvalidInput("Choose what kind of agency this is.", field="kind")
    if status not in AGENCY_STATUSES:
        raise InvalidInput("Choose a status.", field="status")
    if legal_entity not in LEGAL_ENTITIES:
        raise InvalidInput("Choose the legal entity that receives its requests.", field="legal_entity")
    country = (country or "").strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise InvalidInput("Give the two-letter country code (ISO 3166), e.g. US, GB, DE.",
                           field="country")
    wanted_domains = sorted({normalize_domain(d) for d in _lines(domains)})
    for domain in wanted_domains:
        owner = db.session.scalar(select(AgencyDomain).where(AgencyDomain.domain == domain))
        if owner is not None and owner.agency_id != agency.id:
            raise InvalidInput(f"{domain} is already verified for {owner.agency.name}.",
                               field="domains")
    region = current_app.config["REFERRALS_PHONE_REGION"]
    wanted_phones = []
    for line in _lines(phones):
        # "+1 202 555 0100 Duty desk": the number has spaces of its own (the form's example).
        number, label = split_phone_line(line, region)
        wanted_phones.append((number, label.strip()))
    agency.name, agency.kind, agency.country = name[:200], kind, country
    agency.status, agency.legal_entity, agency.notes = status, legal_entity, (notes or "").strip()
    existing = {d.domain: d for d in agency.domains}
    agency.domains = [existing.get(d) or AgencyDomain(domain=d) for d in wanted_domains]
    agency.phones = [AgencyPhone(number=n, label=label[:100]) for n, label in wanted_phones]


def create_agency(actor: Identity, **fields) -> Agency:
    agency_policy.require(actor, "manage")
    agency = Agency(created_at=now())
    _apply(agency, **fields)
    db.session.add(agency)
    db.session.flush()
    record_event(actor, "agency.created", object_type="agency", object_id=agency.id,
                 agency_id=agency.id, after=snapshot(agency))
    return agency


def update_agency(actor: Identity, agency: Agency, **fields) -> Agency:
    agency_policy.require(actor, "manage", agency)
    before = snapshot(agency)
    _apply(agency, **fields)
    db.session.flush()
    record_event(actor, "agency.updated", object_type="agency", object_id=agency.id,
                 agency_id=agency.id, before=before, after=snapshot(agency))
    return agency


def link_directory_entry(actor: Identity, agency: Agency, entry: DirectoryEntry) -> Agency:
    """Add a .gov registry entry's domain to the agency's verified domains."""
    agency_policy.require(actor, "manage", agency)
    if entry.removed_at is not None:
        raise InvalidInput(f"{entry.domain} has left the .gov registry: it cannot be linked.")
    owner = db.session.scalar(select(AgencyDomain).where(AgencyDomain.domain == entry.domain))
    if owner is not None:
        raise InvalidInput(f"{entry.domain} is already verified for {owner.agency.name}.")
    before = snapshot(agency)
    agency.domains.append(AgencyDomain(domain=entry.domain))
    db.session.flush()
    record_event(actor, "agency.directory_linked", object_type="agency", object_id=agency.id,
                 agency_id=agency.id, before=before,
                 after={**snapshot(agency), "directory_entry": {
                     "domain": entry.domain, "organization": entry.organization}})
    return agency


def prefill_from_entry(entry: DirectoryEntry) -> dict:
    """A new agency's fields from a registry entry (staff still choose and save)."""
    name = entry.organization
    if entry.suborganization:
        name = f"{entry.organization} – {entry.suborganization}"
    return {"name": name[:200], "kind": "law_enforcement", "country": "US", "status": "pending",
            "domains": entry.domain,
            "notes": f"From the US .gov registry: {entry.domain} ({entry.domain_type}"
                     f"{', ' + entry.place if entry.place else ''})."}


def agencies_on_domain(domain: str) -> list[Agency]:
    """Our agencies on a registry domain or a sub-domain of it (police.29palms.gov)."""
    return list(db.session.scalars(
        select(Agency).join(AgencyDomain)
        .where(or_(AgencyDomain.domain == domain, AgencyDomain.domain.endswith("." + domain)))
        .distinct().order_by(Agency.name)))


def add_key(actor: Identity, agency: Agency, public_key: str, label: str = "") -> AgencyKey:
    agency_policy.require(actor, "manage", agency)
    kind, key = parse_public_key(public_key)
    if any(k.public_key == key for k in agency.keys):
        raise InvalidInput("This key is already registered.", field="public_key")
    record = AgencyKey(kind=kind, public_key=key, label=(label or "").strip()[:100], added_at=now())
    agency.keys.append(record)
    db.session.flush()
    record_event(actor, "agency.key_added", object_type="agency", object_id=agency.id,
                 agency_id=agency.id, after={"kind": kind, "public_key": key})
    return record


def remove_key(actor: Identity, agency: Agency, key_id: int) -> None:
    agency_policy.require(actor, "manage", agency)
    record = next((k for k in agency.keys if k.id == key_id), None)
    if record is None:
        raise NotFound("There is no such key for this agency.")
    agency.keys.remove(record)
    db.session.flush()
    record_event(actor, "agency.key_removed", object_type="agency", object_id=agency.id,
                 agency_id=agency.id, before={"kind": record.kind, "public_key": record.public_key})
