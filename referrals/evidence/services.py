"""Evidence: streamed in, hashed, stored encrypted once, and every handling recorded."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator
from datetime import timedelta
from typing import BinaryIO

import filetype
from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from referrals.audit.services import record_event
from referrals.cases.models import Case, Escalation
from referrals.cases.services import add_case_event, note_response
from referrals.core.blob_keys import forget_keys
from referrals.core.clock import now
from referrals.core.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from referrals.core.identity import Identity
from referrals.core.staging import stage_blob
from referrals.core.storage import PendingFile, StorageError, TooLarge, get_store
from referrals.evidence.models import CustodyEvent, EvidenceItem, StoredBlob
from referrals.evidence.policies import evidence_policy
from referrals.evidence.sensitive import mark_bytes
from referrals.extensions import db
from referrals.vocabulary.categories import DATA_CATEGORIES

log = logging.getLogger(__name__)

# Cases of these categories hold media that may be CSAM unless shown otherwise.
SENSITIVE_CATEGORIES = ("child_sexual_exploitation", "grooming")


def sniff_mime(head: bytes) -> str:
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    if not head:
        return "application/octet-stream"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "text/plain"
        except UnicodeDecodeError:
            pass
    return "application/octet-stream"


def safe_file_name(name: str | None) -> str:
    """A display/download name: no path, no control characters, bounded length."""
    name = unicodedata.normalize("NFKC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().lstrip(".")
    name = re.sub(r"[^\w.\- ()\[\]+@,]", "_", name)
    return name[:200] or "evidence.bin"


def _sensitive_case(case: Case) -> bool:
    """A sensitive category, or an escalation of one joined to this case: an escalation
    attaches to an open case whatever that case's category, and says what it is about."""
    if case.category in SENSITIVE_CATEGORIES:
        return True
    return db.session.scalar(select(Escalation.id).where(
        Escalation.case_id == case.id, Escalation.category.in_(SENSITIVE_CATEGORIES)).limit(1)
    ) is not None


def record_custody(actor: Identity, item: EvidenceItem, action: str, purpose: str) -> CustodyEvent:
    event = CustodyEvent(evidence_id=item.id, action=action, actor_id=actor.user_id,
                         actor_label=actor.label, occurred_at=now(), purpose=purpose[:500],
                         sha256=item.sha256)
    db.session.add(event)
    return event


def _seen_just_now(actor: Identity, item: EvidenceItem) -> bool:
    """The same person viewed the item within the view window: a reload, not a new look at
    the bytes, so not a new custody event. The first view always is one, so what NCMEC is
    told (``fileViewedByEsp``, read from "viewed" events by ncmec.reading) stays true."""
    window = current_app.config["REFERRALS_SETTINGS"].evidence_view_window_seconds
    if not window or actor.user_id is None:
        return False
    return db.session.scalar(select(CustodyEvent.id).where(
        CustodyEvent.evidence_id == item.id, CustodyEvent.action == "viewed",
        CustodyEvent.actor_id == actor.user_id,
        CustodyEvent.occurred_at >= now() - timedelta(seconds=window)).limit(1)) is not None


def item_owned_by(owner_column, owner_id: int, item_id: int, missing: str) -> EvidenceItem:
    """The item ``item_id`` if its owner (``EvidenceItem.case_id``, ``.request_id`` or
    ``.hold_id``) is ``owner_id``; an item of another owner is as missing as no item."""
    item = db.session.scalar(select(EvidenceItem).where(
        EvidenceItem.id == item_id, owner_column == owner_id))
    if item is None:
        raise NotFound(missing)
    return item


def get_item(case: Case, item_id: int) -> EvidenceItem:
    return item_owned_by(EvidenceItem.case_id, case.id, item_id,
                         "There is no such evidence item in this case.")


def _stage(stream: BinaryIO) -> PendingFile:
    """Hash, encrypt and write the stream before the transaction writes anything (nothing
    slow inside the audit lock): kept at commit, removed at rollback."""
    limit = current_app.config["REFERRALS_SETTINGS"].evidence_max_bytes
    try:
        staged = stage_blob(stream, max_bytes=limit)
    except TooLarge as error:
        raise InvalidInput(f"The file is larger than the limit of {limit:,} bytes.",
                           field="file") from error
    if staged.written.size == 0:
        staged.remove()
        raise InvalidInput("The file is empty.", field="file")
    return staged


