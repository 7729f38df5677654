"""The package build as a job: its progress moves as each file streams (and is the job's
heartbeat), a build longer than the outbox lease is not run twice, a build that lost its
job to another delivery publishes nothing, and the escrow key is checked like an agency's."""

from __future__ import annotations

import io
import os
import time
from dataclasses import replace

import pyrage
import pytest
from sqlalchemy import select

from config import ConfigError
from flask import render_template_string

from referrals import create_app
from referrals.audit.models import AuditEvent
from referrals.core import outbox
from referrals.core.identity import Identity
from referrals.core.outbox import OutboxEntry
from referrals.core.progress import JobProgress, progress_json
from referrals.core.transaction import commit
from referrals.evidence.services import add_evidence
from referrals.extensions import db
from referrals.packages import services
from referrals.packages.models import EvidencePackage
from referrals.packages.services import build_case_package, package_dir, package_path
from tests.cases.helpers import open_case
from tests.requests.fixtures import override_settings  # noqa: F401  (fixture)

MIB = 1024 * 1024
BAD_KEY = "age1yn49jy5m0cctx9786fhs2e5xztvewdhtsrwjjyjkfe5vhfua445skdz6jq"  # last letter changed: bad checksum


@pytest.fixture(autouse=True)
def _no_files_of_earlier_tests(app):
    import shutil

    with app.app_context():
        shutil.rmtree(package_dir(), ignore_errors=True)


@pytest.fixture
def case_with_files(agent):
    case = open_case(agent, title="Synthetic case to package")
    for name, size in (("first-large.bin", 5 * MIB), ("second-small.bin", 1000)):
        add_evidence(Identity.for_user(agent), case, io.BytesIO(os.urandom(size)),
                     original_name=name)
    commit()
    return case


@pytest.fixture
def reports(monkeypatch):
    """Every progress report of the build job, as (done, total, message); ``hooks`` run
    after each (the job's thread, between its steps or while its file streams)."""
    original = services.report_progress

    def report(progress_id, **changes):
        original(progress_id, **changes)
        progress = db.session.get(JobProgress, progress_id)
        report.seen.append((progress.done, progress.total, progress.message))
        for hook in report.hooks:
            hook(progress)

    report.seen, report.hooks = [], []
    monkeypatch.setattr(services, "report_progress", report)
    return report


def _package(case) -> EvidencePackage:
    db.session.expire_all()
    return db.session.scalar(select(EvidencePackage).where(EvidencePackage.case_id == case.id)
                             .order_by(EvidencePackage.id.desc()))


def _events(action: str, label: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action,
                                                            AuditEvent.object_id == label)))


