"""What holds do in a request's life: requests sit below holds and call these through
``referrals.requests.preservation`` (the app factory registers ``HOOKS``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from referrals.core.identity import Identity
from referrals.extensions import db
from referrals.holds.models import PreservationHold
from referrals.holds.reading import hold_for_request
from referrals.holds.rules import HOLD_KIND_FOR_REQUEST_TYPE
from referrals.holds.services import (hold_to_renew, note_request_withdrawn,
                                      place_hold_for_request, renew_hold, renewal_warnings)
from referrals.holds.standing import portal_fields
from referrals.requests.models import DisclosureRequest
from referrals.requests.preservation import PreservationHooks, officer_request_reference
from referrals.requests.rules import RENEWAL_REQUEST_TYPES


def related_request(actor: Identity, request_type: str,
                    reference: str | None) -> tuple[str | None, PreservationHold | None]:
    """(the earlier request's reference, the hold a renewal renews). The earlier request is
    named by its reference or its hold's, and must be in the officer scope
    (``requests.scope``: submitted by the officer or shared with them); one outside it is
    refused exactly like one that does not exist. A renewal must name a preservation that can
    still be renewed (``holds.services.hold_to_renew``)."""
    reference = (reference or "").strip().upper()
    if request_type in RENEWAL_REQUEST_TYPES:
        hold = hold_to_renew(actor, reference)
        return hold.request.reference, hold
    if not reference:
        return None, None
    held = select(PreservationHold.request_id).where(PreservationHold.reference == reference)
    return officer_request_reference(actor, reference, or_ids=held), None


def request_submitted(actor: Identity, request: DisclosureRequest, renewing: Any) -> None:
    """A preservation request places its hold; a renewal renews the hold it named."""
    if request.request_type in HOLD_KIND_FOR_REQUEST_TYPE:
        place_hold_for_request(actor, request)
    elif renewing is not None:
        renew_hold(actor, renewing, renewal_request=request)
        # The renewal is answered by the renewal itself: it is due when the hold it renewed
        # is (both counted in the one zone of the renewed request).
        request.deadline_at = renewing.expires_at


def holds_of(request: DisclosureRequest) -> list[PreservationHold]:
    return list(db.session.scalars(select(PreservationHold)
                                   .where(PreservationHold.request_id == request.id)))


def portal_hold(request: DisclosureRequest) -> dict | None:
    hold = hold_for_request(request)
    return portal_fields(hold) if hold is not None else None


HOOKS = PreservationHooks(related=related_request, renewal_warnings=renewal_warnings,
                          submitted=request_submitted, withdrawn=note_request_withdrawn,
                          holds_of=holds_of, portal_hold=portal_hold)
