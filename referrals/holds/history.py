"""A hold's own history: the lines staff read on the hold page."""

from __future__ import annotations

from datetime import datetime

from referrals.accounts.models import User
from referrals.core.clock import now
from referrals.core.identity import Identity
from referrals.extensions import db
from referrals.holds.models import HoldEvent, PreservationHold


def actor_name(actor: Identity) -> str:
    """How the hold's history names who acted: a person's name (with the agency for an
    officer), or the job's label."""
    if actor.user_id is not None:
        user = db.session.get(User, actor.user_id)
        if user is not None:
            if actor.is_agency and user.agency is not None:
                return f"{user.display_name} ({user.agency.name})"
            return user.display_name
    return actor.label


def add_hold_event(hold: PreservationHold, actor: Identity, kind: str, body: str,
                   at: datetime | None = None) -> HoldEvent:
    """A line in the hold's own history (staff read it on the hold page)."""
    event = HoldEvent(kind=kind, body=body, actor_label=actor_name(actor)[:255],
                      occurred_at=at or now())
    hold.events.append(event)
    return event
