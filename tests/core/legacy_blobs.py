"""Blobs as the code before envelope encryption wrote them (``RFB1``: the master key, named by
its id in the header, encrypted the chunks directly), for the tests that read or convert them.
The bytes are exactly those of the old ``BlobStore.write``: same header, nonces and additional
data (``core.sealing`` was not changed)."""

from __future__ import annotations

import io
import secrets
import struct
import uuid
from pathlib import Path

from referrals.core.sealing import seal_stream


def write_legacy_blob(root: Path, key_id: int, key: bytes, data: bytes) -> str:
    name = uuid.uuid4().hex
    path = Path(root) / name[:2] / f"{name}.blob"
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = secrets.token_bytes(8)
    header = b"RFB1" + struct.pack(">I", key_id) + prefix
    with open(path, "wb") as out:
        out.write(header)
        seal_stream(io.BytesIO(data), out, key=key, header=header, prefix=prefix)
    return name
