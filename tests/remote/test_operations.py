"""Multi-step remote work: each step recorded before the next, a crash resumes at the next step,
and a step that may have happened remotely is never made again blindly.

The operation here is a made-up report lifecycle shaped like NCMEC's (submit → upload* →
fileinfo* → finish) against a fake remote behind httpx's MockTransport.
"""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.audit.services import verify_chain
from referrals.core import outbox
from referrals.core.clock import now
from referrals.core.http import HttpClient, remote_request_id
from referrals.core.identity import system_identity
from referrals.core.transaction import commit, discard_pending
from referrals.extensions import db
from referrals.remote import operations
from referrals.remote.models import RemoteOperation
from referrals.remote.operations import (OperationKind, StepCall, StepKind, StepResult,
                                         advance_operation, resolve_unknown_step,
                                         start_operation)

ACTOR = system_identity("test:remote")
FILES = ["one.jpg", "two.jpg"]
ALL_STEPS = ["submit", "upload", "upload", "fileinfo", "fileinfo", "finish"]


class FakeRemote:
    """Keeps reports and files; ``trouble[(action, n)]`` makes the n-th call of an action fail
    (an exception: the answer is lost after the remote did the work, or a response)."""

    def __init__(self):
        self.calls: list[tuple[str, str, str | None]] = []
        self.files: dict[str, str] = {}
        self.trouble: dict[tuple[str, int], object] = {}
        self.counts: dict[str, int] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        action = request.url.path.rsplit("/", 1)[-1]
        self.calls.append((request.method, action, request.headers.get("Idempotency-Key")))
        if request.method == "GET":  # a check: does the file exist?
            name = request.url.params["name"]
            return httpx.Response(200, json={"file_id": self.files.get(name)})
        self.counts[action] = self.counts.get(action, 0) + 1
        body = json.loads(request.content or b"{}")
        answer = {"submit": lambda: {"report_id": "R-1001"},
                  "upload": lambda: self._upload(body["name"]),
                  "fileinfo": lambda: {"ok": True},
                  "finish": lambda: {"finished": True}}[action]()
        trouble = self.trouble.pop((action, self.counts[action]), None)
        if isinstance(trouble, Exception):
            raise trouble  # the remote did it; the answer never arrived
        if isinstance(trouble, httpx.Response):
            return trouble
        return httpx.Response(200, json=answer,
                              headers={"X-Request-ID": f"{action}-{len(self.calls)}"})

    def _upload(self, name: str) -> dict:
        self.files[name] = f"F-{len(self.files) + 1}"
        return {"file_id": self.files[name]}

    def posts(self, action: str | None = None) -> list[str]:
        return [a for m, a, _ in self.calls if m == "POST" and action in (None, a)]


@pytest.fixture
def remote(monkeypatch):
    fake = FakeRemote()
    base = "https://reports.remote.invalid/api"

    def client() -> HttpClient:
        return HttpClient(retries=2, backoff=0, transport=httpx.MockTransport(fake))

    def post(call: StepCall, path: str, body: dict) -> StepResult:
        with client() as http:
            response = http.request("POST", f"{base}/{path}", json=body,
                                    idempotency_key=call.idempotency_key
                                    if call.step == "fileinfo" else None)
        return response.json(), remote_request_id(response)

    def submit(call):
        answer, request_id = post(call, "submit", {"files": call.payload["files"]})
        return StepResult(answer, request_id, {"report_id": answer["report_id"]})

    def upload(call):
        report = call.remote_ids["report_id"]
        answer, request_id = post(call, f"{report}/upload", {"name": call.arguments["name"]})
        return StepResult(answer, request_id, {f"file:{call.arguments['name']}": answer["file_id"]})

    def upload_check(call):
        with client() as http:
            answer = http.request("GET", f"{base}/{call.remote_ids['report_id']}/files",
                                  params={"name": call.arguments["name"]}).json()
        if answer["file_id"] is None:
            return None
        return StepResult(answer, None, {f"file:{call.arguments['name']}": answer["file_id"]})

    def fileinfo(call):
        file_id = call.remote_ids[f"file:{call.arguments['name']}"]
        answer, request_id = post(call, "fileinfo", {"file_id": file_id})
        return StepResult(answer, request_id)

    def finish(call):
        answer, request_id = post(call, "finish", {})
        return StepResult(answer, request_id)

    kind = OperationKind(
        name="test.report",
        plan=lambda payload: [("submit", {})]
        + [("upload", {"name": f}) for f in payload["files"]]
        + [("fileinfo", {"name": f}) for f in payload["files"]] + [("finish", {})],
        steps={"submit": StepKind(run=submit),
               "upload": StepKind(run=upload, check=upload_check),
               "fileinfo": StepKind(run=fileinfo, repeatable=True),
               "finish": StepKind(run=finish)},
        max_attempts=3)
    monkeypatch.setitem(operations.KINDS, kind.name, kind)
    return fake


