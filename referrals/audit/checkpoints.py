"""Signed checkpoints of the audit chain, kept where the database's writers cannot reach.

The chain's hashes are unkeyed: whoever can write to the database can cut events off the end
and move the head back, or rewrite every event from one onwards and recompute every hash, and
the chain still checks. A checkpoint is the chain's head (sequence number and hash, and when)
signed with the platform's key (``core.signing``) and written outside the database: to a
directory (best another disk or an append-only mount) and/or posted to a webhook.
``audit verify`` checks the chain against every checkpoint in the store: each event a
checkpoint signed must still be there with the hash it had then.

A checkpoint file is one JSON object: ``checkpoint`` (the exact text that was signed),
``signature`` (an SSH signature in the namespace ``referrals-audit-checkpoint``) and, for
convenience only, ``public_key`` — verification uses the configured key, never that one.
The webhook receives the same object.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from referrals.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from referrals.audit.services import HEAD_ID, ChainReport, record_event, verify_chain
from referrals.core.clock import as_utc, now
from referrals.core.errors import DomainError
from referrals.core.identity import Identity
from referrals.core import outbox
from referrals.core.http import http_client
from referrals.core.signing import BadSignature, PlatformSigner, get_signer
from referrals.core.timefmt import format_instant
from referrals.extensions import db, jobs

NAMESPACE = "referrals-audit-checkpoint"
FORMAT = "referrals-audit-checkpoint/1"
SUFFIX = ".json"
WRITTEN = "audit.checkpoint_written"
MAX_FILE_BYTES = 64 * 1024  # a checkpoint is under 1 KiB; anything far larger is not one


class CheckpointError(DomainError):
    """No checkpoint could be written or read; the message says what and where."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    chain_hash: str
    signed_at: datetime
    key: str  # fingerprint of the key that signed it
    origin: str  # the installation's base URL, for receivers that collect several
    name: str  # file name

    @property
    def described(self) -> str:
        return f"{self.name} (event #{self.seq}, signed {format_instant(self.signed_at, seconds=True)})"


# --- sealing and opening ------------------------------------------------------------------


def checkpoint_name(seq: int, signed_at: datetime) -> str:
    # Sorts by sequence, then time; never the same twice for one installation.
    return f"checkpoint-{seq:012d}-{as_utc(signed_at):%Y%m%dT%H%M%S%fZ}{SUFFIX}"


