"""What preservation holds do in a request's life, without requests importing holds.

Holds sit above requests: a preservation request places its hold at intake, a renewal
renews one, a withdrawal is noted on the hold, and a request's pages show its hold. Requests
call the functions below; ``referrals.holds`` registers them (``register``) when it is
imported. With nothing registered (a unit test of requests alone), a request places no hold
and names its related request by the request's own reference only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select

from referrals.core.errors import InvalidInput
from referrals.core.identity import Identity
from referrals.extensions import db
from referrals.requests.models import DisclosureRequest
from referrals.requests.scope import officer_request_clause


def officer_request_reference(actor: Identity, reference: str, *, or_ids: Any = None) -> str:
    """The reference of a request in the officer scope (``requests.scope``) named by
    ``reference`` (or whose id is in ``or_ids``, a subquery: the request of a hold named by
    the hold's reference). One outside the scope is refused exactly like one that does not
    exist."""
    named = DisclosureRequest.reference == reference
    found = db.session.scalar(select(DisclosureRequest.reference).where(
        officer_request_clause(actor),
        or_(named, DisclosureRequest.id.in_(or_ids)) if or_ids is not None else named))
    if found is None:
        raise InvalidInput(f"{reference[:24]} is not one of your requests (those you submitted "
                           "or were added to).", field="related_reference")
    return found


def _related(actor: Identity, request_type: str, reference: str | None) -> tuple[str | None, Any]:
    reference = (reference or "").strip().upper()
    return (officer_request_reference(actor, reference) if reference else None), None


@dataclass(frozen=True)
class PreservationHooks:
    # At intake, before anything is stored: (the related request's reference, what a
    # renewal renews or None). Refuses with InvalidInput.
    related: Callable[[Identity, str, str | None], tuple[str | None, Any]] = _related
    # Warnings for a renewal that names accounts its hold does not hold.
    renewal_warnings: Callable[[Any, Iterable[tuple[str, str]]], list[str]] = \
        lambda renewing, targets: []
    # After the request is stored: place its hold, or renew ``renewing``.
    submitted: Callable[[Identity, DisclosureRequest, Any], None] = \
        lambda actor, request, renewing: None
    # After an officer withdrew the request.
    withdrawn: Callable[[Identity, DisclosureRequest], None] = lambda actor, request: None
    # The request's holds, for the staff page.
    holds_of: Callable[[DisclosureRequest], list] = lambda request: []
    # The hold an agency sees on its request (plain values), or None.
    portal_hold: Callable[[DisclosureRequest], dict | None] = lambda request: None


_registered: list[PreservationHooks] = []


def register(hooks: PreservationHooks) -> None:
    _registered[:] = [hooks]


def hooks() -> PreservationHooks:
    return _registered[0] if _registered else PreservationHooks()