def _start(key: str = "report-1") -> int:
    operation = start_operation(ACTOR, "test.report", key=key, payload={"files": FILES},
                                object_type="case", object_id="CASE-1")
    return operation.id


def _operation(operation_id: int) -> RemoteOperation:
    db.session.expire_all()
    return db.session.get(RemoteOperation, operation_id)


def _actions(operation_id: int) -> list[tuple[str, str | None]]:
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "remote_operation",
        AuditEvent.object_id == str(operation_id)).order_by(AuditEvent.seq))
    return [(e.action, json.loads(e.after).get("step")) for e in events]


def test_every_step_is_recorded_with_its_outcome_and_audited(app, remote):
    operation_id = _start()
    assert remote.calls == []  # nothing leaves before the commit
    commit()
    operation = _operation(operation_id)
    assert operation.state == "done" and operation.finished_at is not None
    assert operation.remote_ids == {"report_id": "R-1001", "file:one.jpg": "F-1",
                                    "file:two.jpg": "F-2"}
    assert [s.name for s in operation.steps] == ALL_STEPS
    assert all(s.state == "done" and s.attempts == 1 for s in operation.steps)
    assert [s.remote_request_id for s in operation.steps] == [
        "submit-1", "upload-2", "upload-3", "fileinfo-4", "fileinfo-5", "finish-6"]
    assert operation.steps[0].outcome == {"report_id": "R-1001"}
    assert remote.posts() == ALL_STEPS
    # Each step: its own audit event when it starts and when it is done.
    expected = [("remote.operation_started", None)]
    for step in ALL_STEPS:
        expected += [("remote.step_started", step), ("remote.step_done", step)]
    assert _actions(operation_id) == expected + [("remote.operation_done", None)]
    assert verify_chain().ok


def test_the_same_key_is_one_operation(app, remote):
    first = _start("same")
    assert _start("same") == first
    commit()
    assert remote.posts("submit") == ["submit"]


def test_a_crash_between_steps_resumes_at_the_next_step(app, remote, monkeypatch, frozen):
    """The worker dies after the first upload is recorded and before the second starts: the
    second's start is never committed. The run after it goes on from the second upload."""
    real_event = operations._event
    crashed = []

    def dies_before_the_second_upload(kind, action, operation, step=None, **after):
        if action == "remote.step_started" and step.position == 2 and not crashed:
            crashed.append(step.position)
            raise RuntimeError("the worker died here (synthetic)")
        return real_event(kind, action, operation, step, **after)

    monkeypatch.setattr(operations, "_event", dies_before_the_second_upload)
    start = frozen(now())
    operation_id = _start()
    commit()
    operation = _operation(operation_id)
    assert [s.state for s in operation.steps] == ["done", "done"] + ["pending"] * 4
    assert operation.state == "running" and crashed == [2]
    assert remote.posts() == ["submit", "upload"]

    # The worker comes back: its outbox entry is owed again once the lease is over.
    lease = app.config["REFERRALS_SETTINGS"].outbox_lease_seconds
    frozen(start + timedelta(seconds=lease + 60))
    assert outbox.sweep()
    operation = _operation(operation_id)
    assert operation.state == "done"
    assert remote.posts() == ALL_STEPS  # nothing finished was made again
    assert [s.attempts for s in operation.steps] == [1] * 6


def test_a_step_that_may_have_happened_is_not_made_again(app, remote):
    """The submit went through but its answer was lost: nothing can tell whether the report
    exists, so the operation waits for a person instead of submitting a second report."""
    remote.trouble[("submit", 1)] = httpx.ReadTimeout("answer lost (synthetic)")
    operation_id = _start()
    commit()
    operation = _operation(operation_id)
    assert operation.state == "needs_check"
    assert "may have happened" in operation.last_error
    assert operation.steps[0].state == "unknown"
    assert "did not answer" in operation.steps[0].last_error
    assert ("remote.step_unknown", "submit") in _actions(operation_id)
    assert advance_operation(operation_id) == "needs_check"  # run again: still waits
    assert remote.posts("submit") == ["submit"]

    # A person asked the remote: the report exists. The operation goes on from there.
    resolve_unknown_step(system_identity("test:staff"), _operation(operation_id),
                         happened=True, remote_ids={"report_id": "R-1001"})
    commit()
    operation = _operation(operation_id)
    assert operation.state == "done"
    assert remote.posts() == ALL_STEPS
    assert ("remote.step_resolved", "submit") in _actions(operation_id)


