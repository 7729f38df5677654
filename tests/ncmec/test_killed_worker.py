"""A real worker process (huey's SQLite queue) killed while sending a CyberTipline report,
after the uploads and file details and before finish; a new worker resumes at finish and
NCMEC (the sandbox over HTTP) sees one report, each file once, one finish."""

from __future__ import annotations

import base64
import io
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from referrals.core.identity import Identity
from referrals.core.transaction import unit_of_work
from referrals.disclosures.models import Disclosure
from referrals.demo.cases import synthetic_png
from referrals.evidence.services import add_evidence, record_custody
from referrals.extensions import db
from referrals.ncmec import services
from referrals.ncmec.models import NcmecReport
from referrals.remote.models import RemoteOperation
from tests import factories
from tests.servers import stop as _stop
from tests.ncmec.conftest import grooming_case
from tests.ncmec.sandbox_server import PASSWORD, USERNAME
from tests.separate_databases import ROOT, app_for, cli_environ, separate_database

LEASE_SECONDS = 2


def _wait(condition, what: str, logs: list[Path], timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        db.session.rollback()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; worker logs:\n"
                + "\n".join(log.read_text() for log in logs if log.exists()))


def _report(report_id: int) -> NcmecReport:
    return db.session.get(NcmecReport, report_id, populate_existing=True)


def test_a_killed_worker_resumes_at_finish_and_finishes_once(app, settings, tmp_path,
                                                             sandbox_server):
    sandbox_server.state.reset()
    consumer = Path(sys.executable).parent / "huey_consumer"
    instance = tmp_path / "instance"
    gate = tmp_path / "gate"
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    workers: list[subprocess.Popen] = []
    keys = ",".join(f"{i}:{base64.urlsafe_b64encode(k).decode()}"
                    for i, k in settings.storage_keys.items())
    ncmec = {"ncmec_base_url": sandbox_server.base_url, "ncmec_username": USERNAME,
             "ncmec_password": PASSWORD, "http_retries": 0}
    with separate_database(settings, tmp_path, "ncmec") as url:
        from flask_migrate import upgrade

        sender = app_for(settings, url, jobs_immediate=False, instance_path=instance,
                         outbox_lease_seconds=LEASE_SECONDS, **ncmec)
        with sender.app_context():
            upgrade()
            db.session.remove()
        environ = cli_environ(
            settings, url, REFERRALS_JOBS_IMMEDIATE="0", REFERRALS_INSTANCE_PATH=str(instance),
            REFERRALS_OUTBOX_LEASE_SECONDS=str(LEASE_SECONDS), REFERRALS_STORAGE_KEYS=keys,
            REFERRALS_NCMEC_BASE_URL=sandbox_server.base_url, REFERRALS_NCMEC_USERNAME=USERNAME,
            REFERRALS_NCMEC_PASSWORD=PASSWORD, REFERRALS_HTTP_RETRIES="0",
            NCMEC_TEST_GATE=str(gate))

        def start_worker(log: Path) -> subprocess.Popen:
            worker = subprocess.Popen(
                [str(consumer), "tests.ncmec.gated_worker.huey", "--workers", "1",
                 "--delay", "0.1", "--no-periodic"],
                cwd=ROOT, env=environ, stdout=log.open("w"), stderr=subprocess.STDOUT)
            workers.append(worker)
            return worker

        try:
            first = start_worker(logs[0])
            with sender.app_context():
                with unit_of_work():
                    agent = factories.make_user("agent", cleared_for_csam=True)
                    supervisor = factories.make_user("supervisor", cleared_for_csam=True)
                    case = grooming_case()
                    for seed, name in ((31, "one.png"), (32, "two.png")):
                        item = add_evidence(Identity.for_user(agent), case,
                                            io.BytesIO(synthetic_png(seed=seed)),
                                            original_name=name)
                    record_custody(Identity.for_user(supervisor), item, "viewed", "review")
                    report = services.draft_report(Identity.for_user(agent), case)
                    services.confirm_report(Identity.for_user(supervisor), case, report)
                    services.submit_report(Identity.for_user(supervisor), case, report)
                    report_id = report.id

                _wait(lambda: Path(f"{gate}.started").exists(), "the worker to reach finish",
                      logs)
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=10)
                report = _report(report_id)
                remote = sandbox_server.state.reports[int(report.remote_report_id)]
                assert report.status == "submitting" and remote.state == "open"
                assert len(remote.files) == 2
                assert all(f["details"] for f in remote.files.values())
                db.session.rollback()

                gate.touch()
                time.sleep(LEASE_SECONDS + 0.5)  # the dead worker's lease runs out
                start_worker(logs[1])  # it sweeps as it starts
                _wait(lambda: _report(report_id).status == "finished", "the report to finish",
                      logs)
                report = _report(report_id)
                # The last step's commit finishes the report; the operation is marked done
                # by the next commit (a worker killed in between marks it when it resumes).
                _wait(lambda: db.session.get(RemoteOperation, report.operation_id,
                                             populate_existing=True).state == "done",
                      "the operation to be marked done", logs)
                report = _report(report_id)
                operation = db.session.get(RemoteOperation, report.operation_id)
                assert operation.state == "done"
                assert remote.state == "finished" and report.hold_id is not None
                counts = sandbox_server.state.counts
                assert (counts["submit"], counts["upload"], counts["fileinfo"],
                        counts["finish"]) == (1, 2, 2, 1)
                disclosures = db.session.scalars(select(Disclosure).where(
                    Disclosure.case_id == report.case_id)).all()
                assert [d.kind for d in disclosures] == ["ncmec_report"]
                assert disclosures[0].id == report.disclosure_id
                assert len(disclosures[0].items) == 2
                db.session.remove()
                db.engine.dispose()
        finally:
            for worker in workers:
                _stop(worker)
