"""Preservation holds: placing them, and everything that moves their clock or ends them.

Each service takes the acting identity, checks the policy, refuses plainly what the law or
the hold's state does not allow, flushes, adds a ``HoldEvent`` (the hold's own history) and
writes the audit event in the same transaction. Nothing here commits.

Where holds come from:

- a preservation request from an agency (``place_hold_for_request``, called at intake for
  the request types in ``rules.HOLD_KIND_FOR_REQUEST_TYPE``, of the kind
  ``rules.hold_kind_for_request`` gives for the agency that sent it): its targets, data categories
  and dates become the hold's scope, its receipt starts the clock;
- a finished NCMEC CyberTipline report (``place_ncmec_hold``): one year from the report's
  completion;
- staff, from a case, as an internal legal hold (``place_internal_hold``): until released,
  reviewed every 180 days.

Each hold gets a snapshot of its scope from the platform, taken by a background job after
the commit (``referrals.holds.snapshot``).

Owner: the staff member who placed it; for a hold placed by an agency's request, nobody
until a staff member is named, and meanwhile the request's assignee (``owner_of``), so
assigning the request is enough and nothing has to be kept in step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import or_, select, text, update

from referrals.audit.services import record_event
from referrals.cases.models import Case
from referrals.core.clock import as_utc, now
from referrals.core.deadlines import compute_deadline
from referrals.core.errors import DomainError, InvalidInput
from referrals.core.identity import Identity
from referrals.core import outbox
from referrals.extensions import db
from referrals.holds.history import actor_name, add_hold_event
from referrals.holds.models import HeldIdentifier, PreservationHold
from referrals.holds.policies import hold_policy
from referrals.holds.refusals import (HoldRefused, end_refusal, extension_refusal,
                                      production_refusal, renewal_refusal, review_refusal,
                                      snapshot_refusal)
from referrals.holds.rules import HOLD_KINDS, HOLD_STATES, hold_kind_for_request
from referrals.holds.snapshot import snapshot_hold
from referrals.holds.standing import hold_zone, zoned_date, zoned_time
from referrals.requests import rules as request_rules
from referrals.requests.models import DisclosureRequest
from referrals.requests.scope import officer_request_clause
from referrals.requests.services import tell_agency
from referrals.vocabulary.categories import DATA_CATEGORIES
from referrals.vocabulary.entities import legal_zone
from referrals.vocabulary.identifiers import KINDS as IDENTIFIER_KINDS
from referrals.vocabulary.identifiers import normalize, phone_region

REQUEST_REFERENCE = re.compile(r"REQ-\d{4}-\d{6}")
MAX_REASON = 5000


# --- small helpers ------------------------------------------------------------------------


def next_reference(year: int) -> str:
    """HOLD-YYYY-NNNNNN, numbered per year without gaps between concurrent writers."""
    number = db.session.execute(text(
        "INSERT INTO hold_counters (year, last) VALUES (:year, 1) "
        "ON CONFLICT (year) DO UPDATE SET last = hold_counters.last + 1 RETURNING last"),
        {"year": year}).scalar_one()
    return f"HOLD-{year:04d}-{number:06d}"


def _state(hold: PreservationHold) -> dict:
    def iso(value):
        return as_utc(value).isoformat() if value is not None else None

    return {"status": hold.status, "expires_at": iso(hold.expires_at),
            "renewals": hold.renewals, "extensions": hold.extensions,
            "review_due_at": iso(hold.review_due_at),
            "production_confirmed_at": iso(hold.production_confirmed_at),
            "production_reference": hold.production_reference or None,
            "ended_at": iso(hold.ended_at), "owner_id": hold.owner_id}


def _audit(actor: Identity, action: str, hold: PreservationHold, *, before=None, after=None):
    record_event(actor, action, object_type="hold", object_id=hold.reference,
                 agency_id=hold.agency_id, before=before, after=after)


def _categories(values: Iterable[str] | None) -> list[str]:
    chosen = set(values or ())
    unknown = chosen - set(DATA_CATEGORIES)
    if unknown or not chosen:
        raise InvalidInput("Choose the categories of data to hold.", field="data_categories")
    return [c for c in DATA_CATEGORIES if c in chosen]


def _dates(date_from: date | None, date_to: date | None) -> None:
    if date_from and date_to and date_from > date_to:
        raise InvalidInput("The period starts after it ends.", field="date_from")


def _held_identifiers(pairs: Iterable[tuple[str, str]]) -> list[HeldIdentifier]:
    """(kind, value) pairs, normalised and without repeats."""
    region = phone_region()
    seen: set[tuple[str, str]] = set()
    held = []
    for kind, value in pairs:
        try:
            normalized = normalize(kind, value, region=region)
        except InvalidInput as error:
            raise InvalidInput(error.message, field="identifiers") from error
        if (kind, normalized) in seen:
            continue
        seen.add((kind, normalized))
        held.append(HeldIdentifier(kind=kind, value=value.strip()[:320], normalized=normalized))
    return held


def _in_sentence(label: str) -> str:
    """"Log-in / log-out data" → "log-in / log-out data"; "IP address" stays."""
    return label if label[1:2].isupper() else label[:1].lower() + label[1:]


def _scope_text(hold: PreservationHold) -> str:
    accounts = ", ".join(f"{_in_sentence(IDENTIFIER_KINDS.get(i.kind, i.kind))} {i.normalized}"
                         for i in hold.identifiers)
    categories = ", ".join(_in_sentence(DATA_CATEGORIES[c])
                           for c in hold.data_categories if c in DATA_CATEGORIES)
    if hold.date_from or hold.date_to:
        period = f"{hold.date_from or 'the start'} to {hold.date_to or 'today'}"
    else:
        period = "all dates"
    return f"{accounts or 'no accounts'}; {categories}; {period}"


def _reason(value: str | None, field: str, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(message, field=field)
    if len(value) > MAX_REASON:
        raise InvalidInput(f"At most {MAX_REASON:,} characters.", field=field)
    return value


def _new_hold(actor: Identity, *, kind: str, starts_at: datetime, expires_at: datetime | None,
              identifiers: list[HeldIdentifier], categories: list[str], **fields) -> PreservationHold:
    at = now()
    hold = PreservationHold(
        reference=next_reference(at.year), kind=kind, status="active",
        starts_at=starts_at, expires_at=expires_at, data_categories=categories,
        renewals=0, extensions=0, placed_by_label=actor_name(actor)[:255], placed_at=at,
        updated_at=at, end_reason="", production_reference="", **fields)
    hold.identifiers = identifiers
    db.session.add(hold)
    db.session.flush()
    return hold


def queue_snapshot_after_commit(hold: PreservationHold) -> None:
    """The snapshot is taken by a job once the hold is stored (never for a rolled-back one)."""
    outbox.enqueue(snapshot_hold, hold.id)


# --- placing ------------------------------------------------------------------------------


def place_hold_for_request(actor: Identity, request: DisclosureRequest) -> PreservationHold:
    """The hold a preservation request places on arrival. Called at intake; placing twice
    for one request returns the hold already placed."""
    hold_policy.require(actor, "place_for_request", request)
    agency = request.agency
    kind_key = hold_kind_for_request(request.request_type, agency.country if agency else None,
                                     agency.kind if agency else None)
    if kind_key is None:
        label = request_rules.REQUEST_TYPES[request.request_type].label
        raise DomainError(f"{label} does not place a preservation hold.")
    existing = db.session.scalar(select(PreservationHold)
                                 .where(PreservationHold.request_id == request.id))
    if existing is not None:
        return existing
    kind = HOLD_KINDS[kind_key]
    starts = as_utc(request.received_at)
    zone = legal_zone(request.legal_entity)
    hold = _new_hold(
        actor, kind=kind_key, starts_at=starts,
        expires_at=compute_deadline(kind.expiry_rule, starts, zone),
        identifiers=_held_identifiers((t.kind, t.value) for t in request.targets),
        categories=_categories(request.data_categories),
        request_id=request.id, agency_id=request.agency_id, owner_id=request.assignee_id,
        legal_basis=(request.legal_basis or "").strip()
        or request_rules.REQUEST_TYPES[request.request_type].label,
        date_from=request.date_from, date_to=request.date_to)
    add_hold_event(hold, actor, "placed",
           f"Placed on receipt of {request.reference} "
           f"({request_rules.REQUEST_TYPES[request.request_type].label}): {_scope_text(hold)}. "
           f"Expires {zoned_time(hold.expires_at, zone)}.", hold.placed_at)
    _audit(actor, "hold.placed", hold, after={
        **_state(hold), "kind": kind_key, "request": request.reference,
        "identifiers": [i.normalized for i in hold.identifiers],
        "data_categories": hold.data_categories})
    queue_snapshot_after_commit(hold)
    return hold


def place_internal_hold(actor: Identity, case: Case, identifiers: Iterable[tuple[str, str]],
                        categories: Iterable[str], date_from: date | None, date_to: date | None,
                        legal_basis: str) -> PreservationHold:
    """An internal legal hold from a case: held until released, reviewed every 180 days.
    ``identifiers`` are (kind, value) pairs; none is allowed (the case itself is held)."""
    hold_policy.require(actor, "place", case)
    if case.purged_at is not None:
        raise HoldRefused("This case was purged under the retention policy: there is nothing "
                          "left in it to hold.")
    legal_basis = _reason(legal_basis, "legal_basis",
                          "Say why the data is held (litigation, an investigation, a "
                          "regulator's inquiry …).")
    _dates(date_from, date_to)
    kind = HOLD_KINDS["internal"]
    at = now()
    zone = hold_zone_for("internal")
    hold = _new_hold(
        actor, kind="internal", starts_at=at, expires_at=None,
        identifiers=_held_identifiers(identifiers), categories=_categories(categories),
        case_id=case.id, owner_id=actor.user_id if actor.is_staff else None,
        legal_basis=legal_basis, date_from=date_from, date_to=date_to,
        review_due_at=compute_deadline(kind.review_rule, at, zone))
    add_hold_event(hold, actor, "placed",
           f"Internal legal hold placed on {case.reference}: {_scope_text(hold)}. Held until "
           f"released; first review due {zoned_date(hold.review_due_at, zone)}.", at)
    _audit(actor, "hold.placed", hold, after={
        **_state(hold), "kind": "internal", "case": case.reference, "legal_basis": legal_basis,
        "identifiers": [i.normalized for i in hold.identifiers],
        "data_categories": hold.data_categories})
    queue_snapshot_after_commit(hold)
    return hold


def place_ncmec_hold(actor: Identity, case: Case, report_id: str, completed_at: datetime,
                     identifiers: Iterable[tuple[str, str]], categories: Iterable[str] | None = None,
                     date_from: date | None = None, date_to: date | None = None) -> PreservationHold:
    """The preservation 18 U.S.C. 2258A(h) requires for a finished CyberTipline report: one
    year from the report's completion. The NCMEC feature calls it when a report is finished;
    staff place it by hand from the case for a report sent another way. One hold per report."""
    hold_policy.require(actor, "place", case)
    report_id = _reason(report_id, "report_id", "Give the CyberTipline report id.")
    if len(report_id) > 64:
        raise InvalidInput("A CyberTipline report id is at most 64 characters.", field="report_id")
    if completed_at is None or completed_at.tzinfo is None:
        raise InvalidInput("Give the time the report was completed.", field="completed_at")
    completed_at = as_utc(completed_at)
    at = now()
    if completed_at > at:
        raise InvalidInput("The report's completion time is in the future.", field="completed_at")
    existing = db.session.scalar(select(PreservationHold).where(
        PreservationHold.kind == "ncmec_report",
        PreservationHold.external_reference == report_id))
    if existing is not None:
        raise HoldRefused(f"CyberTipline report {report_id} already has its hold, "
                          f"{existing.reference}.")
    _dates(date_from, date_to)
    kind = HOLD_KINDS["ncmec_report"]
    zone = hold_zone_for("ncmec_report")
    expires_at = compute_deadline(kind.expiry_rule, completed_at, zone)
    if expires_at <= at:
        raise HoldRefused(
            f"CyberTipline report {report_id} was completed {zoned_date(completed_at, zone)}; "
            f"its one-year preservation ended {zoned_date(expires_at, zone)}. To keep the data "
            "now, place an internal legal hold.")
    held = _held_identifiers(identifiers)
    if not held:
        raise InvalidInput("Choose the accounts the report is about.", field="identifiers")
    hold = _new_hold(
        actor, kind="ncmec_report", starts_at=completed_at, expires_at=expires_at,
        identifiers=held, categories=_categories(categories or DATA_CATEGORIES),
        case_id=case.id, owner_id=actor.user_id if actor.is_staff else None,
        external_reference=report_id,
        legal_basis=f"18 U.S.C. 2258A(h): CyberTipline report {report_id}",
        date_from=date_from, date_to=date_to)
    add_hold_event(hold, actor, "placed",
           f"Placed for CyberTipline report {report_id} on {case.reference}, completed "
           f"{zoned_time(completed_at, zone)}: {_scope_text(hold)}. Expires "
           f"{zoned_time(expires_at, zone)}.", at)
    _audit(actor, "hold.placed", hold, after={
        **_state(hold), "kind": "ncmec_report", "case": case.reference, "report_id": report_id,
        "completed_at": completed_at.isoformat(),
        "identifiers": [i.normalized for i in hold.identifiers],
        "data_categories": hold.data_categories})
    queue_snapshot_after_commit(hold)
    return hold


def hold_zone_for(kind: str) -> str:
    """The legal zone for a hold placed without a request (see ``standing.hold_zone``)."""
    return legal_zone("eu" if kind == "eu_epoc_pr" else "us")


def _refuse(message: str | None) -> None:
    if message:
        raise HoldRefused(message)


def _claim(hold: PreservationHold, column, seen: int) -> None:
    """Count a renewal or extension only if nobody counted one since we read the hold: two
    renewals sent at once must not both pass."""
    result = db.session.execute(
        update(PreservationHold).where(PreservationHold.id == hold.id, column == seen)
        .values({column: seen + 1}).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.refresh(hold)
        _refuse(renewal_refusal(hold) if column is PreservationHold.renewals
                else extension_refusal(hold))
        raise HoldRefused(f"{hold.reference} changed while this was being done; reload it.")
    setattr(hold, column.key, seen + 1)


# --- the clock ----------------------------------------------------------------------------


def renew_hold(actor: Identity, hold: PreservationHold,
               renewal_request: DisclosureRequest | None = None, note: str = "") -> PreservationHold:
    """The one 90-day renewal of a 2703(f) hold, from the current expiry. From the portal or
    the API, ``renewal_request`` is the agency's renewal request; staff record a renewal
    that arrived another way with a note saying how."""
    hold_policy.require(actor, "renew", hold)
    at = now()
    _refuse(renewal_refusal(hold, at))
    note = (note or "").strip()[:MAX_REASON]
    if renewal_request is None and not note and actor.is_staff:
        raise InvalidInput("Say how the renewal arrived (letter, e-mail, request reference).",
                           field="note")
    kind = HOLD_KINDS[hold.kind]
    zone = hold_zone(hold)
    before = _state(hold)
    renewal = HOLD_STATES.require(hold.status, "extended", by="renew")
    _claim(hold, PreservationHold.renewals, hold.renewals)
    hold.expires_at = compute_deadline(kind.renewal_rule, as_utc(hold.expires_at), zone)
    hold.status = renewal.target
    hold.updated_at = at
    source = f"on renewal request {renewal_request.reference}" if renewal_request else f"({note})"
    add_hold_event(hold, actor, "renewed",
           f"Renewed for 90 days {source}, under {kind.renewal_basis}. Now expires "
           f"{zoned_time(hold.expires_at, zone)}. This was the one renewal allowed.", at)
    _audit(actor, "hold.renewed", hold, before=before, after={
        **_state(hold), "renewal_request": renewal_request.reference if renewal_request else None,
        "note": note or None})
    return hold


def extend_hold(actor: Identity, hold: PreservationHold, note: str = "") -> PreservationHold:
    """The one 30-day extension of an EPOC-PR (Annex VI), from the current expiry."""
    hold_policy.require(actor, "extend", hold)
    at = now()
    _refuse(extension_refusal(hold, at))
    note = (note or "").strip()[:MAX_REASON]
    kind = HOLD_KINDS[hold.kind]
    zone = hold_zone(hold)
    before = _state(hold)
    extension = HOLD_STATES.require(hold.status, "extended", by="extend")
    _claim(hold, PreservationHold.extensions, hold.extensions)
    hold.expires_at = compute_deadline(kind.extension_rule, as_utc(hold.expires_at), zone)
    hold.status = extension.target
    hold.updated_at = at
    add_hold_event(hold, actor, "extended",
           f"Extended by 30 days on the issuing authority's Annex VI request"
           f"{f' ({note})' if note else ''}. Now expires {zoned_time(hold.expires_at, zone)}.", at)
    _audit(actor, "hold.extended", hold, before=before, after={**_state(hold), "note": note or None})
    return hold


def _production_reference(hold: PreservationHold, value: str | None) -> str:
    reference = _reason(value, "production_reference",
                        "Give the reference of the production order or legal process.")
    if len(reference) > 64:
        raise InvalidInput("At most 64 characters.", field="production_reference")
    if not REQUEST_REFERENCE.fullmatch(reference.upper()):
        return reference  # the issuing authority's own number
    reference = reference.upper()
    found = db.session.scalar(select(DisclosureRequest)
                              .where(DisclosureRequest.reference == reference))
    if found is None:
        raise InvalidInput(f"There is no request {reference}.", field="production_reference")
    if hold.agency_id is not None and found.agency_id != hold.agency_id:
        raise InvalidInput(f"{reference} comes from another agency than {hold.reference}.",
                           field="production_reference")
    if request_rules.REQUEST_TYPES[found.request_type].preservation:
        raise InvalidInput(f"{reference} is a preservation request, not legal process for "
                           "production.", field="production_reference")
    return reference


def confirm_production(actor: Identity, hold: PreservationHold, production_reference: str,
                       note: str = "") -> PreservationHold:
    """A production order is confirmed (EPOC-PR: Annex V; 2703(f): the legal process arrived):
    the hold no longer expires, and lasts until the data is produced."""
    hold_policy.require(actor, "confirm_production", hold)
    at = now()
    _refuse(production_refusal(hold, at))
    reference = _production_reference(hold, production_reference)
    note = (note or "").strip()[:MAX_REASON]
    zone = hold_zone(hold)
    before = _state(hold)
    ended_clock = zoned_time(hold.expires_at, zone)
    hold.production_confirmed_at = at
    hold.production_reference = reference
    hold.expires_at = None
    hold.updated_at = at
    add_hold_event(hold, actor, "production_confirmed",
           f"Production order {reference} confirmed{f' ({note})' if note else ''}: kept until "
           f"the data is produced. It would have expired {ended_clock}.", at)
    _audit(actor, "hold.production_confirmed", hold, before=before,
           after={**_state(hold), "note": note or None})
    return hold


def convert_hold(actor: Identity, hold: PreservationHold, production_reference: str,
                 note: str = "") -> PreservationHold:
    """The preserved data is taken over by a production: the hold ends as converted."""
    hold_policy.require(actor, "convert", hold)
    _refuse(end_refusal(hold, "converted", by="convert"))
    conversion = HOLD_STATES.require(hold.status, "converted", by="convert")
    reference = _production_reference(hold, production_reference)
    note = (note or "").strip()[:MAX_REASON]
    at = now()
    before = _state(hold)
    hold.status = conversion.target
    hold.production_reference = reference
    hold.ended_at = at
    hold.end_reason = f"Converted to production {reference}" + (f": {note}" if note else ".")
    hold.updated_at = at
    add_hold_event(hold, actor, "converted", hold.end_reason, at)
    _audit(actor, "hold.converted", hold, before=before,
           after={**_state(hold), "reason": hold.end_reason})
    if conversion.tells_agency:
        tell_agency_about(hold, f"The preservation {hold.reference} on this request has ended: "
                          f"the data it kept is now handled under production {reference}.")
    return hold


def release_hold(actor: Identity, hold: PreservationHold, reason: str) -> PreservationHold:
    """End a hold before its time (or close one past it), with the reason on record."""
    hold_policy.require(actor, "release", hold)
    _refuse(end_refusal(hold, "released"))
    release = HOLD_STATES.require(hold.status, "released", by="release", reason=reason)
    reason = _reason(reason, "reason", HOLD_STATES.reason_prompt)
    at = now()
    before = _state(hold)
    hold.status = release.target
    hold.ended_at = at
    hold.end_reason = reason
    hold.updated_at = at
    add_hold_event(hold, actor, "released", f"Released: {reason}", at)
    _audit(actor, "hold.released", hold, before=before, after={**_state(hold), "reason": reason})
    if release.tells_agency:
        tell_agency_about(hold, f"The preservation {hold.reference} on this request was released "
                          f"on {zoned_date(at, hold_zone(hold))}: the data is no longer kept for "
                          f"it.\n\n{reason}")
    return hold


def tell_agency_about(hold: PreservationHold, body: str) -> bool:
    """A message on the hold's request, visible to its officers in the portal, and the
    content-free "there is an update" e-mail. False when the hold has no request."""
    if hold.request is None:
        return False
    tell_agency(hold.request, body)
    return True


def note_request_withdrawn(actor: Identity, request: DisclosureRequest) -> None:
    """A withdrawn preservation request does not end its hold on its own: preserved data
    cannot be preserved again once let go. The hold's page says so and a supervisor decides."""
    for hold in db.session.scalars(select(PreservationHold).where(
            PreservationHold.request_id == request.id,
            PreservationHold.status.in_(("active", "extended")))):
        add_hold_event(hold, actor, "note",
                       f"The agency withdrew {request.reference}. Release the hold if nothing "
                       "else needs the data.", now())


