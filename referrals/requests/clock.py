"""A request's clock: which rule sets its deadline and where it is counted, in words for the
staff page, and the services that stop and restart it.

- An Annex III "cannot comply" (Regulation (EU) 2023/1543, art. 10(6)): the time limits do
  not run until the issuing authority clarifies. We read that as a pause: on the
  clarification the deadline (and any enforcing authority window) moves on by the time the
  clock stood, which is never later than counting the whole period again.
- An indefinite non-disclosure order sits in the legal-review queue and is re-checked at the
  interval of rule ``nondisclosure_indefinite_review``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from referrals.audit.services import record_event
from referrals.core.clock import as_utc, now
from referrals.core.deadlines import RULES, compute_deadline, nondisclosure_notice_due
from referrals.core.display import zoned_time
from referrals.core.errors import DomainError
from referrals.core.identity import Identity
from referrals.core.inputs import required_text
from referrals.extensions import db
from referrals.requests import pause, rules
from referrals.requests.intake import deadline_key
from referrals.requests.models import DisclosureRequest
from referrals.requests.services import request_policy, tell_agency
from referrals.vocabulary.entities import LEGAL_ENTITIES, legal_zone

MAX_NOTE = 5000


class ClockRefused(DomainError):
    """The clock cannot be stopped, restarted or re-checked as asked."""


@dataclass(frozen=True)
class ClockFact:
    label: str
    value: str
    source: str = ""


def request_zone(request: DisclosureRequest) -> str:
    return legal_zone(request.legal_entity)


def deadline_rule(request: DisclosureRequest) -> str | None:
    """The key of the rule that set the request's deadline."""
    if request.return_date is not None:
        return "process_return_date"
    return deadline_key(request.request_type, request.emergency)


def clock_facts(request: DisclosureRequest) -> list[ClockFact]:
    """Every date the request is held to, at the exact instant, in its one zone, with the rule
    and its source."""
    zone = request_zone(request)
    facts = [ClockFact("Received by", f"{LEGAL_ENTITIES.get(request.legal_entity, '?')}: "
                                      f"every date is counted in {zone}")]
    key = deadline_rule(request)
    if request.deadline_at is not None:
        rule = RULES.get(key) if key else None
        source = rule.source if rule else ""
        label = "Deadline"
        if request.request_type in rules.RENEWAL_REQUEST_TYPES:
            source = "Due when the hold it renews expires"
        elif rules.REQUEST_TYPES[request.request_type].preservation:
            # Our own clock to act on the request, not the hold's: that expiry is shown with
            # the hold ("Hold expires").
            label = "Time to act"
        facts.append(ClockFact(label, zoned_time(request.deadline_at, zone), source))
    if request.internal_target_at is not None:
        facts.append(ClockFact("Internal target", zoned_time(request.internal_target_at, zone),
                               RULES["eu_production_order_emergency_target"].source))
    if request.enforcing_authority_notified:
        key = ("eu_enforcing_authority_window_emergency" if request.emergency
               else "eu_enforcing_authority_window")
        facts.append(ClockFact(
            "Enforcing authority", "Notified; it may raise a ground for refusal until "
            f"{zoned_time(request.enforcement_window_ends_at, zone)}", RULES[key].source))
    if request.clock_paused_at is not None and request.clock_running:
        annex = request.clock_paused_for != pause.NEEDS_INFO
        facts.append(ClockFact(
            "Clock stopped", f"Since {zoned_time(request.clock_paused_at, zone)}: "
            f"{pause.pause_reason(request)}. The deadline moves on by the time it stands.",
            "Regulation (EU) 2023/1543, art. 10(6)" if annex else
            "Our deadline counts only while we have what we need to act"))
    elif request.status == pause.NEEDS_INFO and not pause.pauses_for_information(request):
        facts.append(ClockFact(
            "Clock running", "Asking for information does not stop an EU order's clock: "
            "only an Annex III does (stop the clock below).",
            "Regulation (EU) 2023/1543, art. 10(6)"))
    if request.nondisclosure_order and request.nondisclosure_until is not None:
        facts.append(ClockFact(
            "Non-disclosure order", f"In force until the end of "
            f"{request.nondisclosure_until:%d %B %Y}; the user notice falls due "
            f"{zoned_time(nondisclosure_notice_due(request.nondisclosure_until, zone), zone)}",
            RULES["nondisclosure_end"].source))
    elif request.nondisclosure_order:
        facts.append(ClockFact(
            "Non-disclosure order", "No end date: in the legal-review queue, next review "
            f"{zoned_time(request.nondisclosure_review_due_at, zone)}",
            RULES["nondisclosure_indefinite_review"].source))
    return facts


