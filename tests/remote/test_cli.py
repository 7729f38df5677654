"""``flask work …``: what is owed and stuck, and the check a person records."""

from __future__ import annotations

import httpx

from referrals.core.transaction import commit
from referrals.extensions import db
from referrals.remote.models import RemoteOperation
from tests.remote.test_operations import ALL_STEPS, _start, remote  # noqa: F401  (fixture)


def test_status_names_what_waits_for_a_person_and_resolve_lets_it_go_on(app, remote):
    remote.trouble[("submit", 1)] = httpx.ReadTimeout("answer lost (synthetic)")
    operation_id = _start()
    commit()
    runner = app.test_cli_runner()
    status = runner.invoke(args=["work", "status"])
    assert status.exit_code == 0, status.output
    assert f"#{operation_id} test.report for case CASE-1: needs_check" in status.output
    assert "may have happened at the remote" in status.output
    assert "Outbox: " in status.output and "done" in status.output

    refused = runner.invoke(args=["work", "resolve", str(operation_id), "--happened",
                                  "--remote-id", "report_id"])
    assert refused.exit_code != 0 and "NAME=VALUE" in refused.output
    resolved = runner.invoke(args=["work", "resolve", str(operation_id), "--happened",
                                   "--remote-id", "report_id=R-1001"])
    assert resolved.exit_code == 0, resolved.output
    db.session.expire_all()
    assert db.session.get(RemoteOperation, operation_id).state == "done"
    assert remote.posts() == ALL_STEPS  # the submit was not made twice

    again = runner.invoke(args=["work", "resolve", str(operation_id), "--not-happened"])
    assert again.exit_code == 1 and "not waiting for a check" in again.output
    missing = runner.invoke(args=["work", "resolve", "999999", "--not-happened"])
    assert missing.exit_code == 1 and "There is no remote operation 999999" in missing.output


def test_sweep_says_how_much_it_handed_over(app):
    result = app.test_cli_runner().invoke(args=["work", "sweep"])
    assert result.exit_code == 0 and "Handed 0 outbox entries to the job queue." in result.output