def record_hold_review(actor: Identity, hold: PreservationHold, note: str) -> PreservationHold:
    """An internal hold's periodic review: still needed, so the next review is due 180 days on."""
    hold_policy.require(actor, "review", hold)
    note = _reason(note, "note", "Say why the hold is still needed.")
    _refuse(review_refusal(hold))
    at = now()
    zone = hold_zone(hold)
    before = _state(hold)
    hold.review_due_at = compute_deadline(HOLD_KINDS[hold.kind].review_rule, at, zone)
    hold.updated_at = at
    add_hold_event(hold, actor, "reviewed",
           f"Reviewed: {note} Next review due {zoned_date(hold.review_due_at, zone)}.", at)
    _audit(actor, "hold.reviewed", hold, before=before, after={**_state(hold), "note": note})
    return hold


def request_snapshot(actor: Identity, hold: PreservationHold) -> None:
    """Ask again for a snapshot that has not been taken (the platform did not answer)."""
    hold_policy.require(actor, "snapshot", hold)
    _refuse(snapshot_refusal(hold))
    add_hold_event(hold, actor, "snapshot_requested", "Snapshot asked for again.")
    db.session.flush()
    _audit(actor, "hold.snapshot_requested", hold)
    queue_snapshot_after_commit(hold)


# --- renewal requests from agencies ---------------------------------------------------------


