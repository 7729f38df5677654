"""The preservation confirmation letter: what it says, that it renders from plain values
with nothing fetched, and who may download it (an officer of another agency gets 404)."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.core import pdf
from referrals.core.pdf import NoFetching, RefusedURL, render_pdf
from referrals.extensions import db
from referrals.holds.letter import NoLetter, letter_values, preservation_letter
from tests import factories
from tests.hold_reports.conftest import NOW
from tests.requests.helpers import eu_order_record, submit

# A 1×1 transparent PNG.
PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
         "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


@pytest.fixture
def hold(make_hold, preservation_request, team):
    return make_hold(expires_at=NOW + timedelta(days=60), request=preservation_request,
                     identifiers=[("username", "@made_up_target_one"),
                                  ("email", "made.up.person@example.com")],
                     external_reference="MPD-2026-0420")


def letter_audits(reference: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "hold.letter_issued", AuditEvent.object_id == reference)
        .order_by(AuditEvent.seq)))


# --- what the letter says -------------------------------------------------------------------


def test_the_letter_is_a_pdf_naming_the_hold_the_request_and_the_expiry(hold, at_now):
    data = preservation_letter(hold)
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    assert hold.reference in text
    assert hold.request.reference in text
    assert "MPD-2026-0420" in text
    assert "Expires on 2 May 2026 10:00 PDT (America/Los_Angeles)" in text
    assert "@made_up_target_one" in text and "made.up.person@example.com" in text
    assert "Subscriber information" in text and "Content data" in text
    assert "1 December 2025 to 28 February 2026" in text
    assert "18 U.S.C. § 2703(f)" in text
    assert "Preservation is not disclosure".upper() in text.upper()
    assert "valid legal process" in text
    assert "“Preservation renewal” request" in text  # how to renew, while one is left
    assert "Made-up Metro Police A" in text
    assert "Platform, Inc. (United States)" in text


def test_letter_values_are_plain_values_only(hold, at_now):
    def plain(value) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, (str, int, bool))

    values = letter_values(hold)
    assert plain(values), {k: type(v) for k, v in values.items()}
    assert not any(isinstance(v, (date, datetime)) for v in values.values())
    # What stays inside: no staff names, no internal notes.
    assert "test fixture" not in json.dumps(values)  # placed_by_label


def test_an_eu_preservation_order_letter_cites_the_regulation(make_hold, officer_a, team, at_now):
    request = eu_order_record(officer_a)
    hold = make_hold(kind="eu_epoc_pr", expires_at=NOW + timedelta(days=45), request=request,
                     legal_basis="Made-up EPOC-PR no. 2026/17")
    text = pdf_text(preservation_letter(hold))
    assert "Regulation (EU) 2023/1543, article 11" in text
    assert "Annex VI" in text and "Annex V" in text
    assert "Platform Ireland Limited" in text


def test_an_ended_hold_letter_says_it_has_ended(make_hold, preservation_request, team, at_now):
    hold = make_hold(expires_at=NOW - timedelta(days=2), request=preservation_request,
                     status="expired", ended_at=NOW - timedelta(days=2))
    text = pdf_text(preservation_letter(hold))
    assert "This preservation has ended" in text
    assert "Renewal." not in text
    assert "Was due to expire 1 Mar 2026" in text


def test_an_internal_hold_has_no_letter(make_hold, team, at_now):
    hold = make_hold(expires_at=None, kind="internal", review_due_at=NOW + timedelta(days=100))
    with pytest.raises(NoLetter):
        letter_values(hold)


# --- the renderer fetches nothing ---------------------------------------------------------


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "FILE:///etc/hostname", "http://127.0.0.1:9/x.css",
    "https://example.com/letterhead.png", "ftp://example.com/x", "/etc/passwd", "x.png", "",
])
def test_the_fetcher_refuses_everything_but_data_uris(url):
    with pytest.raises(RefusedURL):
        NoFetching()(url)


def test_the_fetcher_loads_data_uris():
    assert NoFetching()("data:text/plain,made-up").read() == b"made-up"


@pytest.mark.parametrize("markup", [
    '<img src="file:///etc/hostname">',
    '<link rel="stylesheet" href="http://127.0.0.1:9/style.css">',
    '<style>@import url("https://example.com/x.css");</style>',
    '<style>@font-face { font-family: x; src: url(file:///usr/share/fonts/x.ttf) } p { font-family: x }</style><p>x</p>',
])
def test_render_pdf_stops_at_a_reference_outside_the_document(app, monkeypatch, markup):
    monkeypatch.setattr(pdf, "render_template", lambda name, **values: markup)
    with app.test_request_context(), pytest.raises(RefusedURL):
        render_pdf("any.html", {})


def test_render_pdf_renders_data_uris(app, monkeypatch):
    monkeypatch.setattr(pdf, "render_template",
                        lambda name, **values: f'<p>{values["word"]}</p><img src="{PIXEL}">')
    with app.test_request_context():
        data = render_pdf("any.html", {"word": "synthetic"})
    assert data.startswith(b"%PDF") and "synthetic" in pdf_text(data)


# --- downloads ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["agent", "supervisor", "compliance"])
def test_staff_download_the_letter_and_it_is_audited(hold, as_role, client, role, at_now):
    user = as_role(role)
    response = client.get(f"/holds/{hold.reference}/letter.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="{hold.reference}-preservation-letter.pdf"')
    assert response.data.startswith(b"%PDF")
    [audit] = letter_audits(hold.reference)
    assert (audit.actor_id, audit.actor_kind) == (user.id, "staff")
    assert json.loads(audit.after)["audience"] == "staff"


def test_admins_may_not_download_letters(hold, as_role, client):
    as_role("admin")
    assert client.get(f"/holds/{hold.reference}/letter.pdf").status_code == 403
    assert letter_audits(hold.reference) == []


def test_an_internal_hold_letter_is_refused_plainly(make_hold, as_role, client, team, at_now):
    hold = make_hold(expires_at=None, kind="internal", review_due_at=NOW + timedelta(days=90))
    as_role("agent")
    response = client.get(f"/holds/{hold.reference}/letter.pdf")
    assert response.status_code == 409
    assert "no agency to confirm it to" in response.text


def test_the_officer_downloads_the_letter_of_their_request(hold, officer_a, new_client, at_now):
    response = new_client(officer_a).get(f"/portal/holds/{hold.reference}/letter.pdf")
    assert response.status_code == 200
    assert response.data.startswith(b"%PDF")
    assert hold.reference in pdf_text(response.data)
    [audit] = letter_audits(hold.reference)
    assert (audit.actor_id, audit.actor_kind) == (officer_a.id, "agency")
    assert json.loads(audit.after)["audience"] == "agency"


def test_another_agencys_hold_is_not_found_like_a_missing_one(hold, officer_b, new_client, at_now):
    browser = new_client(officer_b)
    browser.get("/portal/")  # shows (and so clears) the sign-in message
    foreign = browser.get(f"/portal/holds/{hold.reference}/letter.pdf")
    missing = browser.get("/portal/holds/HOLD-2026-999999/letter.pdf")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.text == missing.text
    assert letter_audits(hold.reference) == []


def test_a_colleague_not_on_the_request_does_not_see_its_hold(hold, agency_a, new_client, at_now):
    colleague = factories.make_user("officer", agency=agency_a,
                                    email="det.charlie@metro-a.police.example")
    assert new_client(colleague).get(
        f"/portal/holds/{hold.reference}/letter.pdf").status_code == 404


def test_the_officer_of_a_renewal_downloads_the_letter_of_the_hold_it_renewed(
        hold, agency_a, officer_b, new_client, at_now):
    colleague = factories.make_user("officer", agency=agency_a,
                                    email="det.delta@metro-a.police.example")
    renewal = submit(colleague)
    # As intake stores a renewal (its own checks are the requests feature's business).
    renewal.request_type, renewal.related_reference = "preservation_renewal", hold.request.reference
    db.session.flush()
    browser = new_client(colleague)
    assert browser.get(f"/portal/holds/{hold.reference}/letter.pdf").status_code == 200
    # Naming another agency's request in a renewal reaches nothing.
    foreign = submit(officer_b)
    foreign.request_type, foreign.related_reference = "preservation_renewal", hold.request.reference
    db.session.flush()
    assert new_client(officer_b).get(
        f"/portal/holds/{hold.reference}/letter.pdf").status_code == 404


def test_the_portal_request_page_links_the_letter(hold, officer_a, new_client, at_now):
    page = new_client(officer_a).get(f"/portal/requests/{hold.request.reference}")
    assert page.status_code == 200
    assert f'href="/portal/holds/{hold.reference}/letter.pdf"' in page.text


def test_the_staff_hold_page_links_the_letter(hold, as_role, client, at_now):
    as_role("agent")
    page = client.get(f"/holds/{hold.reference}")
    assert page.status_code == 200
    assert f'href="/holds/{hold.reference}/letter.pdf"' in page.text


def test_a_hold_on_no_request_is_not_in_the_portal(make_hold, agency_a, officer_a, new_client,
                                                   team, at_now):
    hold = make_hold(expires_at=NOW + timedelta(days=300), kind="ncmec_report", agency=agency_a)
    assert new_client(officer_a).get(
        f"/portal/holds/{hold.reference}/letter.pdf").status_code == 404


def test_staff_cannot_use_the_portal_letter_route(hold, as_role, client):
    as_role("agent")
    assert client.get(f"/portal/holds/{hold.reference}/letter.pdf").status_code == 404
