"""Running a multi-step remote operation, one step per short transaction.

An ``OperationKind`` names its steps and plans them from the operation's payload (NCMEC's
will be submit → upload* → fileinfo* → finish). ``start_operation`` stores the operation and
its planned steps in the caller's transaction, with an audit event and the outbox entry that
runs it. ``advance_operation`` (a job) then, for each step in order:

1. marks it "started" (one more attempt) and commits, with an audit event;
2. makes the call, outside any transaction;
3. records the outcome, the remote request id and the remote ids it returned, and commits,
   with an audit event.

A step's function gets plain values (``StepCall``) and should not touch the database: no
transaction is open while it waits for the remote. A crash between steps resumes at the next step: finished steps are never called again. A step
found "started" with no outcome (a crash during the call) or "unknown" (sent, answer lost)
may have happened remotely, so it is not made again blindly: a step with a ``check`` asks the
remote what happened; a ``repeatable`` one (the remote deduplicates on the step's idempotency
key) is made again with the same key; any other stops the operation as "needs_check" for a
person (``resolve_unknown_step``). A call that surely did not happen (``RemoteUnavailable``)
is tried again later with an exponential backoff; a refusal fails the operation.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from referrals.audit.services import record_event
from referrals.core import outbox
from referrals.core.clock import as_utc, now
from referrals.core.errors import DomainError
from referrals.core.http import OutcomeUnknown, RemoteError, RemoteRefused, RemoteUnavailable
from referrals.core.identity import Identity, system_identity
from referrals.core.transaction import commit, rollback
from referrals.extensions import db, jobs
from referrals.remote.models import RemoteOperation, RemoteStep

log = logging.getLogger(__name__)

RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
FINAL = ("done", "failed", "needs_check")


@dataclass(frozen=True)
class StepCall:
    """What a step's function gets: plain values, no live database objects."""

    operation_id: int
    kind: str
    step: str
    position: int
    arguments: dict
    payload: dict
    remote_ids: dict
    idempotency_key: str
    attempt: int


@dataclass(frozen=True)
class StepResult:
    outcome: dict = field(default_factory=dict)
    remote_request_id: str | None = None
    remote_ids: dict = field(default_factory=dict)  # merged into the operation's


@dataclass(frozen=True)
class StepKind:
    run: Callable[[StepCall], StepResult]
    # Asks the remote whether a step with no recorded outcome happened: its result if it did,
    # None if it did not (then the step is made again).
    check: Callable[[StepCall], StepResult | None] | None = None
    # The remote deduplicates on the idempotency key: making it again is harmless.
    repeatable: bool = False


@dataclass(frozen=True)
class OperationKind:
    name: str
    plan: Callable[[dict], list[tuple[str, dict]]]  # payload → [(step name, arguments)]
    steps: dict[str, StepKind]
    max_attempts: int = 8  # per step

    def actor(self) -> Identity:
        return system_identity(f"job:remote {self.name}")


KINDS: dict[str, OperationKind] = {}


def register(kind: OperationKind) -> OperationKind:
    KINDS[kind.name] = kind
    return kind


def start_operation(actor: Identity, kind_name: str, *, key: str, payload: dict,
                    object_type: str | None = None, object_id: object = None,
                    agency_id: int | None = None) -> RemoteOperation:
    """Store the operation and its planned steps in the caller's transaction; it runs after
    the commit. One operation per ``key``: a second call returns the first."""
    existing = db.session.scalar(select(RemoteOperation).where(RemoteOperation.key == key))
    if existing is not None:
        return existing
    kind = KINDS[kind_name]
    at = now()
    operation = RemoteOperation(
        kind=kind.name, key=key, state="pending", payload=payload, remote_ids={}, attempts=0,
        object_type=object_type, object_id=None if object_id is None else str(object_id),
        runner="", last_error="", created_at=at, updated_at=at)
    planned = kind.plan(payload)
    for position, (name, arguments) in enumerate(planned):
        if name not in kind.steps:
            raise ValueError(f"{kind.name} has no step {name!r}")
        operation.steps.append(RemoteStep(
            position=position, name=name, arguments=arguments, state="pending", attempts=0,
            idempotency_key=uuid.uuid4().hex, last_error=""))
    db.session.add(operation)
    db.session.flush()
    record_event(actor, "remote.operation_started", object_type="remote_operation",
                 object_id=operation.id, agency_id=agency_id,
                 after={"kind": kind.name, "key": key, "steps": [n for n, _ in planned],
                        "about": {"type": object_type, "id": operation.object_id}})
    outbox.enqueue(advance_operation, operation.id, key=f"remote:{operation.id}:start")
    return operation


def _lease() -> timedelta:
    return timedelta(seconds=current_app.config["REFERRALS_SETTINGS"].outbox_lease_seconds)


def _load(operation_id: int) -> RemoteOperation | None:
    return db.session.scalar(
        select(RemoteOperation).where(RemoteOperation.id == operation_id).with_for_update()
        .execution_options(populate_existing=True))


