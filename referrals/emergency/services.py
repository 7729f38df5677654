"""The emergency fast path: an emergency disclosure request (18 U.S.C. 2702(b)(8)) worked on
one page, by the two people it needs, in as few presses as the law allows.

It is not a second workflow. Each press is one of the request's own services
(``requests.services``, ``requests.collection``, ``packages.services``), which keep every
check: the call-back to a number from the agency registry before anything is disclosed, the
two-person rule (``core.two_person``) asked by the service, and the status machine. What the
fast path adds is the order of the plain steps a tired agent would otherwise click through
one by one: taking the request, and moving it from "received" through "verifying" to "legal
review", happen with the first press that needs them (each still its own audited move).

The presses, from arrival to release (the README says the count):
- agent: open the emergency from the home; record the call-back; prepare the decisions;
  collect (the request is handed over for review when the collection is stored);
- supervisor (not the agent): open it; approve; release (the package is built and the officer
  told when it is ready).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from referrals.accounts.models import User
from referrals.core.errors import DomainError, NotFound
from referrals.core.identity import Identity
from referrals.core.progress import JobProgress
from referrals.core.two_person import APPROVE, RELEASE, second_person_refusal
from referrals.extensions import db
from referrals.packages import services as packages
from referrals.packages.models import EvidencePackage
from referrals.requests import collection, rules
from referrals.requests import services as requests
from referrals.requests.models import DisclosureRequest

# The plain moves from arrival to the decisions (requests.rules.REQUEST_STATES).
_TO_REVIEW = {"received": "verifying", "verifying": "legal_review", "needs_info": "legal_review"}
RELEASED_STATUSES = ("disclosed", "closed")


def get_emergency(identity: Identity, reference: str) -> DisclosureRequest:
    """An emergency request for staff; anything else is not on the fast path."""
    request = requests.get_request_for_staff(identity, reference)
    if not request.emergency:
        raise NotFound(f"{request.reference} is not an emergency request: work it on its page.")
    return request


def _open_review(actor: Identity, request: DisclosureRequest) -> None:
    """Take the request if nobody has, and move it on to legal review: each its own audited
    step, done by the first press that needs them."""
    if request.assignee_id is None:
        requests.assign_request(actor, request, actor.user_id)
    while request.status in _TO_REVIEW:
        requests.move_request(actor, request, _TO_REVIEW[request.status])


def record_emergency_callback(actor: Identity, request: DisclosureRequest, phone_id: int,
                              outcome: str) -> None:
    """Press 1: the call-back (to a number from the agency registry), which opens the review."""
    if request.callback_at is not None:
        raise DomainError("The call-back is already recorded.")
    requests.record_callback(actor, request, phone_id, outcome)
    _open_review(actor, request)


def prepare_emergency_decisions(actor: Identity, request: DisclosureRequest,
                                decisions: dict[int, tuple[str, str]]) -> None:
    """Press 2: produce or withhold for each target; another supervisor approves."""
    requests.request_policy.require(actor, "work", request)
    if request.status not in (*_TO_REVIEW, *rules.APPROVABLE_FROM):
        raise DomainError("The decisions are approved already: they can no longer change.")
    _open_review(actor, request)
    requests.decide_targets(actor, request, decisions)


def collect_emergency(actor: Identity, request: DisclosureRequest) -> JobProgress:
    """Press 3 (after the approval): collect from the platform, and hand the request over for
    the release review when everything is stored."""
    requests.request_policy.require(actor, "work", request)
    if request.status == "approved":
        requests.move_request(actor, request, "collecting")
    return collection.start_collection(actor, request, hand_over=True)


def release_emergency(actor: Identity, request: DisclosureRequest) -> EvidencePackage:
    """The supervisor's last press: the disclosure is recorded (two people, the call-back)
    and its package built; the officer is told when it is ready."""
    return packages.release_production(actor, request)


# --- what the page shows ---------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    done: bool
    # What the viewer may do now (the step's form is shown), or why not / what it waits for.
    may_act: bool
    note: str = ""


@dataclass(frozen=True)
class FastPath:
    request: DisclosureRequest
    steps: list[Step]
    collecting: JobProgress | None
    package: EvidencePackage | None
    package_progress: JobProgress | None
    # Who took each step, by user id: the two people are on the page.
    people: dict[int, str] = field(default_factory=dict)

    def who(self, user_id: int | None) -> str:
        return self.people.get(user_id, "—") if user_id is not None else "—"

    @property
    def current(self) -> str | None:
        return next((s.key for s in self.steps if not s.done), None)

    @property
    def state_token(self) -> str:
        """Changes whenever a step is done or the request moves: the page reloads on it."""
        r = self.request
        return "|".join([r.status, str(bool(r.callback_at)), str(r.prepared_by_id),
                         str(r.approved_by_id), "".join("1" if s.done else "0" for s in self.steps),
                         self.package.status if self.package else "-"])


def fast_path(identity: Identity, request: DisclosureRequest) -> FastPath:
    """Each step, whether it is done, and whether this person may take it now (the service
    would refuse anyone else: the page only says so first)."""
    can_work = requests.request_policy.can(identity, "work", request)
    can_approve = requests.request_policy.can(identity, "approve", request)
    can_release = requests.request_policy.can(identity, "release", request)
    people = requests.participants(request)
    status = request.status
    released = status in RELEASED_STATUSES
    approved = request.approved_by_id is not None and status not in (*_TO_REVIEW, "legal_review",
                                                                        "narrowed")
    collecting = collection.collection_progress(request)
    running = collecting is not None and not collecting.finished
    collected = status in ("ready_for_review", *RELEASED_STATUSES)
    [package, *_] = packages.packages_for_request(request) or [None]

    callback = Step("callback", "Call back the agency", request.callback_at is not None,
                    can_work and request.callback_at is None and bool(request.agency.phones)
                    and not released,
                    "" if request.agency.phones else
                    "The agency registry has no call-back number: add one under Agencies.")
    decisions = Step("decisions", "Decide each target", request.prepared_by_id is not None,
                     can_work and status in (*_TO_REVIEW, *rules.APPROVABLE_FROM))
    approve_refusal = second_person_refusal(identity, APPROVE, people)
    approval = Step(
        "approval", "Approval by a second person", approved,
        can_approve and status in rules.APPROVABLE_FROM and request.prepared_by_id is not None
        and approve_refusal is None,
        _approval_note(request, can_approve, approve_refusal))
    collect = Step("collection", "Collect from the platform", collected,
                   can_work and status in ("approved", "collecting") and not running,
                   "Collecting now: this box follows it." if running else
                   ("" if approved or collected else "Opens once the decisions are approved."))
    release_refusal = second_person_refusal(identity, RELEASE, people)
    release_note = ""
    if request.callback_at is None:
        release_note = "The call-back must be recorded before anything is disclosed."
    elif not can_release:
        release_note = "A supervisor who neither prepared nor collected it releases it."
    elif release_refusal:
        release_note = release_refusal
    release = Step("release", "Release to the agency", released,
                   can_release and status == "ready_for_review" and release_refusal is None
                   and request.callback_at is not None, release_note)
    ids = {request.callback_by_id, request.prepared_by_id, request.approved_by_id,
           request.collected_by_id, request.disclosed_by_id} - {None}
    people = {user.id: user.display_name
              for user in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    return FastPath(request, [callback, decisions, approval, collect, release], collecting,
                    package, packages.progress_of(package) if package is not None else None,
                    people)


def _approval_note(request: DisclosureRequest, can_approve: bool, refusal: str | None) -> str:
    if request.prepared_by_id is None:
        return "Opens once the decisions are prepared."
    if not can_approve:
        return "Waiting for a supervisor who did not prepare the decisions."
    return refusal or ""
