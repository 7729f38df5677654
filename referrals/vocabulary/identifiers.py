"""Typed identifiers and their normal forms, so one target is found across cases, requests
and holds; the same parsing of phone numbers and e-mail addresses serves accounts and the
agency registry (one place that says what a phone number or an address is).

- phone: E.164 (``phonenumbers``); a number without a country code is read in the
  default region (a setting, US unless changed)
- email: trimmed, lower-cased whole (providers treat local parts case-insensitively
  in practice; dots and +tags are kept, since not every provider ignores them)
- ip: canonical text of ``ipaddress`` (IPv6 compressed, IPv4-mapped IPv6 as IPv4)
- username: trimmed, a leading @ removed, case-folded
- platform_user_id, device_id: trimmed; device ids lower-cased
"""

from __future__ import annotations

import ipaddress

import phonenumbers
from flask import current_app, has_app_context

from referrals.core.errors import InvalidInput
from referrals.core.inputs import NOT_BLANK

KINDS = {
    "platform_user_id": "Platform user id",
    "username": "Username",
    "email": "E-mail",
    "phone": "Phone",
    "ip": "IP address",
    "device_id": "Device id",
}
# Identifiers strong enough to say two escalations are about the same target. IP
# addresses are not: carrier-grade NAT puts thousands of people behind one.
MATCHING_KINDS = ("platform_user_id", "username", "email", "phone", "device_id")
MAX_LENGTH = 320


def phone_region() -> str:
    """The region for phone numbers without a country code (a setting; US by default)."""
    return current_app.config.get("REFERRALS_PHONE_REGION", "US") if has_app_context() else "US"


def parse_phone(value: str, region: str) -> phonenumbers.PhoneNumber | None:
    """The number, if ``value`` is a possible phone number read in ``region``; else None."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_phone(value: str, region: str, *, field: str = "value") -> str:
    """E.164, or a plain refusal naming what was given."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as error:
        raise InvalidInput(f"“{value}” is not a phone number.", field=field) from error
    if not phonenumbers.is_possible_number(number):
        raise InvalidInput(f"“{value}” is not a possible phone number.", field=field)
    return e164(number)


def split_email(value: str) -> tuple[str, str] | None:
    """(local part, domain) of a plausible address, trimmed; None when it is not one."""
    text = (value or "").strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in text):
        return None
    return local, domain


def email_domain(email: str) -> str:
    """The domain of an address, lower-cased, without a trailing dot."""
    return email.strip().rpartition("@")[2].lower().rstrip(".")


def _email(value: str) -> str:
    parts = split_email(value)
    if parts is None:
        raise InvalidInput(f"“{value}” is not an e-mail address.", field="value")
    return "@".join(parts).lower()


def _ip(value: str) -> str:
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError as error:
        raise InvalidInput(f"“{value}” is not an IP address.", field="value") from error
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


def normalize(kind: str, value: str, *, region: str = "US") -> str:
    if kind not in KINDS:
        raise InvalidInput(f"Unknown identifier type “{kind}”.", field="kind")
    value = (value or "").strip()
    if not value:
        raise InvalidInput("Enter a value.", field="value")
    if len(value) > MAX_LENGTH:
        raise InvalidInput(f"At most {MAX_LENGTH} characters.", field="value")
    if kind == "phone":
        return normalize_phone(value, region)
    if kind == "email":
        return _email(value)
    if kind == "ip":
        return _ip(value)
    if kind == "username":
        return value.lstrip("@").casefold()
    if kind == "device_id":
        return value.lower()
    return value


def candidate_forms(text: str, *, region: str = "US") -> list[tuple[str, str]]:
    """Every (kind, normal form) that search text could be: "+1 202 555 0100" is a phone,
    "@Someone" a username, "10.0.0.1" an IP and a user id … Each pair is an index lookup
    on the tables that keep identifiers (cases, requests, holds)."""
    forms = set()
    for kind in KINDS:
        try:
            forms.add((kind, normalize(kind, text, region=region)))
        except InvalidInput:
            continue
    return sorted(forms)


# What the spec promises for each kind's value, so that the spec is no looser than
# ``normalize``: an IP must look like one (the fuzzer's "0" passed the old spec).
# Phone numbers are the one rule a pattern can only approximate: whether a number is
# possible depends on its country's numbering plan, which the server checks.
VALUE_FORMATS = {
    "platform_user_id": {"pattern": NOT_BLANK},
    "username": {"pattern": NOT_BLANK},
    "device_id": {"pattern": NOT_BLANK},
    "email": {"format": "email"},
    "phone": {"pattern": r"^\s*\+?[0-9][0-9 ().-]{2,38}\s*$",
              "description": "E.164 (+12025550100) or a national number of the "
                             "deployment's region; it must be a possible number there"},
    "ip": {"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
}


def describe_identifier_kinds(spec, component: str) -> None:
    """Replace a generated identifier component (kind, value) by one variant per kind
    (OpenAPI 3.0 ``oneOf``)."""
    generic = spec.components.schemas[component]
    variants = []
    for kind in KINDS:
        variant = {**generic, "properties": {**generic["properties"]},
                   "title": f"Identifier ({kind})"}
        variant["properties"]["kind"] = {"type": "string", "enum": [kind]}
        variant["properties"]["value"] = {**generic["properties"]["value"], **VALUE_FORMATS[kind]}
        if kind != "ip":  # only IP addresses take observed_at and port
            variant["properties"] = {k: v for k, v in variant["properties"].items()
                                     if k not in ("observed_at", "port")}
        variants.append(variant)
    spec.components.schemas[component] = {"oneOf": variants}
