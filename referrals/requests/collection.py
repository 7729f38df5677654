"""The "collecting" step of a disclosure request: asking the platform for what was approved.

Only the targets decided "produce", only the data categories and dates the request asked for.
What comes back is evidence owned by the request (hashes, a "collected" custody event each),
seen by staff only: the agency receives it later, in a package, after the release.

The staff page does not wait for the platform: ``start_collection`` leaves the work to a job
(``collect_request_job``, through the outbox) whose progress the page polls.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from referrals.accounts.models import User
from referrals.audit.services import record_event
from referrals.connector import Export, Period, Target
from referrals.connector.services import ask_platform, store_exports
from referrals.core import outbox
from referrals.core.clock import now
from referrals.core.errors import DomainError
from referrals.core.identity import Identity
from referrals.core.progress import JobProgress, latest_progress, report_progress, start_progress
from referrals.core.transaction import rollback
from referrals.evidence.models import EvidenceItem
from referrals.evidence.services import item_owned_by
from referrals.extensions import db, jobs
from referrals.requests import rules
from referrals.requests.models import DisclosureRequest, RequestMessage
from referrals.requests.services import move_request, request_policy

COLLECT = "request.collect"


@dataclass(frozen=True)
class CollectionPlan:
    """What to ask the platform for: plain values, usable outside a transaction."""

    targets: list[Target]
    categories: list[str]
    period: Period

    @property
    def questions(self) -> int:
        return len(self.targets) * len(self.categories)


def plan_collection(actor: Identity, request: DisclosureRequest) -> CollectionPlan:
    """The approved data for every target decided "produce", or a plain refusal."""
    request_policy.require(actor, "work", request)
    if request.status != "collecting":
        raise DomainError(
            f"Data is collected while a request is collecting; this one is "
            f"{rules.STATUSES[request.status].lower()}.")
    targets = [Target(t.kind, t.normalized) for t in request.targets if t.decision == "produce"]
    if not targets:
        raise DomainError("No target on this request is decided \"produce\": there is nothing "
                          "to collect.")
    categories = [c for c in rules.DATA_CATEGORIES if c in (request.data_categories or ())]
    if not categories:
        raise DomainError("The request names no data category to collect.")
    return CollectionPlan(targets, categories, Period(request.date_from, request.date_to))


def collect_for_request(actor: Identity, request: DisclosureRequest,
                        exports: list[Export] | None = None) -> list[EvidenceItem]:
    """Collect, from the platform, the approved data for every target decided "produce".
    ``exports``: the platform's answers when they were asked for already (the job does)."""
    plan = plan_collection(actor, request)
    if exports is None:
        exports = ask_platform(plan.targets, plan.categories, plan.period)
    items = store_exports(actor, exports, purpose=f"Collected for {request.reference}",
                          request=request)
    targets, categories, period = plan.targets, plan.categories, plan.period
    at = now()
    request.updated_at = at
    by_category: dict[str, int] = {}
    for item in items:
        category = item.data_category or "other"
        by_category[category] = by_category.get(category, 0) + 1
    source = items[0].source_system if items else ""
    # The request's own record for staff: an internal message never reaches the portal.
    db.session.add(RequestMessage(
        request_id=request.id, author_id=actor.user_id, from_agency=False, internal=True,
        created_at=at,
        body=(f"Collected from the platform ({source}): {len(items)} item(s) for "
              f"{', '.join(t.value for t in targets)}; "
              f"{', '.join(rules.DATA_CATEGORIES[c].lower() for c in categories)}; "
              f"{_period_text(period)}.")))
    db.session.flush()
    record_event(actor, "request.collected", object_type="request", object_id=request.reference,
                 agency_id=request.agency_id,
                 after={"items": len(items), "bytes": sum(i.size for i in items),
                        "by_category": by_category, "targets": [t.value for t in targets],
                        "categories": categories, "source_system": source,
                        "period": {"from": _iso(period.start), "to": _iso(period.end)},
                        "evidence_ids": [i.id for i in items]})
    return items


# --- collecting in the background, with progress the page shows ---------------------------


