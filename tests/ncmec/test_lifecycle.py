"""The whole CyberTipline lifecycle over real HTTP against the sandbox on loopback: draft,
a second person confirms, submit → upload → fileinfo → finish, the report id kept before any
upload, the 1-year hold placed, a killed worker resuming once, unknown outcomes never
repeated, non-zero responseCodes failing whatever the HTTP status, and retract."""

from __future__ import annotations

from datetime import timedelta
from xml.etree.ElementTree import fromstring

import pytest
from sqlalchemy import select

from referrals.accounts.models import User
from referrals.audit.services import verify_chain
from referrals.core import outbox
from referrals.core.clock import now
from referrals.core.errors import DomainError
from referrals.core.identity import Identity
from referrals.core.transaction import commit
from referrals.disclosures.models import Disclosure
from referrals.extensions import db
from referrals.holds.models import PreservationHold
from referrals.ncmec import services
from referrals.ncmec.models import NcmecReport
from referrals.ncmec.xml import ReportInvalid
from referrals.remote import operations
from referrals.remote.models import RemoteOperation
from tests.ncmec.conftest import add_file, grooming_case


@pytest.fixture
def people(make_user):
    return (Identity.for_user(make_user("agent", cleared_for_csam=True)),
            Identity.for_user(make_user("supervisor", cleared_for_csam=True)))


def _confirmed(people, *, case=None, files=2):
    drafter, confirmer = people
    case = case or grooming_case()
    drafter_user = db.session.get(User, drafter.user_id)
    confirmer_user = db.session.get(User, confirmer.user_id)
    if files >= 1:
        add_file(drafter_user, case, "seen.png", seed=11, viewed_by=confirmer_user)
    if files >= 2:
        add_file(drafter_user, case, "unseen.png", seed=12)
    report = services.draft_report(drafter, case)
    with pytest.raises(DomainError, match="You drafted this report"):
        services.confirm_report(drafter, case, report)
    services.confirm_report(confirmer, case, report)
    return case, report


def _only_disclosure(report: NcmecReport) -> Disclosure:
    disclosures = db.session.scalars(select(Disclosure).where(
        Disclosure.case_id == report.case_id, Disclosure.kind == "ncmec_report")).all()
    assert len(disclosures) == 1
    assert report.disclosure_id == disclosures[0].id
    return disclosures[0]


def _reload(report_id: int) -> NcmecReport:
    db.session.expire_all()
    return db.session.get(NcmecReport, report_id)


