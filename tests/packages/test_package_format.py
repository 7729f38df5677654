"""The package opens with the tools an agency already has: age, tar, ssh-keygen, sha256sum,
and bagit-python; tampering is caught by the tool that should catch it, and by our verify."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import bagit
import pyrage
import pytest

from referrals.core.errors import InvalidInput
from referrals.core.signing import PlatformSigner
from referrals.packages.bag import (PACKAGE_NAMESPACE, SIGNER_PRINCIPAL, PackageContentError,
                                    PackageContents, PackageFile)
from referrals.packages.builder import build_package, remove_partial_packages
from referrals.packages.recipients import one_time_identity, parse_recipient
from referrals.packages.verify import PackageVerificationError, verify_package


def synthetic(item_id: int, size: int, name: str | None = None) -> PackageFile:
    data = os.urandom(size)
    return PackageFile(
        item_id=item_id, file_name=name or f"synthetic-{size}.bin", size=size,
        sha256=hashlib.sha256(data).hexdigest(), sha1=hashlib.sha1(data).hexdigest(),
        md5=hashlib.md5(data).hexdigest(),
        chunks=lambda: (data[i:i + 65536] for i in range(0, max(len(data), 1), 65536)),
        metadata={"synthetic": True})


def contents(files: list[PackageFile], label="REQ-2026-000001-P1") -> PackageContents:
    return PackageContents(
        label=label, files=files, report_pdf=b"%PDF-1.7 synthetic report",
        bag_info={"Source-Organization": "Made-up Platform LER", "External-Identifier": label,
                  "Bagging-Date": "2026-12-01"},
        custody=[{"item": f.item_id, "action": "collected"} for f in files],
        case_manifest={"items": [{"id": f.item_id, "name": f.file_name} for f in files]})


@pytest.fixture(scope="module")
def signer():
    return PlatformSigner.generate()


@pytest.fixture
def identity(tmp_path):
    key = one_time_identity()
    path = tmp_path / "key.txt"
    path.write_text(key.secret + "\n")
    return key, path


SIZES = [0, 1, 65535, 65536, 65537, 3 * 1024 * 1024 + 17]


def run(*command, cwd=None):
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def open_with_tools(package, key_path: Path, work: Path, signer) -> Path:
    """What the portal help page tells an officer to do, command for command."""
    assert run("sha256sum", "-c", package.name + ".sha256", cwd=package.parent).returncode == 0
    signers = work / "allowed_signers"
    signers.write_text(signer.allowed_signers(SIGNER_PRINCIPAL))
    checked = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", SIGNER_PRINCIPAL,
         "-n", PACKAGE_NAMESPACE, "-s", str(package) + ".sha256.sig"],
        stdin=open(str(package) + ".sha256", "rb"), capture_output=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    tar = work / "package.tar"
    assert run("age", "-d", "-i", str(key_path), "-o", str(tar), str(package)).returncode == 0
    out = work / "opened"
    out.mkdir()
    assert run("tar", "xf", str(tar), "-C", str(out)).returncode == 0
    return out / package.name.removesuffix(".tar.age")


def test_files_of_every_awkward_size_open_with_age_tar_ssh_keygen_sha256sum_and_bagit(
        tmp_path, signer, identity):
    key, key_path = identity
    files = [synthetic(i + 1, size) for i, size in enumerate(SIZES)]
    built = build_package(contents(files), [key.recipient], tmp_path / "out", signer)
    assert built.path.name == "REQ-2026-000001-P1.tar.age"
    assert built.sha256 == hashlib.sha256(built.path.read_bytes()).hexdigest()

    bag_dir = open_with_tools(built.path, key_path, tmp_path, signer)
    bag = bagit.Bag(str(bag_dir))
    bag.validate()  # every manifest, tag manifest and Payload-Oxum
    for item in files:
        data = (bag_dir / item.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == item.sha256 and len(data) == item.size
    for algorithm in ("sha256", "sha1", "md5"):
        assert run(f"{algorithm}sum", "-c", f"manifest-{algorithm}.txt",
                   cwd=bag_dir).returncode == 0
    signers = tmp_path / "allowed_signers"
    checked = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", SIGNER_PRINCIPAL,
         "-n", PACKAGE_NAMESPACE, "-s", str(bag_dir / "signatures/tagmanifest-sha256.txt.sig")],
        stdin=open(bag_dir / "tagmanifest-sha256.txt", "rb"), capture_output=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    names = [c.name for c in verify_package(built.path, key_path.read_text(), signer)]
    assert names == ["checksum signature", "transfer checksum", "decryption", "tar",
                     "payload manifests", "tag manifest", "bag signature"]


def test_an_ssh_ed25519_recipient_opens_it_with_its_private_key(tmp_path, signer):
    key = tmp_path / "agency"
    assert run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)).returncode == 0
    built = build_package(contents([synthetic(1, 1000)]), [(tmp_path / "agency.pub").read_text()],
                          tmp_path / "out", signer)
    out = tmp_path / "plain.tar"
    assert run("age", "-d", "-i", str(key), "-o", str(out), str(built.path)).returncode == 0
    assert any(m.name.endswith("data/1/synthetic-1000.bin") for m in tarfile.open(out))
    assert list(verify_package(built.path, key.read_text(), signer))


def test_a_key_with_a_bad_checksum_is_refused_by_the_library():
    good = one_time_identity().recipient
    bad = good[:-1] + ("q" if good[-1] != "q" else "p")
    assert parse_recipient(good)
    with pytest.raises(InvalidInput, match="not valid"):
        parse_recipient(bad)
    with pytest.raises(InvalidInput):
        parse_recipient("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBroken")
    with pytest.raises(InvalidInput, match="age public key"):
        parse_recipient("-----BEGIN PGP PUBLIC KEY BLOCK-----")


def test_a_stored_file_that_no_longer_matches_stops_the_build(tmp_path, signer, identity):
    key, _ = identity
    good = synthetic(1, 5000)
    altered = PackageFile(**{**good.__dict__, "chunks": lambda: iter([b"x" * 5000])})
    with pytest.raises(PackageContentError, match="no longer matches"):
        build_package(contents([synthetic(2, 10), altered]), [key.recipient],
                      tmp_path / "out", signer)
    assert list((tmp_path / "out").iterdir()) == []  # no package, no leftover


@pytest.fixture
def built(tmp_path, signer, identity):
    key, key_path = identity
    return build_package(contents([synthetic(1, 70000), synthetic(2, 10)]), [key.recipient],
                         tmp_path / "out", signer), key_path


def test_one_flipped_byte_is_caught_by_sha256sum_age_and_verify(built, signer):
    package, key_path = built
    data = bytearray(package.path.read_bytes())
    data[len(data) // 2] ^= 0x01
    package.path.write_bytes(bytes(data))
    assert run("sha256sum", "-c", package.path.name + ".sha256",
               cwd=package.path.parent).returncode != 0
    assert run("age", "-d", "-i", str(key_path), "-o", os.devnull,
               str(package.path)).returncode != 0
    with pytest.raises(PackageVerificationError, match="altered or damaged in transfer"):
        list(verify_package(package.path, key_path.read_text(), signer))


def _repack(package, key_path, signer, change) -> None:
    """Decrypt, change the bag, re-encrypt and re-sign the outer checksum: what an
    attacker holding the agency's key but not our signing key could do."""
    plain = pyrage_decrypt(package.path, key_path)
    members = {}
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        for member in tar:
            members[member.name] = (member, tar.extractfile(member).read() if member.isfile() else None)
    change(members)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member, data in members.values():
            if data is not None:
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    recipient = pyrage.x25519.Identity.from_str(key_path.read_text().strip()).to_public()
    package.path.write_bytes(pyrage.encrypt(out.getvalue(), [recipient]))
    checksum = f"{hashlib.sha256(package.path.read_bytes()).hexdigest()}  {package.path.name}\n"
    package.checksum_path.write_text(checksum)
    package.signature_path.write_text(signer.sign(checksum.encode(), PACKAGE_NAMESPACE))


