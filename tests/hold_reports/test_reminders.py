"""The hold sweep: reminders before expiry (once each, never a burst), the expiry itself,
what the owner, the team and the agency are told, and the job and command that run it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.core.identity import system_identity
from referrals.job_queue import EXTENSION
from referrals.core.transaction import unit_of_work
from referrals.extensions import db
from referrals.holds.models import HoldEvent, HoldReminder, PreservationHold
from referrals.holds.reminders import EXPIRED, REVIEW_NOTICE_DAYS, sweep, sweep_holds
from referrals.holds.scope import is_held
from referrals.requests.models import RequestMessage
from tests import factories
from tests.hold_reports.conftest import NOW

TEAM = "ler-team@platform.example"
ROOT = Path(__file__).resolve().parents[2]


def run_sweep(at):
    """One sweep as the worker runs it: one transaction, mail sent after the commit."""
    with unit_of_work():
        report = sweep(at, system_identity("test:hold sweep"))
    db.session.expire_all()
    return report


def reminders_of(hold) -> list[tuple[int, object]]:
    rows = db.session.scalars(select(HoldReminder).where(HoldReminder.hold_id == hold.id)
                              .order_by(HoldReminder.days_before))
    return [(row.days_before, row.expires_at) for row in rows]


def events_of(hold, kind: str) -> list[HoldEvent]:
    return list(db.session.scalars(select(HoldEvent).where(HoldEvent.hold_id == hold.id,
                                                           HoldEvent.kind == kind)
                                   .order_by(HoldEvent.id)))


def portal_messages(request) -> list[RequestMessage]:
    return list(db.session.scalars(select(RequestMessage).where(
        RequestMessage.request_id == request.id).order_by(RequestMessage.id)))


def subjects(mailbox, address: str) -> list[str]:
    return [m["Subject"] for m in mailbox.to(address)]


# --- reminders before expiry ---------------------------------------------------------------


def test_reminders_at_14_and_7_days_are_sent_once_each(make_hold, preservation_request, team,
                                                       mailbox):
    owner = factories.make_user("agent", email="owner.agent@platform.example")
    hold = make_hold(expires_at=NOW + timedelta(days=20), request=preservation_request,
                     owner=owner)
    expires = hold.expires_at

    assert run_sweep(NOW).reminded == []  # 20 days out: nothing yet
    assert mailbox.messages == []

    fourteen = expires - timedelta(days=14) + timedelta(hours=1)
    assert run_sweep(fourteen).reminded == [(hold.reference, 14)]
    assert run_sweep(fourteen).reminded == []  # the same sweep again sends nothing
    assert run_sweep(fourteen + timedelta(days=3)).reminded == []  # 10 days left: none due
    assert subjects(mailbox, TEAM) == [f"Hold {hold.reference} expires in 14 days"]
    assert subjects(mailbox, owner.email) == [f"Hold {hold.reference} expires in 14 days"]

    body = mailbox.body(mailbox.to(TEAM)[0])
    assert hold.reference in body
    assert "expires in 14 days, on 23 Mar 2026 10:00 PDT (America/Los_Angeles)" in body
    assert f"https://referrals.example/holds/{hold.reference}" in body

    seven = expires - timedelta(days=7) + timedelta(minutes=5)
    assert run_sweep(seven).reminded == [(hold.reference, 7)]
    assert run_sweep(seven + timedelta(hours=1)).reminded == []
    assert subjects(mailbox, TEAM) == [f"Hold {hold.reference} expires in 14 days",
                                       f"Hold {hold.reference} expires in 7 days"]
    assert [d for d, _ in reminders_of(hold)] == [7, 14]
    assert all(at == expires for _, at in reminders_of(hold))
    assert len(events_of(hold, "reminder")) == 2
    assert len(portal_messages(preservation_request)) == 2
    audited = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "hold.reminder_sent", AuditEvent.object_id == hold.reference)
        .order_by(AuditEvent.seq)).all()
    assert [json.loads(e.after)["days_before"] for e in audited] == [14, 7]


def test_missed_sweeps_send_only_the_nearest_reminder(make_hold, preservation_request, team,
                                                      mailbox):
    hold = make_hold(expires_at=NOW + timedelta(days=5), request=preservation_request)

    report = run_sweep(NOW)
    assert report.reminded == [(hold.reference, 7)]
    assert report.passed_over == [(hold.reference, 14)]
    assert subjects(mailbox, TEAM) == [f"Hold {hold.reference} expires in 5 days"]
    assert len(portal_messages(preservation_request)) == 1
    # The 14-day one is recorded as passed over, so it never goes out later either.
    assert [d for d, _ in reminders_of(hold)] == [7, 14]
    assert run_sweep(NOW + timedelta(days=1)).reminded == []
    assert len(mailbox.to(TEAM)) == 1


def test_a_renewal_moves_the_expiry_and_its_reminders_fall_due_again(
        make_hold, preservation_request, team, mailbox):
    hold = make_hold(expires_at=NOW + timedelta(days=6), request=preservation_request)
    assert run_sweep(NOW).reminded == [(hold.reference, 7)]

    # What the holds core does on a 2703(f) renewal: 90 more days from the end of the first.
    hold = db.session.get(PreservationHold, hold.id)
    hold.expires_at = hold.expires_at + timedelta(days=90)
    hold.renewals, hold.status = 1, "extended"
    db.session.flush()

    assert run_sweep(NOW + timedelta(days=1)).reminded == []  # 95 days out
    due = hold.expires_at - timedelta(days=13)
    assert run_sweep(due).reminded == [(hold.reference, 14)]
    assert run_sweep(due).reminded == []
    assert subjects(mailbox, TEAM) == [f"Hold {hold.reference} expires in 6 days",
                                       f"Hold {hold.reference} expires in 13 days"]
    latest = portal_messages(preservation_request)[-1].body
    assert "already been renewed once" in latest  # no second 2703(f) renewal offered
    assert {at for _, at in reminders_of(hold)} == {NOW + timedelta(days=6), hold.expires_at}


def test_the_reminder_days_are_a_setting(make_hold, preservation_request, team,
                                         override_settings, mailbox):
    override_settings(hold_reminder_days=(30,))
    hold = make_hold(expires_at=NOW + timedelta(days=25), request=preservation_request)
    assert run_sweep(NOW).reminded == [(hold.reference, 30)]
    assert run_sweep(NOW + timedelta(days=20)).reminded == []  # no 7-day reminder configured


def test_owner_is_the_hold_owner_else_the_request_assignee(make_hold, preservation_request,
                                                           team, mailbox):
    assignee = factories.make_user("agent", email="assignee.agent@platform.example")
    preservation_request.assignee_id = assignee.id
    owner = factories.make_user("agent", email="hold.owner@platform.example")
    owned = make_hold(expires_at=NOW + timedelta(days=3), request=preservation_request, owner=owner)
    unowned = make_hold(expires_at=NOW + timedelta(days=4), request=preservation_request)
    run_sweep(NOW)
    assert subjects(mailbox, owner.email) == [f"Hold {owned.reference} expires in 3 days"]
    assert subjects(mailbox, assignee.email) == [f"Hold {unowned.reference} expires in 4 days"]


def test_without_team_addresses_the_on_call_is_told(make_hold, preservation_request, team,
                                                    override_settings, mailbox):
    override_settings(team_emails=(), oncall_emails=("oncall@platform.example",))
    hold = make_hold(expires_at=NOW + timedelta(days=2), request=preservation_request)
    run_sweep(NOW)
    assert subjects(mailbox, "oncall@platform.example") == [f"Hold {hold.reference} expires in 2 days"]


def test_ended_holds_are_not_reminded(make_hold, preservation_request, team, mailbox):
    make_hold(expires_at=NOW + timedelta(days=3), request=preservation_request, status="released",
              ended_at=NOW - timedelta(days=1))
    report = run_sweep(NOW)
    assert (report.reminded, report.expired) == ([], [])
    assert mailbox.messages == []


# --- the agency's side ----------------------------------------------------------------------


def test_the_agency_reads_the_reminder_in_the_portal_and_gets_a_content_free_email(
        make_hold, preservation_request, officer_a, team, mailbox, new_client):
    hold = make_hold(expires_at=NOW + timedelta(days=7), request=preservation_request)
    run_sweep(NOW + timedelta(minutes=1))

    [message] = portal_messages(preservation_request)
    assert (message.internal, message.from_agency, message.author_id) == (False, False, None)
    assert f"The preservation {hold.reference} on this request expires on 10 Mar 2026" in message.body
    assert "(America/Los_Angeles), in 7 days" in message.body
    assert "“Preservation renewal” request" in message.body
    assert preservation_request.reference in message.body

    [mail] = mailbox.to(officer_a.email)
    assert mail["Subject"] == "An update on your request"
    body = mailbox.body(mail)
    assert f"/portal/requests/{preservation_request.reference}" in body
    for secret in (hold.reference, "March 2026", "made_up_target_one", "expire", "preserv"):
        assert secret not in body, f"{secret!r} travelled by e-mail"

    page = new_client(officer_a).get(f"/portal/requests/{preservation_request.reference}")
    assert page.status_code == 200
    assert f"The preservation {hold.reference} on this request expires on" in page.text


def test_a_hold_on_no_request_reminds_only_the_team(make_hold, agency_a, team, mailbox):
    hold = make_hold(expires_at=NOW + timedelta(days=6), kind="ncmec_report", agency=agency_a)
    assert run_sweep(NOW).reminded == [(hold.reference, 7)]
    assert [m["X-Envelope-To"] for m in mailbox.messages] == [TEAM]
    assert "owner and team" in events_of(hold, "reminder")[0].body


# --- expiry ---------------------------------------------------------------------------------


def test_expiry_marks_the_hold_expired_and_tells_everyone(make_hold, preservation_request,
                                                          officer_a, team, mailbox):
    owner = factories.make_user("agent", email="owner.expiry@platform.example")
    expires = NOW - timedelta(hours=2)
    hold = make_hold(expires_at=expires, request=preservation_request, owner=owner)

    report = run_sweep(NOW)
    assert report.expired == [hold.reference]
    hold = db.session.get(PreservationHold, hold.id)
    assert hold.status == "expired"
    assert hold.ended_at == expires  # when the period ended, not when the sweep noticed
    assert not is_held(hold, NOW)
    assert (EXPIRED, expires) in reminders_of(hold)
    [event] = events_of(hold, "expired")
    assert "the agency was told" in event.body

    [audit] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "hold.expired", AuditEvent.object_id == hold.reference)).all()
    assert (audit.actor_kind, audit.actor_label) == ("system", "test:hold sweep")
    assert json.loads(audit.before)["status"] == "active"
    assert json.loads(audit.after)["status"] == "expired"

    assert subjects(mailbox, owner.email) == [f"Hold {hold.reference} has expired"]
    assert subjects(mailbox, TEAM) == [f"Hold {hold.reference} has expired"]
    assert subjects(mailbox, officer_a.email) == ["An update on your request"]
    assert hold.reference not in mailbox.body(mailbox.to(officer_a.email)[0])
    [message] = portal_messages(preservation_request)
    assert f"The preservation {hold.reference} on this request expired on 3 Mar 2026" in message.body

    again = run_sweep(NOW + timedelta(hours=1))
    assert (again.expired, again.reminded) == ([], [])
    assert len(mailbox.messages) == 2  # owner and team in one, the officers in the other


def test_a_hold_that_expires_between_sweeps_gets_the_expiry_notice_not_a_late_reminder(
        make_hold, preservation_request, team, mailbox):
    hold = make_hold(expires_at=NOW - timedelta(minutes=10), request=preservation_request)
    report = run_sweep(NOW)
    assert (report.expired, report.reminded) == ([hold.reference], [])
    assert subjects(mailbox, TEAM) == [f"Hold {hold.reference} has expired"]


def test_holds_without_an_expiry_never_expire(make_hold, team, mailbox):
    hold = make_hold(expires_at=None, kind="internal", review_due_at=NOW + timedelta(days=100))
    assert run_sweep(NOW + timedelta(days=60)).expired == []
    assert db.session.get(PreservationHold, hold.id).status == "active"


# --- internal holds: review reminders ---------------------------------------------------


def test_internal_holds_get_one_review_reminder_per_review_date(make_hold, team, mailbox):
    owner = factories.make_user("supervisor", email="legal.owner@platform.example")
    review = NOW + timedelta(days=10)
    hold = make_hold(expires_at=None, kind="internal", review_due_at=review, owner=owner)

    assert run_sweep(NOW).review_reminded == []  # 10 days ahead: not yet
    soon = review - timedelta(days=REVIEW_NOTICE_DAYS) + timedelta(hours=1)
    assert run_sweep(soon).review_reminded == [hold.reference]
    assert run_sweep(soon + timedelta(days=3)).review_reminded == []
    assert subjects(mailbox, owner.email) == [f"Hold {hold.reference}: review due"]
    assert "is due in 7 days" in mailbox.body(mailbox.to(owner.email)[0])
    assert (-REVIEW_NOTICE_DAYS, review) in reminders_of(hold)

    # Reviewed and kept: the next review date gets its own reminder.
    hold = db.session.get(PreservationHold, hold.id)
    hold.review_due_at = review + timedelta(days=180)
    db.session.flush()
    assert run_sweep(hold.review_due_at - timedelta(days=2)).review_reminded == [hold.reference]
    assert len(mailbox.to(owner.email)) == 2


def test_an_overdue_review_is_reminded_once(make_hold, team, mailbox):
    hold = make_hold(expires_at=None, kind="internal", review_due_at=NOW - timedelta(days=3))
    assert run_sweep(NOW).review_reminded == [hold.reference]
    assert run_sweep(NOW + timedelta(days=1)).review_reminded == []
    assert subjects(mailbox, TEAM) == [f"Hold {hold.reference}: review overdue"]


# --- the job and the command ----------------------------------------------------------------


def test_sweep_holds_is_a_periodic_task_of_the_worker(app):
    from datetime import datetime

    huey = app.extensions[EXTENSION].huey

    def due_at(moment) -> set[str]:  # what the consumer's scheduler would enqueue then
        return {task.name for task in huey.read_periodic(moment)}

    assert sweep_holds.name in due_at(datetime(2026, 3, 3, 10, 5))  # hourly, at five past
    assert sweep_holds.name in due_at(datetime(2026, 3, 3, 23, 5))
    assert sweep_holds.name not in due_at(datetime(2026, 3, 3, 10, 6))


def test_the_worker_is_started_with_periodic_tasks_on():
    script = (ROOT / "bin" / "run-dev").read_text()
    line = next(line for line in script.splitlines() if "huey_consumer" in line)
    assert "referrals.worker.huey" in line
    assert "--no-periodic" not in line and " -n" not in line


def test_the_periodic_task_sweeps_in_the_app(app, make_hold, preservation_request, team,
                                             mailbox, at_now):
    hold = make_hold(expires_at=NOW - timedelta(hours=1), request=preservation_request)
    app.extensions[EXTENSION].tasks[sweep_holds.name]()  # immediate mode: runs here, commits
    db.session.expire_all()
    assert db.session.get(PreservationHold, hold.id).status == "expired"
    [audit] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "hold.expired", AuditEvent.object_id == hold.reference)).all()
    assert audit.actor_label == "job:sweep_holds"


def test_the_sweep_command(app, make_hold, preservation_request, team, mailbox, at_now):
    expired = make_hold(expires_at=NOW - timedelta(hours=1), request=preservation_request)
    reminded = make_hold(expires_at=NOW + timedelta(days=6), request=preservation_request)
    result = app.test_cli_runner().invoke(args=["holds", "sweep"])
    assert result.exit_code == 0, result.output
    assert "1 hold(s) expired, 1 expiry reminder(s) sent" in result.output
    assert f"expired   {expired.reference}" in result.output
    assert f"reminded  {reminded.reference} (7 days before expiry)" in result.output
    again = app.test_cli_runner().invoke(args=["holds", "sweep"])
    assert "0 hold(s) expired, 0 expiry reminder(s) sent" in again.output


def test_an_eu_hold_is_reminded_in_its_own_legal_zone(make_hold, officer_a, team, mailbox):
    from tests.requests.helpers import eu_order_record

    request = eu_order_record(officer_a)
    hold = make_hold(kind="eu_epoc_pr", expires_at=NOW + timedelta(days=6), request=request)
    run_sweep(NOW)
    body = mailbox.body(mailbox.to(TEAM)[0])
    assert "on 9 Mar 2026 17:00 GMT (Europe/Dublin)" in body
    [message] = portal_messages(request)
    assert "(Europe/Dublin)" in message.body and "Annex VI" in message.body
    assert hold.reference in message.body
