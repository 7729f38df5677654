"""Case numbers are taken last (issue 16, part K: the API escalation's p99 in the mix was
325 ms on SQLite and up to 1 s on PostgreSQL). The year's counter row stays locked from the
number to the commit; the escalation intake used to take it with its first write, so
concurrent escalations waited for each other's whole transaction. Now the number is the last
write before the audit event: numbers stay gapless and unique, and a second escalation goes
through while the first is still writing its accounts."""

from __future__ import annotations

import threading

import pytest
from flask_migrate import upgrade
from sqlalchemy import event, func, select

from referrals.cases import escalations, services
from referrals.cases.models import Case
from referrals.cases.schemas import EscalationIn
from referrals.core.identity import Identity
from referrals.core.transaction import unit_of_work
from referrals.extensions import db
from tests.cases.helpers import escalation
from tests.separate_databases import app_for, separate_database

UPSTREAM = Identity(kind="staff", label="made-up hash matcher",
                    scopes=frozenset({"escalations:write"}))


def _receive(body: dict) -> str:
    with unit_of_work():
        return escalations.receive_escalation(UPSTREAM, EscalationIn().load(body)).case.reference


def test_the_case_number_is_the_last_write_before_the_audit_event(app):
    seen: list[str] = []

    def record(connection, cursor, statement, *args):
        seen.append(" ".join(statement.split()[:3]).upper())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        intake = escalations.receive_escalation(UPSTREAM, EscalationIn().load(escalation()))
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    writes = [s for s in seen if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    counter = next(i for i, s in enumerate(writes) if "CASE_COUNTERS" in s)
    assert writes[0].startswith("INSERT INTO CASES")  # opened first, numbered at the end
    assert all("AUDIT" in s or "CASES" == s.split()[1] for s in writes[counter + 1:]), writes
    assert intake.case.reference.startswith("CASE-")


def test_a_case_left_without_its_number_is_never_committed(app):
    actor = Identity(kind="system", label="test")
    case = services.open_case(actor, title="Synthetic", category="other", audit=False,
                              check=False, numbered=False)
    assert case.reference.startswith(services.PROVISIONAL)
    with pytest.raises(RuntimeError, match="never given their number"):
        db.session.commit()
    db.session.rollback()
    with pytest.raises(ValueError):
        services.open_case(actor, title="Synthetic", category="other", numbered=False)


def test_losing_the_duplicate_race_takes_no_number(app, monkeypatch):
    """The race's loser opened a case inside its savepoint; it had no number yet, so the
    numbering has no gap where it was."""
    before = db.session.scalar(select(func.count()).select_from(Case))
    body = escalation()
    first = escalations.receive_escalation(UPSTREAM, EscalationIn().load(body))
    real, calls = escalations._find_existing, []

    def late(source_system, external_id):
        calls.append(1)
        return None if len(calls) == 1 else real(source_system, external_id)

    monkeypatch.setattr(escalations, "_find_existing", late)
    again = escalations.receive_escalation(UPSTREAM, EscalationIn().load(body))
    assert again.duplicate and again.case.id == first.case.id
    third = escalations.receive_escalation(UPSTREAM, EscalationIn().load(escalation()))
    assert int(third.case.reference[-6:]) == int(first.case.reference[-6:]) + 1
    assert db.session.scalar(select(func.count()).select_from(Case)) == before + 2


def test_a_second_escalation_does_not_wait_for_the_first_whole_transaction(
        app, settings, tmp_path, monkeypatch):
    """The first escalation is held in the middle of its transaction, its case inserted, its
    accounts being written. On PostgreSQL (row locks) a second one takes its number, commits
    and is done meanwhile; before, the first held the counter row from its first write and
    the second waited until the first committed. SQLite lets one transaction write at a
    time: there the second waits for the first's commit (well within the busy timeout), then
    goes on, with no error and no gap."""
    postgresql = not settings.is_sqlite
    with separate_database(settings, tmp_path, "numbering") as url:
        other = app_for(settings, url)
        with other.app_context():
            upgrade()
        first_writing, go_on = threading.Event(), threading.Event()
        real = escalations._add_accounts

        def held(*args, **kwargs):
            if threading.current_thread().name == "first":
                first_writing.set()
                go_on.wait(30)
            return real(*args, **kwargs)

        monkeypatch.setattr(escalations, "_add_accounts", held)
        done: dict[str, str | BaseException] = {}

        def run(name: str) -> None:
            try:
                with other.app_context():
                    done[name] = _receive(escalation())
            except BaseException as error:  # noqa: BLE001 (reported by the assertions)
                done[name] = error

        first = threading.Thread(target=run, args=("first",), name="first")
        second = threading.Thread(target=run, args=("second",), name="second")
        first.start()
        try:
            assert first_writing.wait(30)
            second.start()
            second.join(10 if postgresql else 1)
            finished_meanwhile = not second.is_alive()
        finally:
            go_on.set()
            first.join(30)
            second.join(30)
        if postgresql:
            assert finished_meanwhile, "the second escalation waited for the first's commit"
            order = ("second", "first")
        else:
            assert not finished_meanwhile, "two transactions wrote at once on SQLite"
            order = ("first", "second")
        for number, name in enumerate(order, start=1):
            assert done[name] == f"CASE-{done[name][5:9]}-{number:06d}", done[name]
