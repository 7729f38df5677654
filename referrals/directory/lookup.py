"""Who owns a domain, by the official lists, and what about it should make staff look twice.

``assess_domain`` is the one answer the registration, the approval page, the agency page
and the request panel all show. It costs two indexed queries: the domain and its parents
in both lists, then the look-alike index (names.probe_lookups) for the few candidates that
share a key, which are then compared letter by letter with rapidfuzz.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import literal, select, union_all

from referrals.core.timefmt import format_day
from referrals.core.types import UTCDateTime
from referrals.directory.models import DirectoryEntry, LookalikeKey, OfficialDomain
from referrals.directory.names import (FUZZY_MIN_LENGTH, clean_domain, is_free_mail,
                                       parent_domains, probe_keys, probe_lookups, skeletons,
                                       split_domain)
from referrals.extensions import db


@dataclass(frozen=True)
class Listing:
    """Where a domain (or the parent it sits under) is listed."""

    list_kind: str          # dotgov | official
    domain: str             # the listed name (a parent of the asked domain, or itself)
    organization: str
    detail: str             # "City · Twentynine Palms, CA" or "GB · checked by … on …"
    removed: bool = False   # left the .gov registry
    removed_on: str = ""


@dataclass(frozen=True)
class Lookalike:
    domain: str
    organization: str
    reason: str


@dataclass
class DomainAssessment:
    domain: str
    listing: Listing | None = None
    free_mail: bool = False
    lookalikes: list[Lookalike] = field(default_factory=list)
    non_latin: bool = False

    @property
    def listed(self) -> bool:
        return self.listing is not None and not self.listing.removed

    @property
    def flags(self) -> list[str]:
        """Each reason to look twice, in plain words; empty for a listed, plain domain."""
        reasons = []
        if self.free_mail:
            reasons.append(f"{self.domain} is a free-mail domain: anyone can have an address there.")
        if self.listing is not None and self.listing.removed:
            reasons.append(f"{self.listing.domain} left the .gov registry on "
                           f"{self.listing.removed_on}.")
        elif self.listing is None and not self.free_mail:
            reasons.append(f"{self.domain} is in neither the .gov registry nor the staff-kept "
                           "list of official domains.")
        if self.non_latin:
            reasons.append(f"{self.domain} uses letters outside the Latin alphabet.")
        reasons += [f"Looks like {item.domain} ({item.organization}): {item.reason}."
                    for item in self.lookalikes]
        return reasons

    @property
    def organization(self) -> str:
        return self.listing.organization if self.listing and not self.listing.removed else ""

    def snapshot(self) -> dict:
        """What an audit event records of it (what the staff member was shown)."""
        return {"domain": self.domain, "organization": self.organization,
                "list": self.listing.list_kind if self.listing else None,
                "flags": self.flags}


def _listing_rows(names: list[str]):
    """Both lists in one statement (a UNION ALL of two primary-key-like lookups)."""
    official = select(
        literal("official").label("list_kind"), OfficialDomain.domain,
        OfficialDomain.organization, OfficialDomain.country.label("a"),
        OfficialDomain.checked_by_label.label("b"), literal("").label("c"),
        OfficialDomain.checked_at.label("at"), literal(None, UTCDateTime).label("removed_at"),
    ).where(OfficialDomain.domain.in_(names))
    registry = select(
        literal("dotgov").label("list_kind"), DirectoryEntry.domain,
        DirectoryEntry.organization, DirectoryEntry.domain_type.label("a"),
        DirectoryEntry.suborganization.label("b"),
        (DirectoryEntry.city + literal(", ") + DirectoryEntry.state).label("c"),
        DirectoryEntry.last_seen_at.label("at"), DirectoryEntry.removed_at,
    ).where(DirectoryEntry.domain.in_(names))
    return db.session.execute(union_all(official, registry)).all()


def listing_of(domain: str) -> Listing | None:
    """Where the domain, or the nearest parent of it, is listed: one indexed query."""
    names = parent_domains(domain)
    if not names:
        return None
    found: list[tuple[int, Listing]] = []
    for row in _listing_rows(names):
        if row.list_kind == "official":
            checked = format_day(row.at) if row.at else "?"
            detail = f"{row.a} · checked by {row.b or 'staff'} on {checked}"
            listing = Listing("official", row.domain, row.organization, detail)
        else:
            detail = " · ".join(part for part in (row.a, row.b, row.c.strip(", ")) if part)
            removed = row.removed_at
            listing = Listing("dotgov", row.domain, row.organization, detail,
                              removed=removed is not None,
                              removed_on=format_day(removed) if removed else "")
        found.append((len(row.domain), listing))
    if not found:
        return None
    # The longest listed name wins; a present listing beats one that left the registry.
    found.sort(key=lambda item: (item[1].removed, -item[0]))
    return found[0][1]


def find_lookalikes(domain: str, *, limit: int = 5) -> list[Lookalike]:
    """Listed domains this one could be mistaken for (not those it sits under)."""
    domain = clean_domain(domain)
    probes = probe_keys(domain)
    if not probes:
        return []
    lookups = sorted(probe_lookups(domain))
    hits = db.session.execute(select(LookalikeKey.domain, LookalikeKey.list_kind)
                              .where(LookalikeKey.key.in_(lookups)).distinct()).all()
    own = set(parent_domains(domain))
    label = split_domain(domain).label
    found: dict[str, Lookalike] = {}
    for listed, _kind in hits:
        if listed in own or listed in found:
            continue
        listed_label = split_domain(listed).label
        reason = next((why for key, form in probes.items()
                       for listed_key in skeletons(listed_label)
                       if (why := _why(key, form, listed_key, label, listed_label))), "")
        if reason:
            found[listed] = Lookalike(listed, "", reason)
    names = _organizations(list(found))
    ranked = sorted(found.values(), key=lambda item: item.domain)[:limit]
    return [Lookalike(item.domain, names.get(item.domain, ""), item.reason) for item in ranked]


def _why(key: str, form: str, listed_key: str, label: str, listed_label: str) -> str:
    """Why ``label`` (as ``key``) passes for ``listed_label``, or '' if it does not."""
    if key == listed_key:
        if label == listed_label:
            return "the same name under another ending"
        if form != label:
            return f"the same name with {form.split(' without ')[1]} written into it"
        if label.replace("-", "") == listed_label.replace("-", ""):
            return "the same name with hyphens added or moved"
        return "the same letters once look-alike characters (such as rn/m, 0/o, 1/l) are read alike"
    if min(len(key), len(listed_key)) < FUZZY_MIN_LENGTH:
        return ""
    # Imported here, not at the top: rapidfuzz is about 3.5 MB of every process that imports
    # the app, and only a near miss of a look-alike key needs it (issue 17: the process
    # ingesting 1 GiB stays under 150 MB).
    from rapidfuzz.distance import OSA

    if OSA.distance(key, listed_key) == 1:
        return "one character added, left out, changed or swapped"
    return ""


def _organizations(domains: list[str]) -> dict[str, str]:
    if not domains:
        return {}
    return {row.domain: row.organization for row in _listing_rows(domains)}


def assess_domain(domain: str) -> DomainAssessment:
    domain = clean_domain(domain)
    assessment = DomainAssessment(domain=domain, free_mail=is_free_mail(domain),
                                  non_latin=not domain.isascii())
    assessment.listing = listing_of(domain)
    if assessment.listing is None or assessment.listing.removed:
        assessment.lookalikes = find_lookalikes(domain)
    return assessment


def assess_email(email: str) -> DomainAssessment:
    return assess_domain((email or "").rsplit("@", 1)[-1])