def seal(signer: PlatformSigner, seq: int, chain_hash: str, signed_at: datetime,
         origin: str) -> tuple[Checkpoint, bytes]:
    """The checkpoint and its file's bytes, signed."""
    document = {
        "format": FORMAT,
        "seq": seq,
        "chain_hash": chain_hash,
        "signed_at": as_utc(signed_at).isoformat(timespec="microseconds"),
        "key": signer.fingerprint,
        "origin": origin,
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    envelope = {
        "checkpoint": text,
        "signature": signer.sign(text.encode(), NAMESPACE),
        "public_key": signer.public_key_openssh,
    }
    checkpoint = Checkpoint(seq, chain_hash, as_utc(signed_at), signer.fingerprint, origin,
                            checkpoint_name(seq, signed_at))
    return checkpoint, (json.dumps(envelope, indent=2) + "\n").encode()


def open_checkpoint(signer: PlatformSigner, data: bytes, name: str) -> Checkpoint:
    """Check the signature with the platform's key, then read what it signed."""
    try:
        envelope = json.loads(data)
        text, signature = envelope["checkpoint"], envelope["signature"]
        if not isinstance(text, str) or not isinstance(signature, str):
            raise TypeError
    except (ValueError, TypeError, KeyError):
        raise CheckpointError(f"The checkpoint {name} is not a checkpoint file "
                              "(unreadable JSON, or no checkpoint and signature).") from None
    try:
        verified = signer.verify(text.encode(), signature, NAMESPACE)
    except BadSignature as error:
        raise CheckpointError(f"The checkpoint {name} does not verify with the platform's "
                              f"signing key: {error}.") from None
    try:
        document = json.loads(text)
        if document["format"] != FORMAT:
            raise ValueError
        seq, chain_hash = int(document["seq"]), str(document["chain_hash"])
        signed_at = as_utc(datetime.fromisoformat(document["signed_at"]))
        if seq < 0 or len(chain_hash) != 64:
            raise ValueError
    except (ValueError, TypeError, KeyError):
        raise CheckpointError(f"The checkpoint {name} is signed but is not in the format "
                              f"{FORMAT}.") from None
    return Checkpoint(seq, chain_hash, signed_at, verified.fingerprint,
                      str(document.get("origin", "")), name)


# --- the directory store ------------------------------------------------------------------


class CheckpointDirectory:
    """Checkpoint files in one directory; each written once (temporary name, fsync, rename)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def write(self, name: str, data: bytes) -> Path:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            final = self.root / name
            temporary = self.root / f".{name}.partial"
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if final.exists():
                temporary.unlink()
                raise FileExistsError(f"{final} exists")
            os.replace(temporary, final)
            directory = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as error:
            raise CheckpointError(f"The checkpoint could not be written to {self.root}: "
                                  f"{error.strerror or error}.") from None
        return final

    def read_all(self, *, last_only: bool = False) -> list[tuple[str, bytes]]:
        """Every checkpoint file's name and bytes, in name order (sequence, then time), or
        only the last; a store that cannot be read is an error."""
        if not self.root.is_dir():
            raise CheckpointError(f"The checkpoint store {self.root} does not exist or is not "
                                  "a directory, so the audit chain cannot be checked against "
                                  "its signed checkpoints.")
        try:
            paths = sorted(path for path in self.root.iterdir()
                           if path.name.endswith(SUFFIX) and not path.name.startswith("."))
            found = []
            for path in paths[-1:] if last_only else paths:
                with path.open("rb") as handle:
                    found.append((path.name, handle.read(MAX_FILE_BYTES + 1)))
        except OSError as error:
            raise CheckpointError(f"The checkpoint store {self.root} cannot be read: "
                                  f"{error.strerror or error}.") from None
        return found


def read_checkpoints(signer: PlatformSigner, source: Path) -> list[Checkpoint]:
    """Every checkpoint in a directory (or one file), each checked; oldest first."""
    if source.is_file():
        try:
            files = [(source.name, source.read_bytes()[:MAX_FILE_BYTES + 1])]
        except OSError as error:
            raise CheckpointError(f"The checkpoint {source} cannot be read: "
                                  f"{error.strerror or error}.") from None
    else:
        files = CheckpointDirectory(source).read_all()
    checkpoints = [open_checkpoint(signer, data, name) for name, data in files]
    return sorted(checkpoints, key=lambda c: (c.seq, c.signed_at))


def _settings():
    return current_app.config["REFERRALS_SETTINGS"]


# --- writing one ----------------------------------------------------------------------------


def _hash_at(seq: int) -> str | None:
    if seq == 0:
        return GENESIS_HASH
    return db.session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))


def _refuse_to_bless(head_seq: int, head_hash: str, previous: Checkpoint | None) -> None:
    """A checkpoint must never sign a chain that is already known to be wrong: after a cut
    tail, signing the new head would make the cut pass every later check."""
    if _hash_at(head_seq) != head_hash:
        raise CheckpointError(
            f"No checkpoint written: the chain's head records event #{head_seq}, but the "
            "stored event with that number does not match it. Run `flask --app referrals "
            "audit verify` and investigate before signing anything.")
    if previous is None:
        return
    if head_seq < previous.seq or _hash_at(previous.seq) != previous.chain_hash:
        raise CheckpointError(
            f"No checkpoint written: the chain no longer holds event #{previous.seq} as the "
            f"checkpoint {previous.name} signed it (events were removed or rewritten). Run "
            "`flask --app referrals audit verify` and investigate before signing anything.")


@dataclass(frozen=True)
class Written:
    checkpoint: Checkpoint
    path: Path | None
    webhook: str | None


def _nothing_since(previous: Checkpoint | None, head_seq: int) -> bool:
    """True when the only event after the latest checkpoint is its own audit event."""
    if previous is None or head_seq != previous.seq + 1:
        return False
    last = db.session.execute(select(AuditEvent.action, AuditEvent.object_id)
                              .where(AuditEvent.seq == head_seq)).first()
    return last is not None and tuple(last) == (WRITTEN, str(previous.seq))


def write_checkpoint(actor: Identity, *, unless_unchanged: bool = False) -> Written | None:
    """Sign the chain's committed head and write it outside the database; audited.

    The file is written before the audit event (no file I/O while the chain head is held);
    the webhook is posted by a job once the audit event has committed. With
    ``unless_unchanged``, nothing is written (None) when nothing but the latest checkpoint's
    own audit event came after it (a demo seed run twice).
    """
    settings = _settings()
    directory, webhook = settings.audit_checkpoint_dir, settings.audit_checkpoint_webhook_url
    if directory is None and webhook is None:
        raise CheckpointError("No checkpoint store is configured: set "
                              "REFERRALS_AUDIT_CHECKPOINT_DIR or "
                              "REFERRALS_AUDIT_CHECKPOINT_WEBHOOK_URL.")
    signer = get_signer()
    head = db.session.execute(
        select(AuditChainHead.seq, AuditChainHead.last_hash).where(AuditChainHead.id == HEAD_ID)
    ).first()
    head_seq, head_hash = (int(head.seq), head.last_hash) if head else (0, GENESIS_HASH)
    previous = None
    if directory is not None and directory.is_dir():
        # The newest only (names sort by sequence): the store grows by one file an hour.
        newest = CheckpointDirectory(directory).read_all(last_only=True)
        previous = open_checkpoint(signer, newest[0][1], newest[0][0]) if newest else None
    _refuse_to_bless(head_seq, head_hash, previous)
    if unless_unchanged and _nothing_since(previous, head_seq):
        return None

    checkpoint, data = seal(signer, head_seq, head_hash, now(), settings.base_url)
    path = CheckpointDirectory(directory).write(checkpoint.name, data) if directory else None
    record_event(
        actor, WRITTEN, object_type="audit_checkpoint", object_id=head_seq,
        after={"seq": head_seq, "chain_hash": head_hash, "signed_at": checkpoint.signed_at,
               "key": checkpoint.key, "file": checkpoint.name if path else None,
               "webhook": bool(webhook)},
    )
    if webhook:
        key = f"audit.checkpoint:{checkpoint.name}"
        outbox.enqueue(post_checkpoint, webhook, json.loads(data), key, key=key)
    return Written(checkpoint, path, webhook)


@jobs.task()
def post_checkpoint(url: str, checkpoint: dict, key: str) -> None:
    """Post a signed checkpoint to the webhook, after the commit that recorded it (an outbox
    job: tried again with backoff until the receiver has it; ``key`` lets it drop a repeat)."""
    with http_client() as client:
        client.request("POST", url, json=checkpoint, idempotency_key=key)


# --- checking the chain against them ------------------------------------------------------


@dataclass(frozen=True)
class TrailReport:
    ok: bool
    checked: int  # events
    checkpoints: int
    latest: Checkpoint | None = None
    problem: str = ""
    bad_seq: int | None = None
    bad_id: int | None = None
    note: str = ""


def verify_trail(source: Path | None = None, *,
                 progress: Callable[[int], None] | None = None) -> TrailReport:
    """The chain end to end, and against every signed checkpoint in ``source`` (a file or a
    directory; the configured directory by default). No store, an unreadable store, a
    checkpoint that does not verify, a chain without a checkpoint: each is a failure.
    ``progress(seq)`` is told how far the walk got (see ``verify_chain``)."""
    signer = get_signer()
    source = source or _settings().audit_checkpoint_dir
    if source is None:
        return TrailReport(False, 0, 0, problem=(
            "there is no checkpoint store to check against (REFERRALS_AUDIT_CHECKPOINT_DIR is "
            "not set): pass a checkpoint the webhook received with --checkpoint FILE"))
    try:
        checkpoints = read_checkpoints(signer, Path(source))
    except CheckpointError as error:
        return TrailReport(False, 0, 0, problem=error.message.rstrip("."))
    signed = {c.seq: c.chain_hash for c in checkpoints if c.seq > 0}
    chain: ChainReport = verify_chain(signed, progress=progress)
    latest = checkpoints[-1] if checkpoints else None
    if not chain.ok:
        reason = chain.reason
        named = [c for c in checkpoints if c.seq == chain.bad_seq]
        if named and "signed checkpoint" in reason:
            reason += f" (checkpoint {named[-1].described})"
        return TrailReport(False, chain.checked, len(checkpoints), latest, reason,
                           chain.bad_seq, chain.bad_id)
    if latest is None:
        if chain.checked == 0:
            return TrailReport(True, 0, 0, note="The chain is empty and has no checkpoint yet.")
        return TrailReport(False, chain.checked, 0, problem=(
            f"there is no signed checkpoint yet in {source}, so a cut or rewritten end of the "
            "chain would not show: write one with `flask --app referrals audit checkpoint`"),
            bad_seq=None)
    if latest.seq > chain.checked:
        return TrailReport(False, chain.checked, len(checkpoints), latest, (
            f"the chain ends at event #{chain.checked}, but the checkpoint {latest.described} "
            f"signed event #{latest.seq}: events at the end were removed and the head moved "
            "back"), bad_seq=chain.checked + 1)
    after = chain.checked - latest.seq
    return TrailReport(True, chain.checked, len(checkpoints), latest, note=(
        f"It holds every signed checkpoint ({len(checkpoints)}; the latest is "
        f"{latest.described}). {after} event(s) after it are covered by the chain's own "
        "hashes only, until the next checkpoint."))