def test_the_whole_lifecycle_over_http(app, sandbox, people):
    case, report = _confirmed(people)
    operation = services.submit_report(people[1], case, report)
    assert sandbox.calls == []  # nothing leaves before the commit
    commit()
    report = _reload(report.id)
    operation = db.session.get(RemoteOperation, operation.id)
    assert operation.state == "done", operation.last_error
    assert [s.name for s in operation.steps] == [
        "submit", "opened", "upload", "upload", "fileinfo", "fileinfo", "finish", "finished"]
    assert report.status == "finished" and report.finished_at is not None
    remote = sandbox.reports[int(report.remote_report_id)]
    assert remote.state == "finished" and len(remote.files) == 2
    # Every NCMEC answer's Request-ID is on its step.
    sent = {rid for _, rid in sandbox.calls}
    remote_steps = [s for s in operation.steps if s.name not in ("opened", "finished")]
    assert all(s.remote_request_id in sent for s in remote_steps)
    # The files' details say which a person viewed, and nothing more.
    viewed = {}
    for entry in remote.files.values():
        details = fromstring(entry["details"])
        viewed[details.findtext("originalFileName")] = details.findtext("fileViewedByEsp")
    assert viewed == {"seen.png": "true", "unseen.png": "false"}
    assert b"1 of the 2 files" in remote.xml
    # The hold: one year from completion, for the reported account.
    hold = db.session.get(PreservationHold, report.hold_id)
    assert hold.kind == "ncmec_report" and hold.external_reference == report.remote_report_id
    assert hold.expires_at > now() + timedelta(days=364)
    assert verify_chain().ok
    # The disclosure record, written with the finish.
    disclosure = _only_disclosure(report)
    assert disclosure.kind == "ncmec_report" and disclosure.case_id == case.id
    assert disclosure.agency.kind == "ncmec" and disclosure.recipient_country == "US"
    assert disclosure.legal_basis.startswith("18 U.S.C. 2258A")
    assert report.remote_report_id in disclosure.legal_basis
    items = services.report_items(report)
    assert {(i.evidence_id, i.sha256) for i in disclosure.items} == {
        (i.id, i.sha256) for i in items}
    assert ("platform_user_id", hold.identifiers[0].value.lower()) in {
        (s.kind, s.identifier.lower()) for s in disclosure.subjects}
    assert disclosure.prepared_by_id == people[0].user_id
    assert disclosure.approved_by_id == people[1].user_id
    assert disclosure.disclosed_by_id == people[1].user_id  # who pressed send
    for item in items:
        disclosed = [e for e in item.custody_events if e.action == "disclosed"]
        assert len(disclosed) == 1 and report.remote_report_id in disclosed[0].purpose

    # A later report about the same account lists the earlier one.
    later = grooming_case(identifiers=[(i.kind, i.value) for i in hold.identifiers
                                       if i.kind == "platform_user_id"])
    second = services.draft_report(people[0], later)
    services.confirm_report(people[1], later, second)
    services.submit_report(people[1], later, second)
    commit()
    second = _reload(second.id)
    xml = fromstring(sandbox.reports[int(second.remote_report_id)].xml)
    assert [e.text for e in xml.iter("priorCTReports")] == [report.remote_report_id]


def test_the_report_id_is_kept_before_any_upload(app, sandbox, people, monkeypatch):
    case, report = _confirmed(people, files=1)
    real = operations._event
    seen = {}

    def watch(kind, action, operation, step=None, **after):
        if action == "remote.step_started" and step.name == "upload":
            seen["id"] = db.session.get(NcmecReport, report.id).remote_report_id
        return real(kind, action, operation, step, **after)

    monkeypatch.setattr(operations, "_event", watch)
    services.submit_report(people[1], case, report)
    commit()
    assert seen["id"] and seen["id"] == _reload(report.id).remote_report_id


def test_a_worker_killed_between_upload_and_finish_resumes_and_finishes_once(
        app, sandbox, people, monkeypatch, frozen):
    case, report = _confirmed(people)
    real = operations._event
    died = []

    def dies_before_finish(kind, action, operation, step=None, **after):
        if action == "remote.step_started" and step.name == "finish" and not died:
            died.append(step.position)
            raise RuntimeError("the worker died here (synthetic)")
        return real(kind, action, operation, step, **after)

    monkeypatch.setattr(operations, "_event", dies_before_finish)
    start = frozen(now())
    operation_id = services.submit_report(people[1], case, report).id
    commit()
    report = _reload(report.id)
    assert died and report.status == "submitting" and report.remote_report_id
    remote = sandbox.reports[int(report.remote_report_id)]
    assert remote.state == "open" and len(remote.files) == 2
    lease = app.config["REFERRALS_SETTINGS"].outbox_lease_seconds
    frozen(start + timedelta(seconds=lease + 60))
    assert outbox.sweep()
    report = _reload(report.id)
    assert report.status == "finished" and remote.state == "finished"
    assert sandbox.counts.get("submit") == 1 and sandbox.counts.get("finish") == 1
    assert sandbox.counts.get("upload") == 2 and sandbox.counts.get("fileinfo") == 2
    holds = db.session.scalars(select(PreservationHold).where(
        PreservationHold.external_reference == report.remote_report_id)).all()
    assert len(holds) == 1
    assert db.session.get(RemoteOperation, operation_id).state == "done"
    assert len(_only_disclosure(report).items) == 2