def collection_progress(request: DisclosureRequest) -> JobProgress | None:
    """The latest collection started for the request (staff only: callers check)."""
    return latest_progress(COLLECT, "request", request.reference)


def start_collection(actor: Identity, request: DisclosureRequest, *,
                     hand_over: bool = False) -> JobProgress:
    """Check that there is something to collect, and leave the collecting to a job (the page
    shows its progress). One collection at a time per request. With ``hand_over`` (the
    emergency fast path) the job, once everything is stored, also moves the request on to
    "ready for review" as the one who started it: they collected, another supervisor
    releases."""
    plan = plan_collection(actor, request)
    running = collection_progress(request)
    if running is not None and not running.finished:
        raise DomainError("Data is already being collected for this request: the page shows "
                          "how far it got.")
    progress = start_progress(COLLECT, "request", request.reference, total=plan.questions,
                              message="Waiting for a worker to start collecting.",
                              started_by_id=actor.user_id)
    entry = outbox.enqueue(collect_request_job, request.id, actor.user_id, progress.id,
                           hand_over, key=f"{COLLECT}:{progress.id}")
    progress.outbox_entry_id = entry.id
    record_event(actor, "request.collection_started", object_type="request",
                 object_id=request.reference, agency_id=request.agency_id,
                 after={"progress_id": progress.id, "targets": [t.value for t in plan.targets],
                        "categories": plan.categories, "hand_over": hand_over})
    return progress


def _acting_user(user_id: int) -> Identity:
    return Identity.for_user(db.session.get(User, user_id))


@jobs.task()
def collect_request_job(request_id: int, user_id: int, progress_id: int,
                        hand_over: bool = False) -> None:
    """Ask the platform one question at a time, committing the progress after each answer
    (no transaction is open while the platform answers), then store everything in one last
    transaction, as the member of staff who started it (the two-person rule counts them as a
    collector). A refusal or a platform that does not answer ends it with the reason shown."""
    try:
        request = db.session.get(DisclosureRequest, request_id)
        plan = plan_collection(_acting_user(user_id), request)
        report_progress(progress_id, state="running", done=0, total=plan.questions,
                        message="Asking the platform.")
        exports = ask_platform(
            plan.targets, plan.categories, plan.period,
            on_answer=lambda done, total: report_progress(
                progress_id, done=done,
                message=f"The platform answered {done} of {total} question(s)."))
        report_progress(progress_id, message="Storing what the platform returned.")
        # The request may have moved on while the platform answered: checked again.
        request = db.session.get(DisclosureRequest, request_id)
        items = collect_for_request(_acting_user(user_id), request, exports)
        if hand_over:
            move_request(_acting_user(user_id), request, "ready_for_review")
    except DomainError as error:
        rollback()
        report_progress(progress_id, state="failed", message=error.message)
        return
    except Exception:
        rollback()
        report_progress(progress_id, state="failed", message=(
            "Collecting stopped on an unexpected error. It is tried again in a while; if it "
            "keeps failing, tell the on-call."))
        raise
    report_progress(progress_id, state="done", commit_now=False,
                    message=f"Collected {len(items)} item(s) from the platform."
                    + (" Ready for the release review." if hand_over else ""))


def collected_items(request: DisclosureRequest) -> list[EvidenceItem]:
    """What was collected for the request, newest first. Staff only: callers check."""
    return list(db.session.scalars(
        select(EvidenceItem).where(EvidenceItem.request_id == request.id)
        .order_by(EvidenceItem.captured_at.desc(), EvidenceItem.id.desc())))


def get_collected_item(request: DisclosureRequest, item_id: int) -> EvidenceItem:
    return item_owned_by(EvidenceItem.request_id, request.id, item_id,
                         "Nothing with this number was collected for this request.")


def _iso(day) -> str | None:
    return day.isoformat() if day else None


def _period_text(period: Period) -> str:
    if period.start is None and period.end is None:
        return "all dates the platform keeps"
    return f"{_iso(period.start) or 'the start'} to {_iso(period.end) or 'today'}"