def test_a_crash_during_a_step_with_a_check_asks_the_remote_first(app, remote):
    """An upload left "started" (the worker died during the call): the next run asks the
    remote whether the file arrived, and uploads it only if it did not."""
    remote.trouble[("upload", 1)] = httpx.ReadTimeout("answer lost (synthetic)")
    remote.trouble[("upload", 2)] = httpx.ReadTimeout("answer lost (synthetic)")
    operation_id = _start()
    commit()
    operation = _operation(operation_id)
    assert operation.state == "waiting" and operation.steps[1].state == "unknown"
    assert remote.files == {"one.jpg": "F-1"}  # it did arrive

    advance_operation(operation_id)  # too early: the retry is for later
    assert remote.posts("upload") == ["upload"]
    operation.next_try_at = now() - timedelta(seconds=1)
    commit()
    advance_operation(operation_id)
    # The check found the first file; the second upload's answer was lost too, found by its
    # check on the next run.
    operation = _operation(operation_id)
    assert operation.steps[1].outcome == {"file_id": "F-1"}
    assert ("remote.step_checking", "upload") in _actions(operation_id)
    operation.next_try_at = now() - timedelta(seconds=1)
    commit()
    advance_operation(operation_id)
    operation = _operation(operation_id)
    assert operation.state == "done"
    assert remote.posts("upload") == ["upload", "upload"]  # neither file uploaded twice
    assert operation.remote_ids["file:two.jpg"] == "F-2"


def test_a_check_that_finds_nothing_makes_the_step_again(app, remote):
    operation_id = _start()
    discard_pending()  # not handed to the queue: this test runs it by hand
    operation = _operation(operation_id)
    # As a crash leaves it: the submit recorded, the first upload started, nothing sent yet.
    operation.steps[0].state, operation.steps[0].outcome = "done", {"report_id": "R-1001"}
    operation.remote_ids = {"report_id": "R-1001"}
    operation.steps[1].state, operation.steps[1].attempts = "started", 1
    operation.state = "running"
    commit()
    assert advance_operation(operation_id) == "done"
    assert remote.posts() == ALL_STEPS[1:]
    assert ("remote.step_checked", "upload") in _actions(operation_id)


def test_a_repeatable_step_is_made_again_with_the_same_key(app, remote):
    remote.trouble[("fileinfo", 1)] = httpx.ReadTimeout("answer lost (synthetic)")
    operation_id = _start()
    commit()
    assert _operation(operation_id).state == "done"
    keys = [key for method, action, key in remote.calls if action == "fileinfo"]
    assert len(keys) == 3 and keys[0] == keys[1] and keys[0] != keys[2]


def test_a_remote_that_cannot_be_reached_is_tried_again_later(app, remote, frozen):
    start = frozen(now())
    for n in (1, 2, 3):  # the client's own retries, all refused
        remote.trouble[("finish", n)] = httpx.Response(503)
    operation_id = _start()
    commit()
    operation = _operation(operation_id)
    assert operation.state == "waiting" and operation.steps[-1].state == "pending"
    assert operation.next_try_at == start + operations.RETRY_BASE
    assert "busy (HTTP 503)" in operation.last_error
    assert outbox.sweep() == []  # not before its time
    frozen(start + operations.RETRY_BASE)
    assert outbox.sweep()
    operation = _operation(operation_id)
    assert operation.state == "done" and operation.steps[-1].attempts == 2
    assert remote.posts("submit") == ["submit"]


def test_a_refusal_fails_the_operation(app, remote):
    remote.trouble[("submit", 1)] = httpx.Response(422, headers={"X-Request-ID": "bad-1"})
    operation_id = _start()
    commit()
    operation = _operation(operation_id)
    assert operation.state == "failed" and operation.steps[0].state == "failed"
    assert operation.steps[0].remote_request_id == "bad-1"
    assert "refused the call (HTTP 422)" in operation.last_error
    assert remote.posts() == ["submit"]
    assert advance_operation(operation_id) == "failed"