def test_a_worker_killed_after_the_finish_was_recorded_writes_one_disclosure(
        app, sandbox, people, monkeypatch, frozen):
    """The finish's records commit together; a worker that dies before the step is marked
    done runs the step again, finds the report finished and records nothing twice."""
    case, report = _confirmed(people)
    real = operations._event
    died = []

    def dies_after_finished(kind, action, operation, step=None, **after):
        if action == "remote.step_done" and step.name == "finished" and not died:
            died.append(step.position)
            raise RuntimeError("the worker died here (synthetic)")
        return real(kind, action, operation, step, **after)

    monkeypatch.setattr(operations, "_event", dies_after_finished)
    start = frozen(now())
    operation_id = services.submit_report(people[1], case, report).id
    commit()
    report = _reload(report.id)
    assert died and report.status == "finished"
    assert db.session.get(RemoteOperation, operation_id).state != "done"
    first = _only_disclosure(report)
    lease = app.config["REFERRALS_SETTINGS"].outbox_lease_seconds
    frozen(start + timedelta(seconds=lease + 60))
    assert outbox.sweep()
    report = _reload(report.id)
    assert db.session.get(RemoteOperation, operation_id).state == "done"
    assert _only_disclosure(report).id == first.id
    for item in services.report_items(report):
        assert [e.action for e in item.custody_events].count("disclosed") == 1
    assert sandbox.counts.get("finish") == 1


def test_a_submit_whose_answer_was_lost_is_not_sent_again(app, sandbox, people):
    case, report = _confirmed(people, files=0)
    sandbox.trouble[("submit", 1)] = "lost"
    operation_id = services.submit_report(people[1], case, report).id
    commit()
    operation = db.session.get(RemoteOperation, operation_id)
    assert operation.state == "needs_check" and operation.steps[0].state == "unknown"
    assert operations.advance_operation(operation_id) == "needs_check"
    assert sandbox.counts["submit"] == 1 and len(sandbox.reports) == 1


def test_a_non_zero_response_code_fails_even_with_http_200(app, sandbox, people):
    case, report = _confirmed(people, files=1)
    sandbox.trouble[("fileinfo", 1)] = 4100  # answered with HTTP 200
    operation_id = services.submit_report(people[1], case, report).id
    commit()
    operation = db.session.get(RemoteOperation, operation_id)
    report = _reload(report.id)
    assert operation.state == "failed"
    assert "responseCode 4100" in operation.last_error and "Request-ID" in operation.last_error
    assert services.effective_status(report) == "failed"
    assert report.hold_id is None and sandbox.counts.get("finish") is None

    # Retract before finish: NCMEC cancels the report it opened.
    services.retract_report(people[0], db.session.get(type(case), case.id), report)
    commit()
    report = _reload(report.id)
    assert report.status == "retracted"
    assert sandbox.reports[int(report.remote_report_id)].state == "retracted"


def test_a_finished_report_cannot_be_retracted(app, sandbox, people):
    case, report = _confirmed(people, files=0)
    services.submit_report(people[1], case, report)
    commit()
    with pytest.raises(DomainError, match="not finished can be retracted"):
        services.retract_report(people[0], case, _reload(report.id))


def test_invalid_data_is_refused_before_anything_is_sent(app, sandbox, people,
                                                         override_settings):
    override_settings(ncmec_reporter_email="")
    with pytest.raises(ReportInvalid, match="reportingPerson › email"):
        _confirmed(people, files=0)
    assert sandbox.calls == []


def test_the_sandbox_wants_credentials(app, sandbox, people, override_settings):
    override_settings(ncmec_password="wrong")
    case, report = _confirmed(people, files=0)
    operation_id = services.submit_report(people[1], case, report).id
    commit()
    operation = db.session.get(RemoteOperation, operation_id)
    assert operation.state == "failed" and "HTTP 401" in operation.last_error
    assert sandbox.reports == {}


def test_every_request_id_is_logged(app, sandbox, people, caplog):
    caplog.set_level("INFO", logger="referrals.ncmec.client")
    sandbox.trouble[("fileinfo", 1)] = 4100
    case, report = _confirmed(people, files=1)
    services.submit_report(people[1], case, report)
    commit()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert sandbox.calls and all(rid in logged for _, rid in sandbox.calls)
    assert "responseCode 4100" in logged
