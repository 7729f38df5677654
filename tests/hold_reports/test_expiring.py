"""Holds expiring soon: the page, its window, and the CSV (safe to open in a spreadsheet)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.extensions import db
from referrals.core.spreadsheet import spreadsheet_safe
from referrals.holds.reports import CSV_COLUMNS
from tests import factories
from tests.hold_reports.conftest import NOW
from tests.requests.helpers import make_agency


@pytest.fixture
def holds(make_hold, preservation_request, team):
    """Due in 3, 20 and 40 days; plus holds the report leaves out."""
    owner = factories.make_user("agent", email="owner.report@platform.example")
    made = {
        "in_20": make_hold(expires_at=NOW + timedelta(days=20), request=preservation_request),
        "in_3": make_hold(expires_at=NOW + timedelta(days=3), request=preservation_request,
                          owner=owner),
        "in_40": make_hold(expires_at=NOW + timedelta(days=40), request=preservation_request),
        "released": make_hold(expires_at=NOW + timedelta(days=5), request=preservation_request,
                              status="released", ended_at=NOW),
        "past": make_hold(expires_at=NOW - timedelta(hours=1), request=preservation_request),
        "internal": make_hold(expires_at=None, kind="internal",
                              review_due_at=NOW + timedelta(days=2)),
    }
    return made


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def positions(html: str, references: list[str]) -> list[int]:
    return [html.index(reference) for reference in references]


def test_the_page_lists_holds_expiring_in_the_window_soonest_first(holds, as_role, client, at_now):
    as_role("agent")
    page = client.get("/holds/expiring")
    assert page.status_code == 200
    html = page.text
    assert "Holds expiring in the next 30 days" in html
    soon, later = holds["in_3"].reference, holds["in_20"].reference
    assert positions(html, [soon, later]) == sorted(positions(html, [soon, later]))
    for left_out in ("in_40", "released", "past", "internal"):
        assert holds[left_out].reference not in html, left_out
    assert "In 3 days" in html and "In 20 days" in html  # the countdown
    assert "owner.report@platform.example" in html
    assert "Made-up Metro Police A" in html
    assert holds["in_3"].request.reference in html
    assert "US preservation, 18 U.S.C. 2703(f)" in html
    assert f"/holds/{soon}/letter.pdf" in html

    wider = client.get("/holds/expiring?days=45").text
    assert holds["in_40"].reference in wider and "next 45 days" in wider
    narrow = client.get("/holds/expiring?days=1").text
    assert "No hold expires in the next 1 day." in narrow


@pytest.mark.parametrize("days", ["abc", "0", "366", "-5", "3.5"])
def test_a_bad_window_is_a_plain_422(as_role, client, days):
    as_role("supervisor")
    for path in ("/holds/expiring", "/holds/expiring.csv"):
        response = client.get(f"{path}?days={days}")
        assert response.status_code == 422
        assert "days must be" in response.text


def test_the_csv_has_the_same_rows(holds, as_role, client, at_now):
    user = as_role("compliance")
    response = client.get("/holds/expiring.csv?days=30")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="holds-expiring-30d-20260303.csv"')
    rows = rows_of(response.data.decode("utf-8-sig"))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [row[0] for row in rows[1:]] == [holds["in_3"].reference, holds["in_20"].reference]
    first = dict(zip(CSV_COLUMNS, rows[1]))
    assert first["expires_at_utc"] == "2026-03-06T17:00:00+00:00"
    assert first["expires_legal_time"] == "6 Mar 2026 09:00 PST (America/Los_Angeles)"
    assert first["days_left"] == "3"
    assert first["agency"] == "Made-up Metro Police A"
    assert first["owner"] == "owner.report@platform.example"

    [audit] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "hold.export")).all()
    assert audit.actor_id == user.id
    assert json.loads(audit.after) == {"days": 30, "rows": 2, "references": [
        holds["in_3"].reference, holds["in_20"].reference]}


def test_the_page_itself_is_not_an_export(holds, as_role, client):
    as_role("agent")
    client.get("/holds/expiring")
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "hold.export")).all() == []


@pytest.mark.parametrize(("value", "expected"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+1 202 555 0100", "'+1 202 555 0100"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tindent", "'\tindent"),
    ("\rline", "'\rline"),
    ("Made-up Police", "Made-up Police"),
    ("", ""),
    (7, "7"),
])
def test_spreadsheet_safe(value, expected):
    assert spreadsheet_safe(value) == expected


def test_formulas_in_agency_names_are_defused_and_unicode_survives(make_hold, officer_a, team,
                                                                   as_role, client, at_now):
    evil = make_agency("=cmd|' /C calc'!A0 Made-up Agency", domains=["evil.police.example"])
    make_hold(expires_at=NOW + timedelta(days=2), agency=evil, kind="ncmec_report")
    kind = make_agency("Polizeipräsidium Köln (made up)", domains=["koeln.polizei.example"])
    make_hold(expires_at=NOW + timedelta(days=4), agency=kind, kind="ncmec_report")
    as_role("agent")
    response = client.get("/holds/expiring.csv")
    assert response.data.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets read it as UTF-8
    rows = rows_of(response.data.decode("utf-8-sig"))
    agencies = [dict(zip(CSV_COLUMNS, row))["agency"] for row in rows[1:]]
    assert agencies == ["'=cmd|' /C calc'!A0 Made-up Agency", "Polizeipräsidium Köln (made up)"]
    for row in rows[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)


@pytest.mark.parametrize(("role", "status"), [("admin", 403), ("officer", 404)])
def test_only_readers_see_the_report(as_role, client, role, status):
    as_role(role)
    assert client.get("/holds/expiring").status_code == status
    assert client.get("/holds/expiring.csv").status_code == status


# --- the dashboard ---------------------------------------------------------------------------


def test_the_dashboard_counts_holds_expiring_within_14_days(make_hold, preservation_request,
                                                           as_role, client, at_now):
    from tests.requests.helpers import unescape

    make_hold(expires_at=NOW + timedelta(days=3), request=preservation_request)
    make_hold(expires_at=NOW + timedelta(days=13, hours=20), request=preservation_request)
    make_hold(expires_at=NOW + timedelta(days=20), request=preservation_request)
    as_role("compliance")
    card = unescape(client.get("/dashboard").text).split('id="holds-card"')[1].split("</a>")[0]
    assert "2 holds expire in the next 14 days." in card
    assert 'href="/holds/expiring?days=14"' in card


def test_the_dashboard_says_when_none_expires_soon(make_hold, preservation_request, as_role,
                                                   client, at_now):
    make_hold(expires_at=NOW + timedelta(days=40), request=preservation_request)
    as_role("agent")
    card = client.get("/dashboard").text.split('id="holds-card"')[1].split("</a>")[0]
    assert "None expires in the next 14 days." in card


def test_admins_have_no_holds_card(as_role, client):
    as_role("admin")
    assert 'id="holds-card"' not in client.get("/dashboard").text
