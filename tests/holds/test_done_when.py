"""Issue #5, done when: a preservation request from the portal becomes a hold with the right
expiry, a snapshot and a confirmation letter; the sweep reminds the team and the agency 14 days
before expiry; one renewal through the portal moves it 90 days; a second renewal is refused
with a plain explanation. The clock moves; nothing else is faked.

(The letter and the reminders have their detailed tests in tests/hold_reports.)"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from referrals.evidence.models import CustodyEvent
from referrals.extensions import db
from referrals.core.identity import system_identity
from referrals.core.transaction import unit_of_work
from referrals.holds.reminders import sweep
from tests.conftest import csrf_from
from tests.hold_reports.test_letter import pdf_text
from tests.holds.helpers import by_reference, hold_of, request_count, snapshot_items
from tests.requests.helpers import flashes, follow, keep_signed_in, portal_form, reload_request, unescape

RECEIVED = datetime(2026, 1, 10, 18, 0, tzinfo=UTC)  # Saturday 10 January, 10:00 PST


def _submit(browser, **fields):
    page = browser.get("/portal/requests/new")
    assert page.status_code == 200
    return browser.post("/portal/requests/new", data=portal_form(csrf_from(page.text), **fields))


def test_a_portal_preservation_request_becomes_a_hold_renewed_once_then_refused(
        officer_a, agent, new_client, frozen, us_time, override_settings, mailbox):
    override_settings(team_emails=("ler-team@platform.example",), hold_reminder_days=(14, 7))
    frozen(RECEIVED)
    officer = new_client(officer_a)

    # 1. The officer sends a 2703(f) preservation request for two accounts.
    response = _submit(officer, request_type="preservation",
                       legal_basis="Made-up preservation letter under 18 U.S.C. 2703(f)",
                       data_categories=["subscriber", "login_logout", "content"],
                       target_kind_1="email", target_value_1="Target.Two@Example.INVALID")
    page = unescape(follow(officer, response).text)
    reference = re.search(r"REQ-2026-\d{6}", page).group(0)
    request = reload_request(reference)

    # 2. It is a hold: 90 calendar days in the US legal zone, across the spring change.
    hold = hold_of(request)
    assert hold.kind == "us_2703f" and hold.status == "active"
    assert hold.starts_at == RECEIVED
    assert hold.expires_at == datetime(2026, 4, 10, 17, 0, tzinfo=UTC)  # 10:00 PDT
    assert sorted(i.normalized for i in hold.identifiers) == ["made_up_target_one",
                                                              "target.two@example.invalid"]
    assert "10 Apr 2026 10:00 PDT (America/Los_Angeles)" in page
    assert "one renewal of 90 days is available" in page

    # 3. With a snapshot from the platform, owned by the hold, each item collected.
    items = snapshot_items(hold)
    assert hold.snapshot_at == RECEIVED and len(items) >= 6
    assert {c.action for c in db.session.scalars(select(CustodyEvent).where(
        CustodyEvent.evidence_id.in_([i.id for i in items])))} == {"collected"}

    # 4. The officer downloads the confirmation letter from the request's page.
    assert f"/portal/holds/{hold.reference}/letter.pdf" in page
    letter = officer.get(f"/portal/holds/{hold.reference}/letter.pdf")
    assert letter.status_code == 200 and letter.mimetype == "application/pdf"
    text = pdf_text(letter.data)
    assert hold.reference in text and reference in text and "10 Apr 2026" in text

    # 5. Fourteen days before expiry the hourly sweep reminds the team and the agency, once.
    fourteen = datetime(2026, 3, 27, 17, 30, tzinfo=UTC)
    for _ in range(2):
        frozen(fourteen)
        with unit_of_work():
            report = sweep(fourteen, system_identity("test:hold sweep"))
    db.session.expire_all()
    assert [m["Subject"] for m in mailbox.to("ler-team@platform.example")] == [
        f"Hold {hold.reference} expires in 14 days"]
    keep_signed_in(officer, fourteen)
    portal_page = unescape(officer.get(f"/portal/requests/{reference}").text)
    assert (f"The preservation {hold.reference} on this request expires on 10 Apr 2026 "
            "10:00 PDT") in portal_page
    assert report.reminded == []  # the second sweep sent nothing more

    # 6. Eight days before expiry, the officer renews through the portal.
    near_expiry = datetime(2026, 4, 2, 15, 30, tzinfo=UTC)
    frozen(near_expiry)
    keep_signed_in(officer, near_expiry)
    response = _submit(officer, request_type="preservation_renewal",
                       related_reference=reference,
                       legal_basis="Made-up renewal under 18 U.S.C. 2703(f)(2)")
    page = unescape(follow(officer, response).text)
    renewal = re.search(r"REQ-2026-\d{6}", page).group(0)
    assert renewal != reference
    hold = by_reference(hold.reference)
    assert (hold.status, hold.renewals) == ("extended", 1)
    assert hold.expires_at == datetime(2026, 7, 9, 17, 0, tzinfo=UTC)  # 90 days on, 10:00 PDT
    assert "9 Jul 2026 10:00 PDT (America/Los_Angeles)" in page  # the renewal's page shows it
    assert "Renewed once on 2 April 2026" in page

    # 7. In June, a second renewal is refused in plain words; nothing is stored.
    second_try = datetime(2026, 6, 30, 16, 0, tzinfo=UTC)
    frozen(second_try)
    keep_signed_in(officer, second_try)
    before = request_count()
    response = _submit(officer, request_type="preservation_renewal",
                       related_reference=reference,
                       legal_basis="Made-up second renewal under 18 U.S.C. 2703(f)(2)")
    assert response.status_code == 200
    assert flashes(unescape(response.text)) == [("error", (
        f"{hold.reference} was already renewed once, on 2 April 2026. 18 U.S.C. 2703(f) "
        "allows one 90-day renewal; to keep the data past 9 Jul 2026 10:00 PDT "
        "(America/Los_Angeles), serve legal process (a subpoena, 2703(d) order or search "
        "warrant) before then."))]
    assert request_count() == before
    assert by_reference(hold.reference).expires_at == datetime(2026, 7, 9, 17, 0, tzinfo=UTC)

    # Staff see the same story on the hold's page.
    staff = unescape(new_client(agent).get(f"/holds/{hold.reference}").text)
    assert "1 of 1 used" in staff and "was already renewed once, on 2 April 2026" in staff
    assert f"on renewal request {renewal}" in staff
