"""The two-person rule for whatever leaves the building: whoever prepared the decisions
cannot approve them, and whoever prepared or collected a production cannot release it.

One policy, asked the same way by the service (which refuses), the page (which offers the
button only to someone who may press it) and the template (which says why not). Each
feature says who took part in its own terms (``Participants``): a request's production
today, referrals and evidence packages later.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from referrals.core.errors import PermissionDenied
from referrals.core.identity import Identity

APPROVE = "approve"
RELEASE = "release"


@dataclass(frozen=True)
class Participants:
    """Who prepared the decisions and who collected what is to leave (user ids)."""

    prepared_by: frozenset[int] = frozenset()
    collected_by: frozenset[int] = frozenset()

    @classmethod
    def of(cls, prepared_by: Iterable[int | None] = (),
           collected_by: Iterable[int | None] = ()) -> Participants:
        return cls(frozenset(i for i in prepared_by if i is not None),
                   frozenset(i for i in collected_by if i is not None))


# Which earlier parts bar someone from each later step, and what they are told.
_BARRED = {
    APPROVE: (lambda p: p.prepared_by,
              "You prepared these decisions: another supervisor must approve them."),
    RELEASE: (lambda p: p.prepared_by | p.collected_by,
              "You prepared or collected this production: another supervisor must review "
              "and release it."),
}


def second_person_refusal(identity: Identity, step: str, participants: Participants) -> str | None:
    """Why ``identity`` may not take ``step`` (APPROVE or RELEASE) under the two-person
    rule, in words for them; None if they may."""
    barred, message = _BARRED[step]
    if identity.user_id is None or identity.user_id in barred(participants):
        return message
    return None


def require_second_person(identity: Identity, step: str, participants: Participants) -> None:
    refusal = second_person_refusal(identity, step, participants)
    if refusal:
        raise PermissionDenied(refusal)
