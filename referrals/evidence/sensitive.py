"""Whether bytes may be child sexual abuse material: a property of their SHA-256.

18 U.S.C. 2258B(c) asks us to keep the number of people with access to such media to a
minimum. The answer is kept once per SHA-256 (``SensitiveMedia``), so flagging one item
hides every item with the same bytes, on every case, request and hold, at once, and an item
stored later with those bytes is hidden from its first moment. Flagging protects and anyone
who works evidence may do it; removing a flag exposes, so only a supervisor cleared for such
material may, with a reason. Both are audited.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from referrals.audit.services import record_event
from referrals.core.clock import now
from referrals.core.errors import DomainError, PermissionDenied
from referrals.core.identity import Identity
from referrals.core.inputs import required_text
from referrals.core.policy import Policy, has_role
from referrals.evidence.models import EvidenceItem, SensitiveMedia
from referrals.extensions import db



def _cleared_supervisor(identity: Identity, *_args) -> bool:
    return (identity.is_staff and identity.has_role("supervisor") and identity.cleared_for_csam
            and identity.scopes is None)


class SensitiveMediaPolicy(Policy):
    rules = {
        "flag": has_role("agent", "supervisor"),
        "unflag": _cleared_supervisor,
    }


sensitive_policy = SensitiveMediaPolicy()


def is_flagged(sha256: str) -> bool:
    return db.session.get(SensitiveMedia, sha256) is not None


def items_with_bytes(sha256: str) -> int:
    return db.session.scalar(select(func.count()).select_from(EvidenceItem)
                             .where(EvidenceItem.sha256 == sha256)) or 0


def _refresh_loaded_items(sha256: str) -> None:
    """Items this session already loaded read the flag again (``bytes_flagged`` is loaded
    with the row): the page answered after a flag must not show the old state."""
    for item in list(db.session.identity_map.values()):
        if isinstance(item, EvidenceItem) and item.sha256 == sha256:
            db.session.expire(item, ["bytes_flagged"])


def mark_bytes(actor: Identity, sha256: str, reason: str) -> bool:
    """The bytes are flagged (a no-op when they are already): True when this call flagged
    them. For intake (an item arriving flagged, or on a sensitive case); ``flag_media`` is
    the person's decision on a stored item. Safe against a concurrent flag of the same
    bytes (the SHA-256 is the primary key)."""
    if is_flagged(sha256):
        return False
    try:
        with db.session.begin_nested():
            db.session.add(SensitiveMedia(sha256=sha256, flagged_at=now(),
                                          flagged_by_id=actor.user_id,
                                          flagged_by_label=actor.label, reason=reason))
            db.session.flush()
    except IntegrityError:
        return False  # flagged by someone else a moment ago: the same outcome
    _refresh_loaded_items(sha256)
    return True


def flag_media(actor: Identity, item: EvidenceItem, reason: str) -> int:
    """Flag the item's bytes as possibly abuse material: every item with them is hidden from
    uncleared staff from now on. Returns how many items carry the bytes."""
    sensitive_policy.require(actor, "flag")
    reason = required_text(reason, "reason", "Say why these bytes may be abuse material.")
    if is_flagged(item.sha256):
        raise DomainError("These bytes are already flagged: every item with them is shown "
                          "only to cleared staff.")
    mark_bytes(actor, item.sha256, reason)
    count = items_with_bytes(item.sha256)
    record_event(actor, "evidence.media_flagged", object_type="evidence", object_id=item.id,
                 after={"sha256": item.sha256, "items_with_these_bytes": count,
                        "reason": reason})
    return count


def unflag_media(actor: Identity, item: EvidenceItem, reason: str) -> int:
    """A cleared supervisor decided the item's bytes are not abuse material: every item with
    them becomes visible to uncleared staff. Returns how many items carry the bytes."""
    if not sensitive_policy.can(actor, "unflag"):
        raise PermissionDenied("Only a supervisor cleared to view such material can remove "
                               "the flag.")
    sha256 = item.sha256
    reason = required_text(reason, "reason",
                           "Say why these bytes are not abuse material (what you saw).")
    flag = db.session.get(SensitiveMedia, sha256)
    if flag is None:
        raise DomainError("These bytes are not flagged.")
    before = {"sha256": sha256, "flagged_at": flag.flagged_at.isoformat(),
              "flagged_by": flag.flagged_by_label, "reason": flag.reason}
    db.session.delete(flag)
    db.session.flush()
    _refresh_loaded_items(sha256)
    count = items_with_bytes(sha256)
    record_event(actor, "evidence.media_unflagged", object_type="evidence", object_id=item.id,
                 before=before, after={"items_with_these_bytes": count, "reason": reason})
    return count
