"""The officer scope: what an agency officer may see and name. Every lookup an officer makes
goes through here: opening a request, a hold or its letter, and the references typed into a
form (the request a follow-up follows, the preservation a renewal renews).

One rule: the requests of the officer's own agency that the officer submitted or was added
to (``RequestCollaborator``). Being in the same agency is not enough; colleagues see each
other's requests only when added. A hold is seen through its request: the preservation
request that placed it, or a renewal request that renewed it (the renewal's page shows the
hold it renewed, so its letter is there too).

Each question is answered as SQL (for queries: tenant scoping in the query, STYLE rule 7) and
per object (for something already loaded), like ``holds.scope`` answers "is this held?". The
tests check both against an oracle written from the rule above.

What is outside the scope answers exactly like a reference that does not exist: callers look
up with one scoped query and raise the same error for "not yours" as for "no such thing", so
both take the same path (same status, same message, same queries). Never load first and
check after.

This module knows only requests: holds (a feature above requests) pass their own column in.
"""

from __future__ import annotations

from sqlalchemy import and_, exists, false, or_, select
from sqlalchemy.orm import aliased

from referrals.core.identity import Identity
from referrals.extensions import db
from referrals.requests.models import DisclosureRequest, RequestCollaborator
from referrals.requests.rules import RENEWAL_REQUEST_TYPES


def is_officer(identity: Identity) -> bool:
    """An agency officer acting as themselves (only they have an officer scope)."""
    return identity.is_agency and identity.agency_id is not None and identity.user_id is not None


def officer_request_clause(identity: Identity, request=DisclosureRequest):
    """SQL condition over ``request`` (the model or an alias of it): the officer may see it.
    False for anyone who is not an agency officer."""
    if not is_officer(identity):
        return false()
    # correlate(None): the subqueries stand alone even inside a query over the same tables.
    shared = select(RequestCollaborator.request_id).where(
        RequestCollaborator.user_id == identity.user_id).correlate(None)
    return and_(request.agency_id == identity.agency_id,
                or_(request.submitted_by_id == identity.user_id, request.id.in_(shared)))


def officer_sees_request(identity: Identity, request: DisclosureRequest | None) -> bool:
    """Per object: the officer may see this loaded request."""
    if request is None or not is_officer(identity) or request.agency_id != identity.agency_id:
        return False
    return request.submitted_by_id == identity.user_id or any(
        c.user_id == identity.user_id for c in request.collaborators)


def officer_preservation_clause(identity: Identity, request_id_column):
    """SQL condition: the request in ``request_id_column`` is one whose preservation (hold)
    the officer may see: a request in the scope, or the preservation a renewal request in the
    scope renewed. Holds pass ``PreservationHold.request_id``."""
    if not is_officer(identity):
        return false()
    renewal = aliased(DisclosureRequest, name="scope_renewal")
    renewed = aliased(DisclosureRequest, name="scope_renewed")
    in_scope = select(DisclosureRequest.id).where(officer_request_clause(identity)).correlate(None)
    by_renewal = exists(
        select(renewal.id).join(renewed, and_(renewed.reference == renewal.related_reference,
                                              renewed.agency_id == renewal.agency_id))
        .where(renewed.id == request_id_column,
               renewal.request_type.in_(RENEWAL_REQUEST_TYPES),
               officer_request_clause(identity, renewal)))
    return or_(request_id_column.in_(in_scope), by_renewal)


def officer_sees_preservation_of(identity: Identity, request: DisclosureRequest | None) -> bool:
    """Per object: the officer may see the hold this loaded request placed."""
    if request is None or not is_officer(identity):
        return False
    if officer_sees_request(identity, request):
        return True
    renewals = db.session.scalars(select(DisclosureRequest).where(
        DisclosureRequest.related_reference == request.reference,
        DisclosureRequest.agency_id == request.agency_id,
        DisclosureRequest.request_type.in_(RENEWAL_REQUEST_TYPES)))
    return any(officer_sees_request(identity, renewal) for renewal in renewals)
