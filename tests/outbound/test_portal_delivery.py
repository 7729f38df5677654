"""A referral to a registered police force through the portal: sent by a second person, its
package (the referral's evidence and report) built by the job, the disclosure recorded when
the package is ready, the agency's officers (and only they) read it, download the package,
open it with age, and acknowledge it with their reference; staff see the downloads."""

from __future__ import annotations

import re
import shutil

import pytest
from sqlalchemy import select

from referrals.core.identity import Identity
from referrals.core.signing import get_signer
from referrals.core.transaction import commit
from referrals.disclosures.models import Disclosure
from referrals.evidence.models import CustodyEvent
from referrals.extensions import db
from referrals.outbound import delivery, services
from referrals.outbound.models import Referral
from referrals.packages.models import EvidencePackage
from referrals.packages import services as packages
from referrals.packages.services import package_dir
from referrals.packages.verify import verify_package
from tests.outbound.helpers import draft, referral_case
from tests.packages.helpers import open_with_age, run
from tests.requests.helpers import audit_events, bearer, flashes, follow, post_form


@pytest.fixture(autouse=True)
def _no_files_of_earlier_tests(app):
    with app.app_context():
        shutil.rmtree(package_dir(), ignore_errors=True)


@pytest.fixture
def people(make_user):
    return {"drafter": make_user("agent"), "approver": make_user("supervisor"),
            "sender": make_user("agent")}


def _approved(people, agency):
    case, subject, items = referral_case(people["drafter"])
    referral = draft(people["drafter"], case, agency, subject, items)
    services.submit_referral(Identity.for_user(people["drafter"]), case, referral)
    services.approve_referral(Identity.for_user(people["approver"]), case, referral)
    db.session.flush()
    return case, referral, items


def _page(case, referral):
    return f"/cases/{case.reference}/referrals/{referral.id}"


def _send(client, case, referral, note="Made-up message for the officers."):
    return post_form(client, _page(case, referral), f"{_page(case, referral)}/send",
                     {"send-method": "portal", "send-note": note, "send-channel": "",
                      "send-package_id": "0"})


def _reload(referral) -> Referral:
    db.session.expire_all()
    return db.session.get(Referral, referral.id)


def test_a_referral_travels_through_the_portal_to_acknowledged(
        people, agency_a, officer_a, officer_b, new_client, tmp_path, mailbox):
    case, referral, items = _approved(people, agency_a)
    staff = new_client(people["sender"])
    page = staff.get(_page(case, referral))
    assert 'value="portal"' in page.text

    response = _send(staff, case, referral)
    shown = follow(staff, response)
    assert any("Being packaged for the portal" in text for _, text in flashes(shown.text))
    referral = _reload(referral)
    package = db.session.get(EvidencePackage, referral.package_id)
    # The job ran after the commit: the package is ready and the referral sent with it.
    assert package.status == "ready" and package.recipient_kind == "one_time"
    assert package.items == [i.id for i in items]
    assert referral.status == "sent" and referral.delivery_method == "portal"
    assert referral.sent_by_id == people["sender"].id
    disclosure = db.session.get(Disclosure, referral.disclosure_id)
    assert disclosure.kind == "referral" and disclosure.package_sha256 == package.sha256
    assert disclosure.recipient_name == agency_a.name
    assert disclosure.disclosed_by_id == people["sender"].id
    actions = [e.action for e in db.session.scalars(select(CustodyEvent).where(
        CustodyEvent.evidence_id == items[0].id).order_by(CustodyEvent.id))]
    assert actions[-2:] == ["packaged", "disclosed"]
    assert [e.object_id for e in audit_events("referral.sent")] == [referral.reference]
    # The officers are told (nothing of the case by e-mail).
    [mail] = mailbox.to(officer_a.email)
    assert referral.reference in mailbox.body(mail) and "chat-log" not in mailbox.body(mail)
    assert mailbox.to(officer_b.email) == []

    # Another agency's officer: exactly as if it did not exist.
    other = new_client(officer_b)
    base = f"/portal/referrals/{referral.reference}"
    assert referral.reference not in other.get("/portal/referrals/").text
    for url in (base, f"{base}/package", f"{base}/package/sha256"):
        assert other.get(url).status_code == 404
    assert other.get("/portal/referrals/RFL-999999").status_code == 404

    officer = new_client(officer_a)
    listing = officer.get("/portal/referrals/")
    assert referral.reference in listing.text
    detail = officer.get(base)
    assert "Made-up message for the officers." in detail.text
    assert people["drafter"].email not in detail.text  # no staff names
    shown = post_form(officer, base, f"{base}/package/key")
    [secret] = re.findall(r"AGE-SECRET-KEY-1[0-9A-Z]+", shown.text)
    download = officer.get(f"{base}/package")
    assert download.status_code == 200 and download.headers["ETag"].strip('"') == package.sha256
    (tmp_path / package.file_name).write_bytes(download.data)
    (tmp_path / f"{package.file_name}.sha256").write_bytes(officer.get(f"{base}/package/sha256").data)
    (tmp_path / f"{package.file_name}.sha256.sig").write_bytes(officer.get(f"{base}/package/sig").data)
    key = tmp_path / "key.txt"
    key.write_text(secret + "\n")
    checks = [c.name for c in verify_package(tmp_path / package.file_name, key.read_text(),
                                             get_signer())]
    assert checks[-1] == "bag signature"
    bag = open_with_age(tmp_path / package.file_name, key, tmp_path)
    assert run("sha256sum", "-c", "manifest-sha256.txt", cwd=bag).returncode == 0
    [report] = list((bag / "report").iterdir())
    assert report.name == f"{referral.reference}-referral-report.pdf"
    assert report.read_bytes().startswith(b"%PDF")
    assert items[0].sha256 in (bag / "case-manifest.json").read_text()
    delivered = db.session.scalars(select(CustodyEvent).where(
        CustodyEvent.action == "delivered")).all()
    assert [(e.evidence_id, e.actor_id) for e in delivered] == [(items[0].id, officer_a.id)]

    # The officer acknowledges with their reference; staff see it, and the download.
    refused = post_form(officer, base, f"{base}/acknowledge", {"ack-agency_reference": "  "})
    assert _reload(referral).status == "sent"
    assert refused.status_code in (302, 422)
    done = post_form(officer, base, f"{base}/acknowledge",
                     {"ack-agency_reference": "MPD-2026-0042"})
    assert done.status_code == 302
    referral = _reload(referral)
    assert referral.status == "acknowledged" and referral.agency_reference == "MPD-2026-0042"
    assert audit_events("referral.acknowledged")[-1].actor_id == officer_a.id
    staff_page = staff.get(_page(case, referral)).text
    assert "MPD-2026-0042" in staff_page and "Acknowledged" in staff_page
    assert officer_a.email in staff_page.split('id="portal-downloads"')[1]
    again = post_form(officer, base, f"{base}/acknowledge", {"ack-agency_reference": "X-1"})
    assert any("acknowledged already" in text for _, text in flashes(follow(officer, again).text))
    assert _reload(referral).agency_reference == "MPD-2026-0042"