def _record_blob(staged: PendingFile) -> StoredBlob:
    """The blob row for staged bytes: the one already stored with the same SHA-256 (the
    staged copy then goes), or a new one."""
    store, written = get_store(), staged.written
    existing = db.session.scalar(select(StoredBlob).where(StoredBlob.sha256 == written.sha256))
    if existing is not None:
        if store.exists(existing.storage_name):
            staged.unwanted()  # the same bytes are stored already; removed after the commit
        else:
            # The stored copy is gone (lost disk, restore from an old backup): keep this
            # one instead of deleting the only good copy and pointing at a missing file.
            log.warning("stored blob %s was missing; replaced by a new upload", existing.id)
            forget_keys([existing.storage_name])
            existing.storage_name, existing.key_id = written.name, written.key_id
            db.session.flush()
        return existing
    blob = StoredBlob(sha256=written.sha256, storage_name=written.name, key_id=written.key_id,
                      size=written.size, created_at=now())
    try:
        with db.session.begin_nested():
            db.session.add(blob)
            db.session.flush()
    except IntegrityError:
        staged.unwanted()
        blob = db.session.scalar(select(StoredBlob).where(StoredBlob.sha256 == written.sha256))
    return blob


# What an upload is when nobody says: staff upload screenshots and files people posted.
DEFAULT_UPLOAD_CATEGORY = "content"


def check_data_category(category: str | None) -> str:
    """The data category, or a plain refusal naming the choices."""
    if category not in DATA_CATEGORIES:
        raise InvalidInput("Choose the item's data category: "
                           + ", ".join(f"{key} ({label.lower()})"
                                       for key, label in DATA_CATEGORIES.items()) + ".",
                           field="data_category")
    return category


def _new_item(actor: Identity, staged: PendingFile, *, original_name: str | None,
              sensitive_reason: str | None, source_system: str, platform_content_id: str | None,
              url: str | None, description: str, data_category: str, **owner) -> EvidenceItem:
    """The item row for staged bytes, flushed. ``owner`` is exactly one of case_id,
    request_id, hold_id."""
    check_data_category(data_category)
    blob, written = _record_blob(staged), staged.written
    item = EvidenceItem(
        blob_id=blob.id, original_name=safe_file_name(original_name),
        mime_type=sniff_mime(written.head), size=written.size, md5=written.md5,
        sha1=written.sha1, sha256=written.sha256, captured_at=now(),
        captured_by_id=actor.user_id, captured_by_label=actor.label,
        source_system=(source_system or "upload")[:64],
        platform_content_id=(platform_content_id or None),
        url=(url or None), description=(description or "").strip(),
        data_category=data_category, **owner,
    )
    db.session.add(item)
    db.session.flush()
    if sensitive_reason:
        # May be abuse material: a property of the bytes (evidence.sensitive), so every
        # item with them, on any case, is hidden with this one.
        mark_bytes(actor, item.sha256, sensitive_reason)
    return item


def _refuse_if_purged(case: Case) -> None:
    if case.purged_at is not None:
        raise DomainError("This case was purged under the retention policy; nothing can be added.")


def add_evidence(
    actor: Identity,
    case: Case,
    stream: BinaryIO,
    *,
    original_name: str | None,
    may_be_csam: bool = False,
    source_system: str = "upload",
    platform_content_id: str | None = None,
    url: str | None = None,
    description: str = "",
    data_category: str = DEFAULT_UPLOAD_CATEGORY,
    purpose: str = "Uploaded to the case",
) -> EvidenceItem:
    """Stream a file into the case: one pass hashes (MD5, SHA-1, SHA-256) and encrypts it,
    before the transaction writes; then the short part records the item, custody and audit."""
    evidence_policy.require(actor, "add")
    if actor.scopes is not None and not actor.has_scope("evidence:write"):
        raise PermissionDenied("This token may not add evidence.")
    _refuse_if_purged(case)
    check_data_category(data_category)  # before any byte is written
    staged = _stage(stream)
    _refuse_if_purged(case)  # read again: the case may have been purged while the file came in
    item = _new_item(actor, staged, original_name=original_name,
                     sensitive_reason=("Marked as possibly abuse material when added."
                                       if may_be_csam else
                                       "Added to a case of a sensitive category."
                                       if _sensitive_case(case) else None),
                     source_system=source_system, platform_content_id=platform_content_id,
                     url=url, description=description, data_category=data_category,
                     case_id=case.id)
    at = item.captured_at
    record_custody(actor, item, "collected", purpose)
    case.updated_at = at
    note_response(case, actor, at)
    add_case_event(case, actor, "evidence",
              f"Evidence added: {item.original_name} ({item.mime_type}, {item.size:,} bytes, "
              f"SHA-256 {item.sha256[:16]}…).", at)
    record_event(actor, "evidence.collected", object_type="evidence", object_id=item.id,
                 after={"case": case.reference, "sha256": item.sha256, "size": item.size,
                        "mime_type": item.mime_type, "may_be_csam": item.may_be_csam,
                        "data_category": item.data_category})
    return item


