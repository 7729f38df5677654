"""Issue 15: the disclosure log — every disclosure, filtered, opened with what is behind it,
exported as CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.audit.services import record_event
from referrals.compliance.disclosure_log import (EXPORT_COLUMNS, DisclosureFilters, log_page,
                                                 open_disclosure)
from referrals.core.errors import InvalidInput, PermissionDenied
from referrals.core.identity import Identity
from referrals.disclosures.models import DisclosureSubject
from referrals.extensions import db
from referrals.packages.models import EvidencePackage, PackageDownload
from tests import factories
from tests.compliance.history import at, build_history


@pytest.fixture
def history(app):
    h = build_history()
    # request 3 left as a package that was downloaded twice, about a named account
    request = h.requests[3]
    db.session.refresh(request)
    disclosure = request.disclosures[0]
    disclosure.package_sha256 = "ab" * 32
    disclosure.subjects = [DisclosureSubject(kind="username", identifier="user3x0")]
    package = EvidencePackage(
        request_id=request.id, purpose="production", label=f"{request.reference}-P1",
        recipients=[], recipient_kind="agency", status="ready", failure="", items=[],
        expires_at=at(2026, 9, 1), download_limit=5, downloads_used=2, created_at=at(2026, 8, 3),
        sha256="ab" * 32, size=10)
    package.downloads = [PackageDownload(user_label="officer@agency.example", via="portal",
                                         at=at(2026, 8, 4), bytes=10),
                         PackageDownload(user_label="officer@agency.example", via="api",
                                         at=at(2026, 8, 5), bytes=10)]
    db.session.add(package)
    db.session.flush()
    record_event(Identity.for_user(h.releaser), "package.downloaded", object_type="package",
                 object_id=package.label)
    record_event(Identity.for_user(h.releaser), "request.disclosed", object_type="request",
                 object_id=request.reference)
    return h


def reader(role="compliance"):
    return Identity.for_user(factories.make_user(role))


def test_filters_by_kind_country_agency_dates_and_legal_basis(history):
    identity = reader()
    everything = log_page(identity, DisclosureFilters(), limit=100).rows
    assert len(everything) == 11  # every disclosure record of the history
    emergency = log_page(identity, DisclosureFilters(kind="emergency_disclosure")).rows
    assert {r["request_reference"] for r in emergency} == {
        history.requests[5].reference, history.requests[11].reference}
    gb = log_page(identity, DisclosureFilters(country="gb")).rows
    assert {r["recipient_country"] for r in gb} == {"GB"} and len(gb) == 3
    sheriff = history.agencies["Synthetic County Sheriff"]
    assert {r["agency_id"] for r in log_page(identity, DisclosureFilters(
        agency_id=sheriff.id)).rows} == {sheriff.id}
    august = log_page(identity, DisclosureFilters(date_from=date(2026, 8, 1),
                                                  date_to=date(2026, 8, 31))).rows
    assert [r["request_reference"] for r in august] == [history.requests[3].reference]
    assert log_page(identity, DisclosureFilters(legal_basis="SYNTHETIC legal")).rows
    assert not log_page(identity, DisclosureFilters(legal_basis="warrant no. 9")).rows


def test_pages_are_keyset_and_newest_first(history):
    identity = reader()
    first = log_page(identity, DisclosureFilters(), limit=5)
    second = log_page(identity, DisclosureFilters(), before=first.next_before, limit=5)
    ids = [r["id"] for r in first.rows + second.rows]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 10


@pytest.mark.parametrize("wrong", [dict(kind="leak"), dict(country="USA"),
                                   dict(date_from=date(2026, 9, 2), date_to=date(2026, 9, 1))])
def test_wrong_filters_are_refused_in_words(wrong):
    with pytest.raises(InvalidInput):
        DisclosureFilters(**wrong)


def test_agents_and_admins_cannot_read_the_log(history):
    for role in ("agent", "admin"):
        with pytest.raises(PermissionDenied):
            log_page(reader(role), DisclosureFilters())


def test_opening_one_shows_who_what_package_downloads_and_events_and_is_audited(history):
    identity = reader("supervisor")
    disclosure = history.requests[3].disclosures[0]
    record = open_disclosure(identity, disclosure.id)
    assert record["subjects"] == ["username:user3x0"]
    assert record["approved_by"].endswith(f"<{history.approver.email}>")
    assert record["released_by"].endswith(f"<{history.releaser.email}>")
    assert record["package_downloads"] == 2
    assert [d["via"] for d in record["packages"][0]["downloads"]] == ["portal", "api"]
    actions = [e.action for e in record["events"]]
    assert "package.downloaded" in actions and "request.disclosed" in actions
    viewed = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "disclosure.viewed")).all()[-1]
    assert viewed.object_id == str(disclosure.id) and viewed.actor_id == identity.user_id


def test_the_page_filters_and_a_wrong_filter_is_a_plain_message(history, client, as_role):
    as_role("compliance")
    page = client.get("/compliance/disclosures?country=DE")
    assert page.status_code == 200
    table = page.text.split('id="disclosure-log"')[1]
    assert "Synthetic Landespolizei" in table and "Synthetic Constabulary" not in table
    assert 'href="/compliance/disclosures.csv?country=DE"' in page.text
    bad = client.get("/compliance/disclosures?date_from=yesterday")
    assert bad.status_code == 422 and "Released from" in bad.text
    assert "Traceback" not in bad.text


def test_csv_export_streams_every_matching_record_in_stable_columns(history, client, as_role):
    as_role("compliance")
    response = client.get("/compliance/disclosures.csv?country=US")
    assert response.is_streamed
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert len(rows) == 6 and {r["recipient_country"] for r in rows} == {"US"}
    packaged = next(r for r in rows if r["package_sha256"])
    assert packaged["package_downloads"] == "2" and packaged["subjects"] == "username:user3x0"
    exported = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "disclosure_log.exported")).all()[-1]
    assert json.loads(exported.after) == {"format": "csv", "filters": {"country": "US"}}


def test_json_export_is_one_array_with_lists_kept(history, client, as_role):
    as_role("supervisor")
    body = json.loads(client.get("/compliance/disclosures.json?kind=production").data)
    assert len(body) == 9 and all(item["kind"] == "production" for item in body)
    assert any(item["subjects"] == ["username:user3x0"] for item in body)
    assert [item["id"] for item in body] == sorted(item["id"] for item in body)


def test_the_export_reads_in_batches_beyond_one(history, client, as_role, monkeypatch):
    from referrals.compliance import disclosure_log

    monkeypatch.setattr(disclosure_log, "EXPORT_BATCH", 3)
    as_role("compliance")
    body = json.loads(client.get("/compliance/disclosures.json").data)
    assert len(body) == 11 and len({item["id"] for item in body}) == 11