def test_the_api_lists_downloads_and_acknowledges_in_the_officer_scope(
        people, agency_a, officer_a, officer_b, new_client, officer_token):
    case, referral, _ = _approved(people, agency_a)
    _send(new_client(people["sender"]), case, referral)
    referral = _reload(referral)
    api = new_client()
    mine, theirs = bearer(officer_token(officer_a)), bearer(officer_token(officer_b))
    base = f"/api/v1/referrals/{referral.reference}"
    listed = api.get("/api/v1/referrals", headers=mine).json
    assert [r["reference"] for r in listed] == [referral.reference]
    assert listed[0]["package"]["one_time_key"] == "available"
    assert "drafted_by_label" not in listed[0] and "reason" not in listed[0]
    assert api.get("/api/v1/referrals", headers=theirs).json == []
    for method, url in (("get", base), ("get", f"{base}/package"),
                        ("post", f"{base}/package/key"), ("post", f"{base}/acknowledge")):
        answer = getattr(api, method)(url, headers=theirs, json={"agency_reference": "X"})
        assert answer.status_code == 404, url
    key = api.post(f"{base}/package/key", headers=mine).json
    assert key["identity"].startswith("AGE-SECRET-KEY-1")
    ranged = api.get(f"{base}/package", headers={**mine, "Range": "bytes=0-9"})
    assert ranged.status_code == 206 and len(ranged.data) == 10
    assert api.post(f"{base}/acknowledge", headers=mine, json={}).status_code == 422
    acknowledged = api.post(f"{base}/acknowledge", headers=mine,
                            json={"agency_reference": "API-REF-7"})
    assert acknowledged.status_code == 200 and acknowledged.json["status"] == "acknowledged"
    assert _reload(referral).agency_reference == "API-REF-7"


def test_the_portal_is_refused_plainly_for_an_agency_without_officers(
        people, agency, new_client):
    case, referral, _ = _approved(people, agency)
    staff = new_client(people["sender"])
    page = staff.get(_page(case, referral))
    assert "deliver the referral by hand" in page.text
    response = _send(staff, case, referral)
    assert any("deliver the referral by hand" in text
               for _, text in flashes(follow(staff, response).text))
    referral = _reload(referral)
    assert referral.status == "approved" and referral.package_id is None


def test_the_drafter_cannot_send_through_the_portal(people, agency_a, officer_a, new_client):
    case, referral, _ = _approved(people, agency_a)
    drafter = new_client(people["drafter"])
    page = drafter.get(_page(case, referral))
    assert 'id="send-form"' not in page.text and 'id="send-refusal"' in page.text
    sent_anyway = _send(drafter, case, referral)
    assert any("another supervisor must" in text
               for _, text in flashes(follow(drafter, sent_anyway).text))
    assert _reload(referral).package_id is None


def test_a_referral_withdrawn_while_packaged_is_not_sent(people, agency_a, officer_a,
                                                        monkeypatch, new_client):
    case, referral, _ = _approved(people, agency_a)
    real = packages.build_package

    def withdrawn_meanwhile(*args, **kwargs):
        built = real(*args, **kwargs)
        found = db.session.get(Referral, referral.id)
        services.withdraw_referral(Identity.for_user(people["approver"]), found.case, found,
                                   "Made-up reason to stop.")
        commit()
        return built

    monkeypatch.setattr(packages, "build_package", withdrawn_meanwhile)
    _send(new_client(people["sender"]), case, referral)
    referral = _reload(referral)
    package = db.session.get(EvidencePackage, referral.package_id)
    assert package.status == "failed" and "withdrawn" in package.failure
    assert referral.status == "withdrawn" and referral.disclosure_id is None
    assert delivery.officer_referrals(Identity.for_user(people["sender"])) == []
