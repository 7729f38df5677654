"""Who can open a package: age recipients, checked by the library that encrypts to them.

An agency registers ``age1…`` (X25519) or ``ssh-ed25519 …`` public keys. A key is valid when
pyrage can encrypt to it (a Bech32 checksum, a well-formed SSH key), never by the look of it.
With no key on file, a one-time X25519 identity is made for the package: its secret is
shown once to the officer and never stored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pyrage
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from referrals.core.errors import InvalidInput


@dataclass(frozen=True)
class OneTimeIdentity:
    secret: str  # AGE-SECRET-KEY-1…: shown once, never stored
    recipient: str  # age1…


def parse_recipient(text: str):
    """A pyrage recipient for ``age1…`` or ``ssh-ed25519 …``; a plain refusal otherwise."""
    line = " ".join((text or "").split())
    try:
        if line.startswith("age1"):
            return pyrage.x25519.Recipient.from_str(line)
        if line.startswith("ssh-ed25519 ") or line.startswith("ssh-rsa "):
            return pyrage.ssh.Recipient.from_str(line)
    except pyrage.RecipientError as error:
        raise InvalidInput(f"That key is not valid ({error}). Copy it again from the file "
                           "age-keygen or ssh-keygen wrote.", field="public_key") from None
    raise InvalidInput("A package key is an age public key (age1…) or an SSH Ed25519 public "
                       "key (ssh-ed25519 …).", field="public_key")


ESCROW_SETTING = "REFERRALS_PACKAGE_ESCROW_RECIPIENT"


def escrow_recipient(text: str | None) -> str | None:
    """The escrow key of the settings (a recipient of ours added to every package), checked
    exactly as an agency's key is; None when it is off. Checked when the app starts and
    again when a build begins, so a bad key never reaches the encryption."""
    line = " ".join((text or "").split())
    if not line:
        return None
    try:
        parse_recipient(line)
    except InvalidInput as error:
        raise InvalidInput(f"{ESCROW_SETTING} is not a key a package can be encrypted to: "
                           f"{error.message}", field=ESCROW_SETTING) from None
    return line


def one_time_identity() -> OneTimeIdentity:
    identity = pyrage.x25519.Identity.generate()
    return OneTimeIdentity(secret=str(identity), recipient=str(identity.to_public()))


# --- holding a one-time secret until it is shown --------------------------------------------
# Between the build (in the worker) and the officer's first look, the secret is held sealed
# under a key derived from the application's SECRET_KEY; showing it erases it.

def _sealing_key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"referrals one-time package identity").derive(secret_key.encode())


def seal_secret(secret: str, secret_key: str, label: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(_sealing_key(secret_key)).encrypt(nonce, secret.encode(), label.encode())


def unseal_secret(sealed: bytes, secret_key: str, label: str) -> str:
    return AESGCM(_sealing_key(secret_key)).decrypt(sealed[:12], sealed[12:], label.encode()).decode()