def pyrage_decrypt(path: Path, key_path: Path) -> bytes:
    identity = pyrage.x25519.Identity.from_str(key_path.read_text().strip())
    return pyrage.decrypt(path.read_bytes(), [identity])


def test_a_changed_manifest_line_is_caught(built, signer):
    package, key_path = built

    def change(members):
        name = next(n for n in members if n.endswith("/manifest-md5.txt"))
        member, data = members[name]
        members[name] = (member, data.replace(data[:4], b"0000", 1))

    _repack(package, key_path, signer, change)
    with pytest.raises(PackageVerificationError, match="MD5"):
        list(verify_package(package.path, key_path.read_text(), signer))


def test_a_removed_file_is_caught(built, signer):
    package, key_path = built

    def change(members):
        del members[next(n for n in members if n.endswith("data/2/synthetic-10.bin"))]

    _repack(package, key_path, signer, change)
    with pytest.raises(PackageVerificationError, match="differ"):
        list(verify_package(package.path, key_path.read_text(), signer))


def test_a_rewritten_tag_manifest_fails_its_signature(built, signer):
    package, key_path = built

    def change(members):
        name = next(n for n in members if n.endswith("/bag-info.txt"))
        member, data = members[name]
        new = data + b"Contact-Name: Someone Else\n"
        members[name] = (member, new)
        tm = next(n for n in members if n.endswith("/tagmanifest-sha256.txt"))
        tm_member, tm_data = members[tm]
        old = hashlib.sha256(data).hexdigest().encode()
        members[tm] = (tm_member, tm_data.replace(old, hashlib.sha256(new).hexdigest().encode()))

    _repack(package, key_path, signer, change)
    with pytest.raises(PackageVerificationError, match="tag manifest's signature"):
        list(verify_package(package.path, key_path.read_text(), signer))


def test_leftovers_of_an_unfinished_build_are_removed(tmp_path):
    (tmp_path / ".REQ-1.tar.age.abc.partial").write_bytes(b"half")
    (tmp_path / "REQ-2.tar.age").write_bytes(b"whole")
    removed = remove_partial_packages(tmp_path)
    assert [p.name for p in removed] == [".REQ-1.tar.age.abc.partial"]
    assert [p.name for p in tmp_path.iterdir()] == ["REQ-2.tar.age"]
