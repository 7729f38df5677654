"""The evidence package's plaintext: a BagIt 1.0 bag, written as one PAX tar stream.

Nothing is staged on disk or in memory: each file's bytes come from its source (the blob
store, decrypting as it goes) straight into the tar, hashed on the way. The manifests are
written after the payload, from the hashes taken at intake (MD5, SHA-1) and the SHA-256
computed while streaming, which must equal the one taken at intake: a stored file that no
longer matches stops the build.

Layout (inside ``<label>/``)::

    bagit.txt  bag-info.txt
    data/<item-id>/<safe-file-name>
    case-manifest.json                 what each item is (metadata)
    custody/chain-of-custody.json      every custody event of every item
    report/<report>.pdf                the production or referral report
    manifest-sha256.txt manifest-sha1.txt manifest-md5.txt
    tagmanifest-sha256.txt             over every tag file above
    signatures/tagmanifest-sha256.txt.sig   SSH signature (namespace PACKAGE_NAMESPACE)
    signatures/allowed_signers
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

# The SSH signature namespace: a signature over a package can never pass for another kind.
PACKAGE_NAMESPACE = "referrals-evidence-package"
SIGNER_PRINCIPAL = "evidence-packages@referrals"
MANIFEST_ALGORITHMS = ("sha256", "sha1", "md5")
COPY_BUFFER = 1024 * 1024


class PackageContentError(Exception):
    """A file to be packaged is not what was taken in; the message says which and why."""


@dataclass(frozen=True)
class PackageFile:
    """One evidence item to package. ``chunks`` yields its plaintext (decrypting as it goes)."""

    item_id: int
    file_name: str  # already safe: no path, no control characters
    size: int
    sha256: str
    sha1: str
    md5: str
    chunks: Callable[[], Iterator[bytes]]
    metadata: dict = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"data/{self.item_id}/{self.file_name}"


@dataclass(frozen=True)
class PackageContents:
    label: str  # e.g. REQ-2026-000123-P1; the bag's directory and the package's file name
    bag_info: dict[str, str]
    files: list[PackageFile]
    custody: list[dict]
    report_pdf: bytes
    report_name: str = "report.pdf"
    case_manifest: dict = field(default_factory=dict)


class _HashingReader:
    """A file-like view of a chunk iterator that hashes what tarfile reads and checks that
    exactly ``size`` bytes with the intake SHA-256 came out."""

    def __init__(self, item: PackageFile):
        self.item = item
        self._chunks = item.chunks()
        self._chunk = memoryview(b"")  # the current chunk, read from _at on
        self._at = 0
        self.sha256 = hashlib.sha256()
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        parts = []
        wanted = n
        while wanted != 0:
            if self._at >= len(self._chunk):
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                self._chunk, self._at = memoryview(chunk), 0
                continue
            take = len(self._chunk) - self._at if wanted < 0 else min(wanted, len(self._chunk) - self._at)
            parts.append(self._chunk[self._at:self._at + take])
            self._at += take
            if wanted > 0:
                wanted -= take
        out = b"".join(parts)
        self.sha256.update(out)
        self.count += len(out)
        return out

    def finish(self) -> str:
        extra = self._at < len(self._chunk) or next(self._chunks, None)
        digest = self.sha256.hexdigest()
        if extra or self.count != self.item.size or digest != self.item.sha256:
            raise PackageContentError(
                f"Evidence item {self.item.item_id} ({self.item.file_name}) no longer matches "
                f"what was taken in (SHA-256 {self.item.sha256[:16]}…): the package was not "
                "built. Tell the LER on-call; the stored file must be examined.")
        return digest


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = mtime
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = mtime
    tar.addfile(info)


def manifest_line(digest: str, path: str) -> str:
    # BagIt 1.0 §2.1.3: CR, LF and % in a path are percent-encoded.
    encoded = path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"{digest}  {encoded}\n"


def write_bag(out: BinaryIO, contents: PackageContents, *, sign: Callable[[bytes], str],
              allowed_signers: str) -> None:
    """Write the whole bag as a PAX tar to ``out`` (a stream: nothing is sought back)."""
    tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
    tar.copybufsize = COPY_BUFFER  # tarfile's 16 KiB default costs a call per 16 KiB
    try:
        _write_members(tar, contents, sign=sign, allowed_signers=allowed_signers)
    except BaseException:
        # A failed build must not end its tar as if it were whole: drop it unclosed.
        tar.fileobj.closed = True
        tar.closed = True
        raise
    tar.close()


def _write_members(tar: tarfile.TarFile, contents: PackageContents, *,
                   sign: Callable[[bytes], str], allowed_signers: str) -> None:
    mtime = time.time()
    root = contents.label
    _add_dir(tar, root, mtime)
    _add_dir(tar, f"{root}/data", mtime)
    payload_bytes = 0
    for item in contents.files:
        _add_dir(tar, f"{root}/data/{item.item_id}", mtime)
        info = tarfile.TarInfo(f"{root}/{item.path}")
        info.size = item.size
        info.mtime = mtime
        info.mode = 0o644
        reader = _HashingReader(item)
        tar.addfile(info, reader)
        reader.finish()
        payload_bytes += item.size

    tags: dict[str, bytes] = {}
    tags["bagit.txt"] = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    info_lines = dict(contents.bag_info)
    info_lines["Payload-Oxum"] = f"{payload_bytes}.{len(contents.files)}"
    tags["bag-info.txt"] = "".join(
        f"{key}: {' '.join(str(value).split())}\n" for key, value in info_lines.items()
    ).encode()
    for algorithm in MANIFEST_ALGORITHMS:
        tags[f"manifest-{algorithm}.txt"] = "".join(
            manifest_line(getattr(item, algorithm), item.path) for item in contents.files
        ).encode()
    tags["case-manifest.json"] = json.dumps(contents.case_manifest, indent=2,
                                            ensure_ascii=False, sort_keys=True).encode()
    tags["custody/chain-of-custody.json"] = json.dumps(
        contents.custody, indent=2, ensure_ascii=False, sort_keys=True).encode()
    tags[f"report/{contents.report_name}"] = contents.report_pdf
    tagmanifest = "".join(manifest_line(hashlib.sha256(data).hexdigest(), name)
                          for name, data in tags.items()).encode()

    for directory in ("custody", "report", "signatures"):
        _add_dir(tar, f"{root}/{directory}", mtime)
    for name, data in tags.items():
        _add_bytes(tar, f"{root}/{name}", data, mtime)
    _add_bytes(tar, f"{root}/tagmanifest-sha256.txt", tagmanifest, mtime)
    _add_bytes(tar, f"{root}/signatures/tagmanifest-sha256.txt.sig",
               sign(tagmanifest).encode(), mtime)
    _add_bytes(tar, f"{root}/signatures/allowed_signers", allowed_signers.encode(), mtime)
