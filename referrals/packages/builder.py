"""Build one package file: bag → tar → age → disk, as one stream, crash-safe.

The tar is written by a thread into a pipe that age (pyrage) reads from, so memory does not
grow with the package and both cores work (tar and hashing on one, encryption on the other).
The encrypted bytes go to a temporary name beside the final one, hashed on the way; only a
complete, fsynced file is renamed to its final name, with its ``.sha256`` and that file's SSH
signature beside it. A build that fails or is killed leaves only a ``.partial`` file, which
``remove_partial_packages`` (and the next build) clears.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyrage

from referrals.core.signing import PlatformSigner
from referrals.packages.bag import (PACKAGE_NAMESPACE, SIGNER_PRINCIPAL, PackageContents,
                                    write_bag)
from referrals.packages.recipients import parse_recipient

PIPE_BUFFER = 1024 * 1024
PARTIAL = ".partial"


@dataclass(frozen=True)
class BuiltPackage:
    path: Path  # <label>.tar.age
    checksum_path: Path  # <label>.tar.age.sha256
    signature_path: Path  # <label>.tar.age.sha256.sig
    sha256: str
    size: int


class _HashingWriter:
    def __init__(self, handle: BinaryIO):
        self.handle = handle
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}{PARTIAL}")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def remove_partial_packages(directory: Path, older_than: float = 0) -> list[Path]:
    """Leftovers of builds that did not finish (crash, kill, refusal). ``older_than``
    (seconds): spare the files a build still running may be writing."""
    removed = []
    if not directory.is_dir():
        return removed
    limit = time.time() - older_than
    for path in directory.glob(f".*{PARTIAL}"):
        try:
            if older_than and path.stat().st_mtime > limit:
                continue
        except FileNotFoundError:
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def build_package(contents: PackageContents, recipients: list[str], directory: Path,
                  signer: PlatformSigner) -> BuiltPackage:
    """Write ``<label>.tar.age`` (+ ``.sha256`` and its ``.sig``) into ``directory``."""
    if not recipients:
        raise ValueError("a package needs at least one recipient")
    age_recipients = [parse_recipient(r) for r in recipients]
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{contents.label}.tar.age"
    temporary = directory / f".{final.name}.{uuid.uuid4().hex}{PARTIAL}"
    failure: list[BaseException] = []
    read_fd, write_fd = os.pipe()

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb", buffering=PIPE_BUFFER) as pipe:
                write_bag(pipe, contents,
                          sign=lambda data: signer.sign(data, PACKAGE_NAMESPACE),
                          allowed_signers=signer.allowed_signers(SIGNER_PRINCIPAL))
        except BaseException as error:  # handed to the building thread, which raises it
            failure.append(error)

    producer = threading.Thread(target=produce, name=f"package {contents.label}", daemon=True)
    try:
        with open(temporary, "wb") as handle:
            writer = _HashingWriter(handle)
            producer.start()
            with os.fdopen(read_fd, "rb", buffering=PIPE_BUFFER) as pipe:
                pyrage.encrypt_io(pipe, writer, age_recipients)
            producer.join()
            if failure:
                raise failure[0]
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    digest = writer.sha256.hexdigest()
    checksum = f"{digest}  {final.name}\n".encode()
    checksum_path = final.with_name(final.name + ".sha256")
    signature_path = checksum_path.with_name(checksum_path.name + ".sig")
    _write_atomically(checksum_path, checksum)
    _write_atomically(signature_path, signer.sign(checksum, PACKAGE_NAMESPACE).encode())
    _fsync_directory(directory)
    return BuiltPackage(final, checksum_path, signature_path, digest, writer.size)