def add_collected_evidence(actor: Identity, stream: BinaryIO, **fields) -> EvidenceItem:
    """Store what the platform connector returned and record it (``record_collected_evidence``
    takes the same keywords). Collecting several files: stage them all with
    ``stage_evidence`` first, then record them."""
    return record_collected_evidence(actor, _stage(stream), **fields)


def stage_evidence(stream: BinaryIO) -> PendingFile:
    """Store bytes for an item that ``record_collected_evidence`` will record; call it before
    the transaction's first write (several files: stage them all, then record them all)."""
    return _stage(stream)


def record_collected_evidence(
    actor: Identity,
    staged: PendingFile,
    *,
    request=None,
    hold=None,
    original_name: str,
    source_system: str,
    data_category: str,
    platform_content_id: str | None = None,
    url: str | None = None,
    description: str = "",
    may_be_csam: bool = False,
    purpose: str,
) -> EvidenceItem:
    """What the platform connector returned, owned by a disclosure request (collected for it)
    or a preservation hold (its snapshot), from staged bytes: row, custody, audit. Callers
    check who may collect."""
    if (request is None) == (hold is None):
        raise ValueError("collected evidence belongs to exactly one request or one hold")
    owner = {"request_id": request.id} if request is not None else {"hold_id": hold.id}
    item = _new_item(actor, staged, original_name=original_name,
                     sensitive_reason=("Marked as possibly abuse material by the platform when "
                                       "collected." if may_be_csam else None),
                     source_system=source_system, platform_content_id=platform_content_id,
                     url=url, description=description, data_category=data_category, **owner)
    record_custody(actor, item, "collected", purpose)
    record_event(actor, "evidence.collected", object_type="evidence", object_id=item.id,
                 after={"request": request.reference if request is not None else None,
                        "hold": hold.reference if hold is not None else None,
                        "sha256": item.sha256, "size": item.size,
                        "source_system": item.source_system,
                        "data_category": item.data_category})
    return item


def open_content(actor: Identity, item: EvidenceItem, *, action: str, purpose: str) -> Iterator[bytes]:
    """The item's bytes, after the clearance check; the handling is recorded and audited.

    Call it before the response is sent: the custody event and the audit event are
    written in the request's transaction, which commits before the bytes stream.
    """
    if not evidence_policy.can(actor, "read_bytes", item):
        if item.may_be_csam and not actor.cleared_for_csam:
            raise PermissionDenied(
                "This item may be child sexual abuse material. Only staff cleared to view "
                "such material can open it.")
        raise PermissionDenied("Your account cannot open evidence.")
    if item.destroyed_at is not None or item.blob is None:
        raise NotFound("This item's bytes were destroyed.")
    store = get_store()
    if not store.exists(item.blob.storage_name):
        raise NotFound("This item's stored file is missing. Tell the LER on-call.")
    custody = action != "viewed" or not _seen_just_now(actor, item)
    if custody:
        record_custody(actor, item, action, purpose)
    record_event(actor, f"evidence.{action}", object_type="evidence", object_id=item.id,
                 after={"sha256": item.sha256, "purpose": purpose,
                        **({} if custody else {"custody_event": "within the view window"})})
    # The bytes stream after the request has committed and closed its session:
    # take plain values now, touch no ORM object later.
    return _checked_stream(store.read(item.blob.storage_name), item.id)


def _checked_stream(chunks: Iterator[bytes], item_id: int) -> Iterator[bytes]:
    try:
        yield from chunks
    except StorageError:
        log.exception("evidence %s could not be read", item_id)
        raise


_ITEMS_FOR_CASE = (select(EvidenceItem).where(EvidenceItem.case_id == bindparam("case_id"))
                   .order_by(EvidenceItem.captured_at.desc(), EvidenceItem.id.desc()))


def items_for_case(case: Case) -> list[EvidenceItem]:
    # The statement is built once: on the case page, building it cost more than running it.
    return list(db.session.scalars(_ITEMS_FOR_CASE, {"case_id": case.id}))
