"""Open a package and run every check an agency would: the transfer checksum and its
signature, decryption, the bag's manifests (SHA-256, SHA-1, MD5), its tag manifest and the
signature over it. Each check is reported; the first failure stops the rest."""

from __future__ import annotations

import hashlib
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyrage

from referrals.core.signing import BadSignature, PlatformSigner
from referrals.packages.bag import MANIFEST_ALGORITHMS, PACKAGE_NAMESPACE

CHUNK = 1024 * 1024


class PackageVerificationError(Exception):
    """A check failed; the message says which and why."""


@dataclass(frozen=True)
class Check:
    name: str
    detail: str


def read_identity(text: str):
    """An age identity (AGE-SECRET-KEY-1…) or an unencrypted SSH private key."""
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.startswith("#")]
    try:
        if lines and lines[0].startswith("AGE-SECRET-KEY-"):
            return pyrage.x25519.Identity.from_str(lines[0])
        if lines and lines[0].startswith("-----BEGIN"):
            return pyrage.ssh.Identity.from_buffer(text.encode())
    except pyrage.IdentityError as error:
        raise PackageVerificationError(f"The key file cannot be read: {error}.") from None
    raise PackageVerificationError("The key file holds neither an age identity "
                                   "(AGE-SECRET-KEY-1…) nor an SSH private key.")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _file_digests(path: Path) -> dict[str, str]:
    digests = {name: hashlib.new(name) for name in MANIFEST_ALGORITHMS}
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            for digest in digests.values():
                digest.update(chunk)
    return {name: digest.hexdigest() for name, digest in digests.items()}


def _manifest(path: Path) -> dict[str, str]:
    entries = {}
    for line in path.read_text("utf-8").splitlines():
        digest, _, name = line.partition("  ")
        name = name.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")
        entries[name] = digest
    return entries


def verify_package(package: Path, identity_text: str, signer: PlatformSigner) -> Iterator[Check]:
    """Yield each passed check; raise PackageVerificationError at the first that fails."""
    checksum_path = package.with_name(package.name + ".sha256")
    signature_path = checksum_path.with_name(checksum_path.name + ".sig")
    if not checksum_path.exists() or not signature_path.exists():
        raise PackageVerificationError(f"{checksum_path.name} or its .sig is missing beside "
                                       "the package.")
    checksum = checksum_path.read_bytes()
    try:
        verified = signer.verify(checksum, signature_path.read_text(), PACKAGE_NAMESPACE)
    except BadSignature as error:
        raise PackageVerificationError(f"The checksum file's signature fails: {error}.") from None
    yield Check("checksum signature", f"signed by {verified.fingerprint}")
    expected = checksum.decode().split()[0]
    actual = _file_sha256(package)
    if actual != expected:
        raise PackageVerificationError(f"The package's SHA-256 is {actual}, not {expected}: "
                                       "it was altered or damaged in transfer.")
    yield Check("transfer checksum", f"SHA-256 {actual}")

    identity = read_identity(identity_text)
    with tempfile.TemporaryDirectory(prefix="package-verify-") as scratch:
        plain = Path(scratch) / "package.tar"
        try:
            with open(package, "rb") as encrypted, open(plain, "wb") as out:
                pyrage.decrypt_io(encrypted, out, [identity])
        except pyrage.DecryptError as error:
            raise PackageVerificationError(f"The package cannot be decrypted with this key: "
                                           f"{error}.") from None
        yield Check("decryption", "age")
        root = Path(scratch) / "bag"
        try:
            with tarfile.open(plain, "r:") as tar:
                tar.extractall(root, filter="data")
        except (tarfile.TarError, OSError) as error:
            raise PackageVerificationError(f"The tar inside cannot be read: {error}.") from None
        bags = [p for p in root.iterdir() if p.is_dir()]
        if len(bags) != 1 or not (bags[0] / "bagit.txt").is_file():
            raise PackageVerificationError("The package does not hold one BagIt bag.")
        bag = bags[0]
        yield Check("tar", bag.name)

        payload = {str(p.relative_to(bag)) for p in (bag / "data").rglob("*") if p.is_file()}
        for algorithm in MANIFEST_ALGORITHMS:
            manifest_file = bag / f"manifest-{algorithm}.txt"
            if not manifest_file.is_file():
                raise PackageVerificationError(f"manifest-{algorithm}.txt is missing.")
            listed = _manifest(manifest_file)
            if set(listed) != payload:
                missing = sorted(set(listed) - payload) or sorted(payload - set(listed))
                raise PackageVerificationError(
                    f"manifest-{algorithm}.txt and the files in data/ differ: {missing[0]}.")
        sha256 = _manifest(bag / "manifest-sha256.txt")
        sha1 = _manifest(bag / "manifest-sha1.txt")
        md5 = _manifest(bag / "manifest-md5.txt")
        for name in sorted(payload):
            digests = _file_digests(bag / name)
            for algorithm, listed in (("sha256", sha256), ("sha1", sha1), ("md5", md5)):
                if digests[algorithm] != listed[name]:
                    raise PackageVerificationError(
                        f"{name}: its {algorithm.upper()} is {digests[algorithm]}, the manifest "
                        f"says {listed[name]}.")
        yield Check("payload manifests", f"{len(payload)} files, SHA-256, SHA-1 and MD5")

        tagmanifest_file = bag / "tagmanifest-sha256.txt"
        for name, listed in _manifest(tagmanifest_file).items():
            path = bag / name
            if not path.is_file() or _file_sha256(path) != listed:
                raise PackageVerificationError(f"The tag file {name} is missing or altered.")
        yield Check("tag manifest", "every tag file matches")
        try:
            signed = signer.verify(tagmanifest_file.read_bytes(),
                                   (bag / "signatures/tagmanifest-sha256.txt.sig").read_text(),
                                   PACKAGE_NAMESPACE)
        except (BadSignature, FileNotFoundError) as error:
            raise PackageVerificationError(f"The tag manifest's signature fails: {error}.") from None
        yield Check("bag signature", f"signed by {signed.fingerprint}")
