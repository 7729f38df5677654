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
# tarfile copies a member in reads of this size; the evidence store's plaintext chunks are
# as large, so each read hands a chunk on as it came, with no copy.
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


@dataclass
class BagProgress:
    """How far the payload got: moved on by the thread that writes the bag, read (a snapshot
    now and then) by the one that reports progress. Whole-attribute updates only."""

    files: int
    total_bytes: int
    file_number: int = 0  # 1-based; 0 before the first file
    file_name: str = ""
    done_bytes: int = 0

    def text(self) -> str:
        """Which file, in words (the page shows the bytes beside it)."""
        where = (f"file {self.file_number} of {self.files}, {self.file_name}"
                 if self.file_number else f"{self.files} file(s)")
        return f"Encrypting {where}; each file is checked against its intake hash."


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
    exactly ``size`` bytes with the intake SHA-256 came out. A read of a whole chunk (the
    usual case: the store's chunks are COPY_BUFFER long) hands that chunk on uncopied."""

    def __init__(self, item: PackageFile, progress: BagProgress | None = None):
        self.item = item
        self.progress = progress
        self._chunks = item.chunks()
        self._chunk = memoryview(b"")  # the current chunk, read from _at on
        self._at = 0
        self.sha256 = hashlib.sha256()
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        if self._at >= len(self._chunk):
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            if n == len(chunk):
                return self._took(chunk)
            self._chunk, self._at = memoryview(chunk), 0
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
        return self._took(b"".join(parts))

    def _took(self, data: bytes) -> bytes:
        self.sha256.update(data)  # hashlib lets other threads run while it hashes
        self.count += len(data)
        if self.progress is not None:
            self.progress.done_bytes += len(data)
        return data

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


class _Position:
    """What tarfile needs of its output besides ``write``: where it is (it asks once)."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.position = 0

    def write(self, data) -> int:
        self.out.write(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position


def write_bag(out: BinaryIO, contents: PackageContents, *, sign: Callable[[bytes], str],
              allowed_signers: str, progress: BagProgress | None = None) -> None:
    """Write the whole bag as a PAX tar to ``out`` (a stream: nothing is sought back).

    tarfile's plain "w" mode, not its "w|" stream mode: the stream mode re-buffers every
    write in 10 KiB records by slicing its buffer, which copied each 1 MiB chunk about fifty
    times over (1.7 CPU s per GiB, all of it holding the GIL). "w" writes each piece to
    ``out`` as it is and asks only where it is. A failed build does not close the tar, so its stream never
    ends as if it were whole."""
    tar = tarfile.open(fileobj=_Position(out), mode="w", format=tarfile.PAX_FORMAT)
    tar.copybufsize = COPY_BUFFER
    _write_members(tar, contents, sign=sign, allowed_signers=allowed_signers,
                   progress=progress)
    tar.close()


def _write_members(tar: tarfile.TarFile, contents: PackageContents, *,
                   sign: Callable[[bytes], str], allowed_signers: str,
                   progress: BagProgress | None) -> None:
    mtime = time.time()
    root = contents.label
    _add_dir(tar, root, mtime)
    _add_dir(tar, f"{root}/data", mtime)
    payload_bytes = 0
    for number, item in enumerate(contents.files, start=1):
        if progress is not None:
            progress.file_number, progress.file_name = number, item.file_name
        _add_dir(tar, f"{root}/data/{item.item_id}", mtime)
        info = tarfile.TarInfo(f"{root}/{item.path}")
        info.size = item.size
        info.mtime = mtime
        info.mode = 0o644
        reader = _HashingReader(item, progress)
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