def hold_to_renew(actor: Identity, reference: str | None) -> PreservationHold:
    """At intake of a renewal request, before anything is stored: the hold it renews, named
    by the preservation request's reference (or the hold's), found only among the officer's
    own preservation requests (``requests.scope``; a colleague's is not enough). A reference
    outside that scope is refused exactly like one that does not exist: one scoped query,
    one message."""
    reference = (reference or "").strip().upper()
    if not reference:
        raise InvalidInput("Give the reference of the preservation request this renews "
                           "(REQ-…).", field="related_reference")
    hold = db.session.scalar(
        select(PreservationHold)
        .join(DisclosureRequest, DisclosureRequest.id == PreservationHold.request_id)
        .where(officer_request_clause(actor),
               or_(DisclosureRequest.reference == reference,
                   PreservationHold.reference == reference)))
    if hold is None:
        raise InvalidInput(f"{reference[:24]} is not one of your preservation requests (those "
                           "you submitted or were added to). Give the reference of the "
                           "preservation request you renew (REQ-…), as shown on the portal.",
                           field="related_reference")
    refusal = renewal_refusal(hold)
    if refusal:
        raise HoldRefused(refusal, field="related_reference")
    return hold


def renewal_warnings(hold: PreservationHold, targets: Iterable[tuple[str, str]]) -> list[str]:
    """What the officer should know when the renewal names accounts the hold does not hold."""
    held = {(i.kind, i.normalized) for i in hold.identifiers}
    extra = [value for kind, value in targets if (kind, value) not in held]
    if not extra:
        return []
    return [f"The renewal names accounts {hold.reference} does not hold ({', '.join(extra)}): "
            "a renewal extends the original preservation only. Send a new preservation "
            "request for other accounts."]