def _note(value: str | None, message: str) -> str:
    return required_text(value, "note", message, MAX_NOTE)


def _iso(value) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def stop_clock(actor: Identity, request: DisclosureRequest, note: str) -> DisclosureRequest:
    """Annex III sent: we cannot comply until the issuing authority clarifies (art. 10(6))."""
    request_policy.require(actor, "work", request)
    if request.request_type not in ("eu_epoc", "eu_epoc_pr"):
        raise ClockRefused("Only a European Production or Preservation Order is answered with "
                           "an Annex III; for other process, ask the agency for information.")
    if not request.is_open:
        raise ClockRefused(f"{request.reference} is closed.")
    if request.clock_paused_at is not None:
        raise ClockRefused(f"The clock of {request.reference} already stands, since "
                           f"{zoned_time(request.clock_paused_at, request_zone(request))}.")
    note = _note(note, "Say why we cannot comply (what the Annex III says).")
    at = now()
    pause.pause(request, pause.ANNEX_III, at)
    request.updated_at = at
    db.session.flush()
    record_event(actor, "request.clock_stopped", object_type="request",
                 object_id=request.reference, agency_id=request.agency_id,
                 after={"paused_at": at.isoformat(), "note": note})
    tell_agency(request, f"We cannot comply with {request.reference} as it stands (Annex III, "
                f"Regulation (EU) 2023/1543, art. 10(6)): {note}\n\nThe time limits do not "
                "run until you clarify.", actor)
    return request


def restart_clock(actor: Identity, request: DisclosureRequest, note: str) -> DisclosureRequest:
    """The issuing authority clarified: the deadlines move on by the time the clock stood."""
    request_policy.require(actor, "work", request)
    if request.clock_paused_at is None:
        raise ClockRefused(f"The clock of {request.reference} is running.")
    if request.clock_paused_for == pause.NEEDS_INFO:
        raise ClockRefused(f"The clock of {request.reference} stands because we asked the "
                           "agency for information: it runs again when the request moves on "
                           "from \"needs information\".")
    note = _note(note, "Say how the issuing authority clarified.")
    at = now()
    before = {"deadline_at": _iso(request.deadline_at),
              "enforcement_window_ends_at": _iso(request.enforcement_window_ends_at),
              "paused_at": _iso(request.clock_paused_at)}
    stood = pause.resume(request, at)
    request.updated_at = at
    db.session.flush()
    record_event(actor, "request.clock_restarted", object_type="request",
                 object_id=request.reference, agency_id=request.agency_id, before=before,
                 after={"deadline_at": _iso(request.deadline_at),
                        "enforcement_window_ends_at": _iso(request.enforcement_window_ends_at),
                        "stood_seconds": int(stood.total_seconds()), "note": note})
    return request


def nondisclosure_reviews(actor: Identity) -> list[DisclosureRequest]:
    """The legal-review queue: open requests under a non-disclosure order without an end
    date, the review most overdue first."""
    request_policy.require(actor, "view")
    return list(db.session.scalars(
        select(DisclosureRequest)
        .where(DisclosureRequest.nondisclosure_order.is_(True),
               DisclosureRequest.nondisclosure_until.is_(None),
               DisclosureRequest.is_open.is_(True))
        .order_by(DisclosureRequest.nondisclosure_review_due_at, DisclosureRequest.id)))


def review_nondisclosure(actor: Identity, request: DisclosureRequest,
                         note: str) -> DisclosureRequest:
    """Legal re-checked an indefinite order (still in force, still without an end date): the
    next review falls due one interval on."""
    request_policy.require(actor, "work", request)
    if not request.nondisclosure_order or request.nondisclosure_until is not None:
        raise ClockRefused(f"{request.reference} has no indefinite non-disclosure order.")
    note = _note(note, "Say what the review found (e.g. the order is still in force).")
    at = now()
    before = _iso(request.nondisclosure_review_due_at)
    request.nondisclosure_review_due_at = compute_deadline(
        "nondisclosure_indefinite_review", at, request_zone(request))
    request.updated_at = at
    db.session.flush()
    record_event(actor, "request.nondisclosure_reviewed", object_type="request",
                 object_id=request.reference, agency_id=request.agency_id,
                 before={"review_due_at": before},
                 after={"review_due_at": _iso(request.nondisclosure_review_due_at),
                        "note": note})
    return request