def _event(kind: OperationKind, action: str, operation: RemoteOperation,
           step: RemoteStep | None = None, **after) -> None:
    if step is not None:
        after = {"step": step.name, "position": step.position, "attempt": step.attempts,
                 **after}
    record_event(kind.actor(), action, object_type="remote_operation", object_id=operation.id,
                 after={"kind": operation.kind, **after})


def _schedule(operation: RemoteOperation, when) -> None:
    """An outbox entry that runs the operation again at ``when``."""
    operation.next_try_at = when
    outbox.enqueue(advance_operation, operation.id, not_before=when)


@jobs.task()
def advance_operation(operation_id: int) -> str:
    """Run the operation's remaining steps. Returns the state it was left in."""
    runner = uuid.uuid4().hex
    while True:
        claimed = _claim_next_step(operation_id, runner)
        if isinstance(claimed, str):
            return claimed
        kind, step_kind, call, checking = claimed
        try:
            if checking:
                result = step_kind.check(call)
            else:
                result = step_kind.run(call)
        except RemoteUnavailable as error:
            return _failed(operation_id, call, runner, error, happened=False)
        except RemoteRefused as error:
            return _refused(operation_id, call, runner, error)
        except Exception as error:  # noqa: BLE001 (sent or not: the outcome is unknown)
            log.warning("remote %s step %s: outcome unknown (%r)", kind.name, call.step, error)
            return _failed(operation_id, call, runner, error, happened=None)
        if checking and result is None:
            _not_happened(operation_id, call, runner)
            continue
        if not _done(operation_id, call, runner, result, checked=checking):
            return "superseded"


def _claim_next_step(operation_id: int, runner: str):
    operation = _load(operation_id)
    at = now()
    if operation is None:
        return "missing"
    if operation.state in FINAL:
        return operation.state
    kind = KINDS.get(operation.kind)
    if kind is None:
        operation.state, operation.finished_at = "failed", at
        operation.last_error = f"No remote operation kind is called {operation.kind!r}."
        commit()
        return "failed"
    if operation.runner not in ("", runner) and operation.lease_until \
            and as_utc(operation.lease_until) > at:
        _schedule(operation, as_utc(operation.lease_until))  # come back when its lease ends
        commit()
        return "busy"
    if operation.state == "waiting" and operation.next_try_at \
            and as_utc(operation.next_try_at) > at:
        return "waiting"  # an entry is owed for then
    step = next((s for s in operation.steps if s.state != "done"), None)
    if step is None:
        operation.state, operation.finished_at, operation.updated_at = "done", at, at
        operation.runner, operation.lease_until = "", None
        _event(kind, "remote.operation_done", operation, remote_ids=operation.remote_ids)
        outbox.touch()
        commit()
        return "done"
    step_kind = kind.steps[step.name]
    checking = False
    if step.state in ("started", "unknown"):
        if step_kind.check is not None:
            checking = True
        elif not step_kind.repeatable:
            step.state = "unknown"
            _stop_for_a_person(kind, operation, step, at)
            commit()
            return "needs_check"
    if step.attempts >= kind.max_attempts:
        operation.state, operation.finished_at = "failed", at
        operation.runner, operation.lease_until = "", None
        operation.last_error = (f"Step {step.position + 1} ({step.name}) was tried "
                                f"{step.attempts} times: {step.last_error}")
        _event(kind, "remote.operation_failed", operation, step, error=operation.last_error)
        commit()
        return "failed"
    operation.state, operation.runner, operation.lease_until = "running", runner, at + _lease()
    operation.updated_at = at
    operation.attempts += 1
    step.attempts += 1
    step.next_try_at = None
    if not checking:
        step.state, step.started_at = "started", at
    _event(kind, "remote.step_checking" if checking else "remote.step_started", operation, step,
           idempotency_key=step.idempotency_key)
    call = StepCall(operation_id=operation.id, kind=kind.name, step=step.name,
                    position=step.position, arguments=dict(step.arguments or {}),
                    payload=dict(operation.payload or {}),
                    remote_ids=dict(operation.remote_ids or {}),
                    idempotency_key=step.idempotency_key, attempt=step.attempts)
    outbox.touch()
    commit()
    return kind, step_kind, call, checking


def _stop_for_a_person(kind, operation, step, at) -> None:
    operation.state, operation.updated_at = "needs_check", at
    operation.runner, operation.lease_until = "", None
    operation.last_error = (
        f"Step {step.position + 1} ({step.name}) may have happened at the remote, and "
        "nothing records what came of it. Check with the remote before anything repeats it.")
    _event(kind, "remote.step_unknown", operation, step, error=step.last_error or None)


def _mine(operation_id: int, call: StepCall, runner: str):
    """The operation and step, if this runner still holds the operation."""
    operation = _load(operation_id)
    if operation is None or operation.runner != runner:
        rollback()
        return None, None
    step = next(s for s in operation.steps if s.position == call.position)
    return operation, step


