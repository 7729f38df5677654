"""Typed identifiers and their normal forms, so one target is found across cases.

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

from referrals.core.errors import InvalidInput

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


def _phone(value: str, region: str) -> str:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as error:
        raise InvalidInput(f"“{value}” is not a phone number.", field="value") from error
    if not phonenumbers.is_possible_number(number):
        raise InvalidInput(f"“{value}” is not a possible phone number.", field="value")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _email(value: str) -> str:
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or not domain or " " in value.strip():
        raise InvalidInput(f"“{value}” is not an e-mail address.", field="value")
    return f"{local}@{domain}".lower()


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
        return _phone(value, region)
    if kind == "email":
        return _email(value)
    if kind == "ip":
        return _ip(value)
    if kind == "username":
        return value.lstrip("@").casefold()
    if kind == "device_id":
        return value.lower()
    return value
