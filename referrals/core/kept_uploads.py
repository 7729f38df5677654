"""Files a refused form carried, kept server-side for a short while (issue 11).

Someone who attached a PDF and then typed a date wrongly must not have to find and attach it
again. When a form comes back with its errors, each attached file that looks like what the
form takes is written to the encrypted store (``BlobStore.write``: no row names it, so if
nobody uses it the orphan sweep removes it once its grace period is over) and named only in
the person's own session: a random token per file with its name, size and SHA-256. The form
shows "attached: name.pdf" and posts the tokens back. A token from another session, or older
than ``MAX_AGE``, is simply not there. Once the form goes through, the bytes are read back as
if uploaded again, and the kept copy is removed after the commit.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import BinaryIO

from flask import session

from referrals.core.blob_keys import add_key_row, forget_keys
from referrals.core.bookkeeping import note
from referrals.core.clock import now
from referrals.core.storage import StorageError, get_store
from referrals.core.transaction import on_commit, outside_transaction

SESSION_KEY = "kept_uploads"
MAX_AGE = timedelta(hours=1)
MAX_KEPT = 10


@dataclass(frozen=True)
class KeptUpload:
    token: str
    name: str
    size: int
    sha256: str
    blob: str
    at: str  # ISO instant it was kept


def _all() -> dict[str, dict]:
    kept = session.get(SESSION_KEY) or {}
    oldest = (now() - MAX_AGE).isoformat()
    return {token: entry for token, entry in kept.items() if entry.get("at", "") >= oldest}


def keep_uploads(files: list[tuple[str, BinaryIO]], *, max_bytes: int,
                 starts_with: bytes = b"") -> list[KeptUpload]:
    """Keep each file that begins with ``starts_with`` and is at most ``max_bytes`` (the form
    refuses the rest in its own words; keeping them would only refuse them again)."""
    kept = _all()
    added = []
    for name, stream in files:
        data = stream.read(max_bytes + 1)
        if len(data) > max_bytes or not data.startswith(starts_with) or len(kept) >= MAX_KEPT:
            continue
        try:
            written = outside_transaction(get_store().write, io.BytesIO(data))
        except StorageError:
            continue  # not kept: the person attaches it again, as before
        # Without its key row the kept copy is unreadable: the page must not offer it then.
        note(add_key_row, written.name, written.master_key_id, written.wrapped_key,
             required=True)
        upload = KeptUpload(secrets.token_urlsafe(16), name, written.size, written.sha256,
                            written.name, now().isoformat())
        kept[upload.token] = asdict(upload)
        added.append(upload)
    session[SESSION_KEY] = kept
    return added


def kept_uploads(tokens: list[str], dropped: list[str] = ()) -> list[KeptUpload]:
    """The kept files these tokens name in this session (those ``dropped`` forgotten)."""
    stored = session.get(SESSION_KEY) or {}
    kept = _all()
    for token in dropped:
        kept.pop(token, None)
    if kept != stored:  # only then: a page view must not rewrite the session cookie
        session[SESSION_KEY] = kept
    return [KeptUpload(**kept[t]) for t in dict.fromkeys(tokens) if t in kept]


def open_kept(uploads: list[KeptUpload]) -> list[tuple[str, BinaryIO]]:
    """The kept files as uploads again (name, stream)."""
    store = get_store()
    return [(u.name, io.BytesIO(b"".join(store.read(u.blob)))) for u in uploads]


def forget_kept(uploads: list[KeptUpload]) -> None:
    """Used: out of the session now, the kept bytes removed once the transaction commits."""
    kept = _all()
    forget_keys([upload.blob for upload in uploads])  # in the transaction that used them
    for upload in uploads:
        kept.pop(upload.token, None)
        on_commit(get_store().delete, upload.blob)
    session[SESSION_KEY] = kept
