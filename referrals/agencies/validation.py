"""Checks on what an agency registers: e-mail domains, call-back numbers, public keys."""

from __future__ import annotations

import base64
import re
import struct

import pyrage

from referrals.core.errors import InvalidInput
from referrals.directory.names import is_free_mail
from referrals.vocabulary.identifiers import e164, normalize_phone, parse_phone

_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def normalize_domain(value: str) -> str:
    domain = value.strip().lower().lstrip("@").rstrip(".")
    if not _DOMAIN.match(domain):
        raise InvalidInput(f"“{value.strip()}” is not an e-mail domain such as police.example.gov.",
                           field="domains")
    if is_free_mail(domain):
        raise InvalidInput(f"{domain} is a free-mail domain: anyone can have an address there.",
                           field="domains")
    return domain


_PHONE_TOKEN = re.compile(r"^[0-9+()./-]+$")


def split_phone_line(value: str, region: str) -> tuple[str, str]:
    """A registry line, "+1 202 555 0100 Duty desk", as (E.164 number, label).

    The number may itself contain spaces, so it is the longest run of leading number-like
    words that is a possible number; whatever follows is the label.
    """
    words = value.split()
    run = 0
    while run < len(words) and _PHONE_TOKEN.match(words[run]):
        run += 1
    for end in range(run, 0, -1):
        number = parse_phone(" ".join(words[:end]), region)
        if number is not None:
            return e164(number), " ".join(words[end:])
    # Nothing usable: say so about what looked like the number.
    return normalize_phone(" ".join(words[:run]) or (words[0] if words else value), region,
                           field="phones"), ""


def parse_public_key(value: str) -> tuple[str, str]:
    """('age', key) or ('ssh-ed25519', 'ssh-ed25519 AAAA…'), or a plain refusal."""
    text = " ".join(value.split())
    if text.startswith("age1"):
        # Checked by the library that encrypts to it (its Bech32 checksum too), not by its look.
        try:
            pyrage.x25519.Recipient.from_str(text)
        except pyrage.RecipientError:
            raise InvalidInput("That age key is not valid: copy it again from the file "
                               "age-keygen wrote (age1… with 58 more characters).",
                               field="public_key") from None
        return "age", text
    if text.startswith("ssh-ed25519 "):
        parts = text.split(" ")
        try:
            blob = base64.b64decode(parts[1], validate=True)
            (name_len,) = struct.unpack(">I", blob[:4])
            name = blob[4:4 + name_len]
            (key_len,) = struct.unpack(">I", blob[4 + name_len:8 + name_len])
            key = blob[8 + name_len:8 + name_len + key_len]
        except (ValueError, struct.error, IndexError) as error:
            raise InvalidInput("That SSH key is not valid.", field="public_key") from error
        if name != b"ssh-ed25519" or key_len != 32 or len(key) != 32:
            raise InvalidInput("That SSH key is not a valid ed25519 key.", field="public_key")
        try:
            pyrage.ssh.Recipient.from_str(f"ssh-ed25519 {parts[1]}")
        except pyrage.RecipientError:
            raise InvalidInput("That SSH key is not a valid ed25519 key.",
                               field="public_key") from None
        return "ssh-ed25519", f"ssh-ed25519 {parts[1]}"
    raise InvalidInput("Give an age public key (age1…) or an SSH ed25519 key (ssh-ed25519 AAAA…).",
                       field="public_key")