def _done(operation_id: int, call: StepCall, runner: str, result: StepResult,
          checked: bool) -> bool:
    operation, step = _mine(operation_id, call, runner)
    if operation is None:
        log.error("remote operation %s was taken over during step %s; its outcome %r is "
                  "only in this log", operation_id, call.step, result)
        return False
    at = now()
    step.state, step.finished_at, step.last_error = "done", at, ""
    step.outcome, step.remote_request_id = result.outcome, result.remote_request_id
    operation.remote_ids = {**(operation.remote_ids or {}), **result.remote_ids}
    operation.updated_at, operation.last_error = at, ""
    operation.lease_until = at + _lease()
    _event(KINDS[operation.kind], "remote.step_done", operation, step, checked=checked,
           remote_request_id=result.remote_request_id, outcome=result.outcome,
           remote_ids=result.remote_ids)
    outbox.touch()
    commit()
    return True


def _not_happened(operation_id: int, call: StepCall, runner: str) -> None:
    operation, step = _mine(operation_id, call, runner)
    if operation is None:
        return
    step.state = "pending"
    _event(KINDS[operation.kind], "remote.step_checked", operation, step, happened=False)
    outbox.touch()
    commit()


def _failed(operation_id: int, call: StepCall, runner: str, error: Exception,
            happened: bool | None) -> str:
    """``happened`` False: surely not made, try again later. None: may have been made."""
    rollback()
    operation, step = _mine(operation_id, call, runner)
    if operation is None:
        return "superseded"
    kind = KINDS[operation.kind]
    at = now()
    step.last_error = _describe(error)
    if isinstance(error, RemoteError) and error.request_id:
        step.remote_request_id = error.request_id
    step_kind = kind.steps[step.name]
    if happened is None:
        step.state = "unknown"
        if step_kind.check is None and not step_kind.repeatable:
            _stop_for_a_person(kind, operation, step, at)
            commit()
            return "needs_check"
    elif step.state == "started":
        step.state = "pending"
    delay = min(RETRY_BASE * 2 ** (step.attempts - 1), RETRY_CAP)
    step.next_try_at = at + delay
    operation.state, operation.updated_at = "waiting", at
    operation.runner, operation.lease_until = "", None
    operation.last_error = step.last_error
    _event(kind, "remote.step_failed", operation, step, error=step.last_error,
           may_have_happened=happened is None, retry_at=step.next_try_at.isoformat())
    _schedule(operation, step.next_try_at)
    outbox.touch()
    commit()
    return "waiting"


def _refused(operation_id: int, call: StepCall, runner: str, error: RemoteError) -> str:
    rollback()
    operation, step = _mine(operation_id, call, runner)
    if operation is None:
        return "superseded"
    at = now()
    step.state, step.finished_at, step.last_error = "failed", at, _describe(error)
    step.remote_request_id = error.request_id or step.remote_request_id
    operation.state, operation.finished_at, operation.updated_at = "failed", at, at
    operation.runner, operation.lease_until = "", None
    operation.last_error = step.last_error
    _event(KINDS[operation.kind], "remote.step_refused", operation, step,
           error=step.last_error, status=error.status)
    outbox.touch()
    commit()
    return "failed"


def resolve_unknown_step(actor: Identity, operation: RemoteOperation, *, happened: bool,
                         outcome: dict | None = None, remote_ids: dict | None = None) -> None:
    """A person checked with the remote what became of the step the operation stopped at:
    record it as done (``happened``) or to be made again, and let the operation go on."""
    if operation.state != "needs_check":
        raise DomainError("This operation is not waiting for a check.")
    step = next(s for s in operation.steps if s.state == "unknown")
    at = now()
    if happened:
        step.state, step.finished_at = "done", at
        step.outcome = outcome or {"checked_by": actor.label}
        operation.remote_ids = {**(operation.remote_ids or {}), **(remote_ids or {})}
    else:
        step.state = "pending"
    operation.state, operation.updated_at, operation.last_error = "pending", at, ""
    db.session.flush()
    record_event(actor, "remote.step_resolved", object_type="remote_operation",
                 object_id=operation.id, after={"kind": operation.kind, "step": step.name,
                                                "position": step.position,
                                                "happened": happened,
                                                "remote_ids": remote_ids or {}})
    outbox.enqueue(advance_operation, operation.id)


def unfinished_operations(limit: int = 50) -> list[RemoteOperation]:
    """Operations not done, those waiting for a person first."""
    return list(db.session.scalars(
        select(RemoteOperation).where(RemoteOperation.state != "done")
        .order_by((RemoteOperation.state == "needs_check").desc(), RemoteOperation.id)
        .limit(limit)))


def get_operation(operation_id: int) -> RemoteOperation:
    operation = db.session.get(RemoteOperation, operation_id)
    if operation is None:
        raise DomainError(f"There is no remote operation {operation_id}.")
    return operation


def _describe(error: Exception) -> str:
    message = getattr(error, "message", None) or str(error) or ""
    return f"{type(error).__name__}: {message}"[:2000]
