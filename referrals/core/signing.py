"""The platform's signing key: the one class that holds it and makes or checks its signatures.

One Ed25519 key signs what must be provably ours: audit checkpoints today, evidence packages
next. Signatures are SSH signatures (OpenSSH's ``PROTOCOL.sshsig``, the ``-----BEGIN SSH
SIGNATURE-----`` armour), so anyone holding the public key checks them with ``ssh-keygen -Y
verify`` and none of this code. The namespace names what was signed, so a signature over a
checkpoint can never pass for one over a package.

The key is a file: an unencrypted OpenSSH (``ssh-keygen -t ed25519 -N ''``) or PKCS#8 PEM
private key. Keys rotate: the current key signs; the public keys of retired ones still verify
what they signed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import Flask, current_app

KEY_TYPE = b"ssh-ed25519"
MAGIC = b"SSHSIG"
SIG_VERSION = 1
HASHES = {b"sha512": hashlib.sha512, b"sha256": hashlib.sha256}
ARMOUR_BEGIN = "-----BEGIN SSH SIGNATURE-----"
ARMOUR_END = "-----END SSH SIGNATURE-----"
EXTENSION = "referrals_signer"


class SigningKeyError(Exception):
    """The signing key cannot be read, made or used; the message says why."""


class BadSignature(Exception):
    """A signature is malformed, for another namespace, by an unknown key, or does not match."""


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


class _Reader:
    """SSH wire format: uint32-length-prefixed strings."""

    def __init__(self, data: bytes):
        self.data = data
        self.at = 0

    def raw(self, count: int) -> bytes:
        if self.at + count > len(self.data):
            raise BadSignature("the signature is cut short")
        chunk = self.data[self.at:self.at + count]
        self.at += count
        return chunk

    def uint32(self) -> int:
        return struct.unpack(">I", self.raw(4))[0]

    def string(self) -> bytes:
        return self.raw(self.uint32())

    def done(self) -> bool:
        return self.at == len(self.data)


def _public_blob(key: Ed25519PublicKey) -> bytes:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _string(KEY_TYPE) + _string(raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    """``SHA256:…``, as ``ssh-keygen -l`` prints it."""
    digest = hashlib.sha256(_public_blob(key)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def parse_public_key(line: str) -> Ed25519PublicKey:
    """An OpenSSH public key line (``ssh-ed25519 AAAA… comment``)."""
    try:
        key = serialization.load_ssh_public_key(line.strip().encode())
    except (ValueError, TypeError, IndexError) as error:
        raise SigningKeyError(f"not an OpenSSH public key: {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError("not an Ed25519 public key (ssh-ed25519)")
    return key


def _signed_data(message: bytes, namespace: str, hash_name: bytes) -> bytes:
    return (MAGIC + _string(namespace.encode()) + _string(b"") + _string(hash_name)
            + _string(HASHES[hash_name](message).digest()))


def _armour(blob: bytes) -> str:
    encoded = base64.b64encode(blob).decode()
    lines = [encoded[i:i + 70] for i in range(0, len(encoded), 70)]
    return "\n".join([ARMOUR_BEGIN, *lines, ARMOUR_END]) + "\n"


def _unarmour(text: str) -> bytes:
    body = text.strip()
    if not body.startswith(ARMOUR_BEGIN) or not body.endswith(ARMOUR_END):
        raise BadSignature("not an SSH signature (no BEGIN/END SSH SIGNATURE lines)")
    inner = "".join(body[len(ARMOUR_BEGIN):-len(ARMOUR_END)].split())
    try:
        return base64.b64decode(inner, validate=True)
    except ValueError:
        raise BadSignature("the SSH signature is not valid base64") from None


@dataclass(frozen=True)
class Verified:
    """Who signed: the fingerprint of the key, and whether it is the current one."""

    fingerprint: str
    current: bool


class PlatformSigner:
    """Holds the platform's private key; signs, and checks against current and retired keys."""

    def __init__(self, private_key: Ed25519PrivateKey,
                 retired: tuple[Ed25519PublicKey, ...] = ()):
        self._key = private_key
        self.public_key = private_key.public_key()
        self.retired = tuple(retired)

    # --- making and reading the key file ------------------------------------------------

    @classmethod
    def generate(cls) -> PlatformSigner:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_bytes(cls, data: bytes, retired: tuple[Ed25519PublicKey, ...] = ()) -> PlatformSigner:
        try:
            if b"OPENSSH PRIVATE KEY" in data:
                key = serialization.load_ssh_private_key(data, password=None)
            else:
                key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as error:
            raise SigningKeyError(
                f"not an unencrypted OpenSSH or PEM private key ({error})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError("the signing key must be Ed25519 (ssh-keygen -t ed25519)")
        return cls(key, retired)

    @classmethod
    def from_file(cls, path: Path, retired: tuple[str, ...] = ()) -> PlatformSigner:
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise SigningKeyError(f"cannot read the signing key {path}: {error.strerror}") from None
        keys = []
        for number, line in enumerate(retired, start=1):
            try:
                keys.append(parse_public_key(line))
            except SigningKeyError as error:
                raise SigningKeyError(f"retired key {number}: {error}") from None
        return cls.from_bytes(data, tuple(keys))

    @classmethod
    def load_or_create(cls, path: Path, retired: tuple[str, ...] = ()) -> PlatformSigner:
        """For development and tests: the key at ``path``, made there (0600) the first time."""
        if not Path(path).exists():
            try:
                cls.generate().write_private_key(path)
            except FileExistsError:
                pass  # another process (the worker, a command) made it first: use theirs
        return cls.from_file(path, retired)

    def write_private_key(self, path: Path) -> None:
        """OpenSSH format, readable by its owner only; the public key beside it (``.pub``).
        Never replaces a key: the file appears whole (linked from a temporary name) or not."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self._key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption())
        temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temporary, path)  # fails if the key exists
        finally:
            temporary.unlink(missing_ok=True)
        path.with_name(path.name + ".pub").write_text(self.public_key_openssh + "\n")

    # --- what others may know -----------------------------------------------------------

    @property
    def public_key_openssh(self) -> str:
        """``ssh-ed25519 AAAA…``: for ``allowed_signers`` files and help pages."""
        return self.public_key.public_bytes(serialization.Encoding.OpenSSH,
                                            serialization.PublicFormat.OpenSSH).decode()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def allowed_signers(self, principal: str) -> str:
        """The ``allowed_signers`` lines ``ssh-keygen -Y verify -f`` reads (retired keys too)."""
        keys = [self.public_key_openssh] + [
            key.public_bytes(serialization.Encoding.OpenSSH,
                             serialization.PublicFormat.OpenSSH).decode()
            for key in self.retired
        ]
        return "".join(f"{principal} {key}\n" for key in keys)

    # --- signatures ---------------------------------------------------------------------

    def sign(self, message: bytes, namespace: str) -> str:
        """An armoured SSH signature of ``message`` in ``namespace`` (SHA-512, as ssh-keygen)."""
        if not namespace:
            raise ValueError("an SSH signature needs a namespace")
        signature = self._key.sign(_signed_data(message, namespace, b"sha512"))
        blob = (MAGIC + struct.pack(">I", SIG_VERSION) + _string(_public_blob(self.public_key))
                + _string(namespace.encode()) + _string(b"") + _string(b"sha512")
                + _string(_string(KEY_TYPE) + _string(signature)))
        return _armour(blob)

    def verify(self, message: bytes, armoured: str, namespace: str) -> Verified:
        """Check a signature made by this key or a retired one; raise ``BadSignature`` if not."""
        reader = _Reader(_unarmour(armoured))
        if reader.raw(len(MAGIC)) != MAGIC or reader.uint32() != SIG_VERSION:
            raise BadSignature("not an SSH signature of a version this checks (SSHSIG v1)")
        public_blob = reader.string()
        signed_namespace = reader.string()
        reader.string()  # reserved
        hash_name = reader.string()
        signature_blob = reader.string()
        if not reader.done():
            raise BadSignature("the signature has bytes after its end")
        if signed_namespace != namespace.encode():
            raise BadSignature(f"the signature is for {signed_namespace.decode(errors='replace')!r}"
                               f", not {namespace!r}")
        if hash_name not in HASHES:
            raise BadSignature(f"unknown hash {hash_name.decode(errors='replace')!r}")
        known = {_public_blob(key): (key, key is self.public_key)
                 for key in (self.public_key, *self.retired)}
        if public_blob not in known:
            raise BadSignature("it was signed by a key that is not the platform's")
        key, current = known[public_blob]
        inner = _Reader(signature_blob)
        if inner.string() != KEY_TYPE:
            raise BadSignature("not an Ed25519 signature")
        raw_signature = inner.string()
        try:
            key.verify(raw_signature, _signed_data(message, namespace, hash_name))
        except InvalidSignature:
            raise BadSignature("the signature does not match what was signed") from None
        return Verified(fingerprint(key), current)


def get_signer() -> PlatformSigner:
    """The application's signer, loaded once at start (see ``init_signing``)."""
    return current_app.extensions[EXTENSION]


def init_signing(app: Flask, key_path: Path, *, create: bool, retired: tuple[str, ...] = ()) -> None:
    """Load the key at start, so a missing or unreadable key stops the app, not a signature."""
    if create:
        signer = PlatformSigner.load_or_create(key_path, retired)
    else:
        signer = PlatformSigner.from_file(key_path, retired)
    app.extensions[EXTENSION] = signer
