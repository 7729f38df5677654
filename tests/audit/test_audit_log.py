"""The audit log for people: filters (indexed, keyset pages), an event's readable difference
(names, not ids), and exports of a filtered range as CSV and JSON, streamed."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from referrals.audit.log import CSV_COLUMNS, AuditFilters, event_page, export_events, parse_filters
from referrals.audit.models import AuditEvent
from referrals.audit.services import record_event
from referrals.core.errors import InvalidInput, PermissionDenied
from referrals.core.identity import Identity, system_identity
from referrals.extensions import db
from tests import factories

ACTOR = system_identity("test:audit log")


def _seq(action: str) -> int:
    return db.session.scalar(select(AuditEvent.seq).where(AuditEvent.action == action)
                             .order_by(AuditEvent.seq.desc()).limit(1))


@pytest.fixture
def history(make_user):
    """A made-up history: two agencies, a person, events on several days."""
    north = factories.AgencyFactory(name="Made-up North Police")
    south = factories.AgencyFactory(name="Made-up South Police")
    agent = make_user("agent", email="avery.agent@staff.example")
    moved = make_user("agent", email="blake.new-owner@staff.example")
    agent_id = Identity.for_user(agent)
    day = lambda d: datetime(2026, 3, d, 12, 0, tzinfo=UTC)  # noqa: E731
    record_event(agent_id, "case.assigned", object_type="case", object_id="CASE-2026-000001",
                 before={"assignee_id": agent.id, "status": "triage"},
                 after={"assignee_id": moved.id, "status": "investigating"}, occurred_at=day(2))
    record_event(ACTOR, "request.viewed", object_type="request", object_id="REQ-2026-000001",
                 agency_id=north.id, after={"page": "requests.detail"}, occurred_at=day(3))
    record_event(ACTOR, "request.status_changed", object_type="request",
                 object_id="REQ-2026-000002", agency_id=south.id,
                 before={"status": "received"}, after={"status": "=HYPERLINK(\"x\")"},
                 occurred_at=day(4))
    record_event(agent_id, "case.note_added", object_type="case", object_id="CASE-2026-000001",
                 after={"note": "@synthetic"}, occurred_at=day(5))
    db.session.flush()
    return {"north": north, "south": south, "agent": agent, "moved": moved}


def _compliance(make_user):
    return Identity.for_user(make_user("compliance"))


def test_each_filter_narrows_the_log(history, make_user):
    viewer = _compliance(make_user)
    actions = lambda **f: [e.action for e in event_page(viewer, AuditFilters(**f)).events]  # noqa: E731
    assert actions(action="case.") == ["case.note_added", "case.assigned"]
    assert actions(action="case.assigned") == ["case.assigned"]
    assert actions(actor="avery.agent@staff.example") == ["case.note_added", "case.assigned"]
    assert actions(object_type="request", object_id="REQ-2026-000002") == ["request.status_changed"]
    assert actions(agency_id=history["north"].id) == ["request.viewed"]
    between = actions(date_from=datetime(2026, 3, 3).date(), date_to=datetime(2026, 3, 4).date())
    assert between == ["request.status_changed", "request.viewed"]


def test_an_action_prefix_is_not_a_pattern(history, make_user):
    """'case.' must not match 'case_x' nor treat % or _ as wildcards."""
    record_event(ACTOR, "caseXassigned")
    record_event(ACTOR, "case_assigned")
    viewer = _compliance(make_user)
    assert {e.action for e in event_page(viewer, AuditFilters(action="case.")).events} == {
        "case.note_added", "case.assigned"}
    assert event_page(viewer, AuditFilters(action="case%")).events == []


def test_pages_are_keyset_pages_newest_first(history, make_user):
    viewer = _compliance(make_user)
    for n in range(5):
        record_event(ACTOR, "test.paged", after={"n": n})
    first = event_page(viewer, AuditFilters(action="test.paged"), size=2)
    assert [e.seq for e in first.events] == sorted((e.seq for e in first.events), reverse=True)
    second = event_page(viewer, AuditFilters(action="test.paged"), before=first.next_before, size=2)
    third = event_page(viewer, AuditFilters(action="test.paged"), before=second.next_before, size=2)
    seen = [e.seq for page in (first, second, third) for e in page.events]
    assert len(seen) == len(set(seen)) == 5 and third.next_before is None


@pytest.mark.parametrize("args, says", [
    ({"date_from": "03/04/2026"}, "YYYY-MM-DD"),
    ({"date_from": "2026-03-05", "date_to": "2026-03-01"}, "after"),
    ({"agency_id": "north"}, "agency"),
    ({"action": "x" * 201}, "too long"),
])
def test_a_bad_filter_is_refused_in_plain_words(args, says):
    with pytest.raises(InvalidInput) as refused:
        parse_filters(args)
    assert says in refused.value.message


def test_the_page_filters_and_shows_agency_names(client, as_role, history):
    as_role("compliance")
    page = client.get("/audit/", query_string={"agency_id": history["south"].id})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "request.status_changed" in html and "request.viewed" not in html
    assert "Made-up South Police" in html
    bad = client.get("/audit/", query_string={"date_from": "yesterday"})
    assert bad.status_code == 200 and "YYYY-MM-DD" in bad.get_data(as_text=True)


def test_an_event_reads_as_a_difference_with_names_not_ids(client, as_role, history):
    as_role("compliance")
    seq = _seq("case.assigned")
    page = client.get(f"/audit/events/{seq}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Assignee" in html
    assert f"avery.agent@staff.example (#{history['agent'].id})" in html
    assert f"blake.new-owner@staff.example (#{history['moved'].id})" in html
    assert "<del>triage</del>" in html and "<ins>investigating</ins>" in html
    assert client.get("/audit/events/99999999").status_code == 404


def _export(client, fmt: str, **filters) -> tuple:
    response = client.get(f"/audit/export.{fmt}", query_string=filters)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.is_streamed
    return response, response.get_data(as_text=True)


def test_the_csv_export_has_pinned_columns_and_only_the_filtered_events(client, as_role, history):
    as_role("compliance")
    response, body = _export(client, "csv", action="request.")
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(body)))
    assert tuple(rows[0]) == CSV_COLUMNS == (
        "seq", "occurred_at_utc", "actor_kind", "actor_id", "actor", "action", "object_type",
        "object_id", "agency_id", "agency", "before", "after", "ip", "user_agent", "request_id",
        "prev_hash", "hash")
    records = [dict(zip(rows[0], row)) for row in rows[1:]]
    assert [r["action"] for r in records] == ["request.viewed", "request.status_changed"]
    assert records[0]["agency"] == "Made-up North Police"
    assert records[0]["occurred_at_utc"] == "2026-03-03T12:00:00.000000+00:00"
    # A value a spreadsheet would run is written as text.
    assert records[1]["after"].startswith("'{") or records[1]["after"].startswith("{")
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


def test_a_cell_that_starts_like_a_formula_is_quoted(client, as_role, history):
    as_role("compliance")
    record_event(ACTOR, "test.formula", object_type="case", object_id="=1+1")
    _, body = _export(client, "csv", action="test.formula")
    [row] = list(csv.DictReader(io.StringIO(body)))
    assert row["object_id"] == "'=1+1"


def test_the_json_export_keeps_what_the_hash_covers(client, as_role, history):
    as_role("compliance")
    _, body = _export(client, "json", actor="avery.agent@staff.example")
    document = json.loads(body)
    assert document["filters"] == {"actor": "avery.agent@staff.example"}
    events = document["events"]
    assert [e["action"] for e in events] == ["case.assigned", "case.note_added"]
    stored = db.session.scalar(select(AuditEvent).where(AuditEvent.seq == events[0]["seq"]))
    assert (events[0]["before"], events[0]["hash"]) == (stored.before, stored.hash)


def test_an_export_is_audited_and_covers_the_log_as_it_was(client, as_role, history):
    viewer = as_role("compliance")
    _, body = _export(client, "csv")
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.exported"))
    assert event.actor_id == viewer.id
    assert json.loads(event.after)["format"] == "csv"
    seqs = [int(row["seq"]) for row in csv.DictReader(io.StringIO(body))]
    assert seqs == sorted(seqs) and max(seqs) == json.loads(event.after)["up_to_seq"]
    assert event.seq not in seqs  # the export's own event comes after what it exported


def test_an_export_streams_in_batches(history, make_user):
    viewer = _compliance(make_user)
    for n in range(7):
        record_event(ACTOR, "test.batched", after={"n": n})
    made = export_events(viewer, AuditFilters(action="test.batched"), "csv", batch=3)
    lines = list(made.chunks)
    assert len(lines) == 8  # header and one chunk per event, not one string


def test_only_compliance_reads_or_exports_the_log(make_user):
    for role in ("agent", "supervisor", "admin"):
        who = Identity.for_user(make_user(role))
        with pytest.raises(PermissionDenied):
            event_page(who, AuditFilters())
        with pytest.raises(PermissionDenied):
            export_events(who, AuditFilters(), "csv")