def test_progress_moves_as_each_file_streams(agent, case_with_files, reports, monkeypatch, app):
    monkeypatch.setattr(services, "PROGRESS_EVERY", 0)
    midway = []
    reports.hooks.append(lambda progress: midway.append(progress_json(progress))
                         if 0 < progress.done < progress.total and not midway else None)
    build_case_package(Identity.for_user(agent), case_with_files)
    commit()  # the job runs at once in tests
    package = _package(case_with_files)
    assert package.status == "ready"
    total = -(-(5 * MIB + 1000) // 1024)
    streaming = [(done, message) for done, t, message in reports.seen
                 if message.startswith("Encrypting file")]
    assert any(0 < done < total and "file 1 of 2, first-large.bin" in message
               for done, message in streaming), streaming
    assert [done for done, _ in streaming] == sorted(done for done, _ in streaming)
    assert all(t == total for _, t, m in reports.seen if m.startswith("Encrypting"))
    [seen] = midway  # what the page polls, while the file streamed
    assert seen["state"] == "running" and 0 < seen["percent"] < 100
    progress = progress_json(services.progress_of(package))
    assert (progress["state"], progress["done"], progress["total"]) == ("done", total, total)


def test_the_page_counts_the_bytes_in_sizes(app):
    progress = JobProgress(kind=services.BUILD, object_type="package", object_id="1",
                           state="running", done=2560, total=5121, message="Encrypting…")
    with app.test_request_context():
        html = render_template_string(
            '{% from "packages/_progress.html" import build_progress %}'
            '{{ build_progress(p, "/progress", labels, "/back") }}', p=progress,
            labels={"running": "Running"})
    assert "2.5 MiB of 5.0 MiB" in html and 'data-progress-count="kib"' in html


def test_a_build_longer_than_the_lease_is_not_run_twice(agent, case_with_files, reports,
                                                       monkeypatch, override_settings):  # noqa: F811
    lease = 2
    override_settings(outbox_lease_seconds=lease)
    monkeypatch.setattr(services, "PROGRESS_EVERY", 0.1)
    builds = []
    real_build = services.build_package

    def slow_build(contents, *args, **kwargs):  # the bytes come slowly: the build outlives the lease
        builds.append(contents.label)
        files = [replace(item, chunks=_slowly(item.chunks)) for item in contents.files]
        return real_build(replace(contents, files=files), *args, **kwargs)

    monkeypatch.setattr(services, "build_package", slow_build)
    started, probes = time.monotonic(), []

    def another_delivery_tries(progress):  # what the sweep and a duplicate in the queue do
        if builds and progress.state == "running" and time.monotonic() - started > lease + 0.5:
            entry_id = progress.outbox_entry_id
            probes.append((entry_id, outbox.sweep(), outbox.deliver(entry_id)))
            commit()

    reports.hooks.append(another_delivery_tries)
    build_case_package(Identity.for_user(agent), case_with_files)
    commit()
    package = _package(case_with_files)
    assert time.monotonic() - started > lease * 1.5  # it did outlive the lease
    assert builds == [package.label]
    assert probes and all(delivered == "running elsewhere" for *_, delivered in probes)
    assert all(entry_id not in swept for entry_id, swept, _ in probes)
    assert package.status == "ready" and len(_events("package.ready", package.label)) == 1
    entry = db.session.get(OutboxEntry, db.session.get(JobProgress, package.progress_id)
                           .outbox_entry_id)
    assert (entry.state, entry.attempts) == ("done", 1)


def _slowly(chunks):
    def slow():
        for chunk in chunks():
            for at in range(0, len(chunk), 128 * 1024):
                time.sleep(0.1)
                yield chunk[at:at + 128 * 1024]
    return slow


def test_a_build_whose_job_was_taken_over_publishes_nothing(agent, case_with_files, reports):
    """It outlived its lease without a sign of life (a stalled disk), another delivery took
    the job over: when it comes back, it must not rename a file over the other one's."""
    taken = []

    def taken_over(progress):
        if not taken and progress.message.startswith("Encrypting"):
            entry_id = progress.outbox_entry_id
            db.session.execute(OutboxEntry.__table__.update().where(OutboxEntry.id == entry_id)
                               .values(attempts=OutboxEntry.attempts + 1))
            commit()
            taken.append(entry_id)

    reports.hooks.append(taken_over)
    build_case_package(Identity.for_user(agent), case_with_files)
    commit()
    package = _package(case_with_files)
    assert taken
    assert package.status == "building"  # the delivery that took over finishes it
    assert not package_path(package).exists()
    assert not list(package_dir().glob("*.partial"))
    assert _events("package.ready", package.label) == []


def test_a_bad_escrow_key_stops_the_app_from_starting(settings):
    with pytest.raises(ConfigError, match="REFERRALS_PACKAGE_ESCROW_RECIPIENT is not a key a "
                                          "package can be encrypted to"):
        create_app(replace(settings, package_escrow_recipient=BAD_KEY))


def test_a_bad_escrow_key_fails_the_build_plainly(agent, case_with_files,
                                                  override_settings):  # noqa: F811
    override_settings(package_escrow_recipient=BAD_KEY)  # changed after the start
    build_case_package(Identity.for_user(agent), case_with_files)
    commit()
    package = _package(case_with_files)
    assert package.status == "failed"
    assert package.failure.startswith("REFERRALS_PACKAGE_ESCROW_RECIPIENT is not a key a "
                                      "package can be encrypted to")
    assert not package_path(package).exists()


def test_the_escrow_key_opens_every_package(agent, case_with_files,
                                            override_settings):  # noqa: F811
    escrow = pyrage.x25519.Identity.generate()
    override_settings(package_escrow_recipient=f"  {escrow.to_public()}  ")
    build_case_package(Identity.for_user(agent), case_with_files)
    commit()
    package = _package(case_with_files)
    assert package.status == "ready"
    with open(package_path(package), "rb") as encrypted:
        plain = io.BytesIO()
        pyrage.decrypt_io(encrypted, plain, [escrow])
    assert b"first-large.bin" in plain.getvalue()


def test_a_package_withdrawn_while_it_was_built_publishes_nothing(agent, case_with_files,
                                                                  reports):
    withdrawn = []

    def withdraw(progress):  # a re-issue, committed while the file streams
        if not withdrawn and progress.message.startswith("Encrypting"):
            package = _package(case_with_files)
            package.status = "withdrawn"
            commit()
            withdrawn.append(package.id)

    reports.hooks.append(withdraw)
    build_case_package(Identity.for_user(agent), case_with_files)
    commit()
    package = _package(case_with_files)
    assert withdrawn == [package.id] and package.status == "withdrawn"
    assert not package_path(package).exists()
    assert not list(package_dir().glob(".*.partial"))
    assert _events("package.ready", package.label) == []
    assert services.progress_of(package).message.startswith("Withdrawn while it was built")
