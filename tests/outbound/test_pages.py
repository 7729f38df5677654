"""The referral pages: drafted from the case page, refused where the rules say no, and the
referral report as a PDF an agency can read."""

from __future__ import annotations

import io
import json
import os
import shutil

from pypdf import PdfReader
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.cases import services as cases
from referrals.core.identity import Identity
from referrals.extensions import db
from referrals.outbound import services
from referrals.outbound.models import Referral
from tests.cases.helpers import post_form, reload_case
from tests.pdfa import assert_pdfa_3b
from tests.outbound.helpers import draft, referral_case


def _case_url(case):
    return f"/cases/{case.reference}"


def _referral_url(case, referral):
    return f"/cases/{case.reference}/referrals/{referral.id}"


def test_a_referral_is_drafted_from_the_case_page_and_the_drafter_cannot_approve_it(
        client, as_role, agency):
    supervisor = as_role("supervisor")
    case, subject, items = referral_case(supervisor, sensitive=True)
    page = client.get(_case_url(case)).text
    assert "Not referred to any agency." in page and 'id="draft-referral-link"' in page

    new_url = f"/cases/{case.reference}/referrals/new"
    form = client.get(new_url).text
    assert "may be abuse material: listed by hash, never shown" in form
    response = post_form(client, new_url, new_url, {
        "draft-agency_id": agency.id, "draft-incident_type": "imminent_harm",
        "draft-reason": "Made-up threat to life.", "draft-summary": "Synthetic summary.",
        "draft-legal_basis": "us_2702b8", "draft-subject_ids": [subject.id],
        "draft-evidence_ids": [i.id for i in items]})
    assert response.status_code == 302
    referral = db.session.scalar(select(Referral).where(Referral.case_id == case.id))
    assert referral.status == "draft" and sorted(referral.evidence_ids) == sorted(i.id for i in items)
    assert referral.reference in client.get(_case_url(case)).text

    url = _referral_url(case, referral)
    post_form(client, url, f"{url}/submit")
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "pending_approval"
    page = client.get(url).text
    assert "You prepared these decisions: another supervisor must approve them." in page
    assert 'id="approve-referral"' not in page

    response = post_form(client, url, f"{url}/approve")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "pending_approval"
    assert "another supervisor must approve them" in client.get(url).text


def test_a_draft_with_missing_parts_is_refused_under_the_field(client, as_role, agency):
    agent = as_role("agent")
    case, subject, items = referral_case(agent)
    new_url = f"/cases/{case.reference}/referrals/new"
    response = post_form(client, new_url, new_url, {
        "draft-agency_id": agency.id, "draft-incident_type": "imminent_harm",
        "draft-reason": "Made-up reason.", "draft-summary": "  ",
        "draft-legal_basis": "us_2702b8"})
    assert response.status_code == 422
    assert "Write the summary the agency will read." in response.text
    assert db.session.scalar(select(Referral)) is None


def test_an_unapproved_referral_cannot_be_sent_from_its_page(client, as_role, agency,
                                                             make_user):
    as_role("supervisor")
    drafter = make_user("agent")
    case, subject, items = referral_case(drafter)
    referral = draft(drafter, case, agency, subject, items)
    url = _referral_url(case, referral)
    response = post_form(client, url, f"{url}/send", {
        "send-method": "hand", "send-delivered_by": "Made-up Courier", "send-channel": "courier",
        "send-ncmec_report_id": 0})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "draft"
    assert "cannot be sent: it is approved by a second person first." in client.get(url).text


def test_a_case_cannot_be_marked_referred_from_its_page_without_a_referral(client, as_role):
    agent = as_role("agent")
    case, _, _ = referral_case(agent)
    cases.change_status(Identity.for_user(agent), case, "investigating")
    response = post_form(client, _case_url(case), f"{_case_url(case)}/status",
                         {"status": "referred"})
    assert response.status_code == 302
    assert reload_case(case.reference).status == "investigating"
    assert "A case is marked referred only once a referral has been sent" in \
        client.get(_case_url(case)).text


def _sent_referral(make_user, agency):
    drafter, approver = make_user("supervisor"), make_user("supervisor")
    case, subject, items = referral_case(drafter, sensitive=True)
    referral = draft(drafter, case, agency, subject, items)
    services.submit_referral(Identity.for_user(drafter), case, referral)
    services.approve_referral(Identity.for_user(approver), case, referral)
    services.send_referral(Identity.for_user(approver), case, referral, method="hand",
                           delivered_by="Made-up Courier Ltd", channel="courier")
    services.acknowledge_referral(Identity.for_user(approver), case, referral, "AG-REF-77")
    return case, referral, items


def test_the_referral_report_carries_the_hashes_on_every_page_and_embeds_no_media(
        client, as_role, make_user, agency, tmp_path):
    as_role("compliance")
    case, referral, items = _sent_referral(make_user, agency)
    response = client.get(f"{_referral_url(case, referral)}/report.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    (tmp_path / "referral.pdf").write_bytes(response.data)
    if os.environ.get("REFERRAL_PDF_OUT"):  # to look at it (pdftoppm)
        shutil.copy(tmp_path / "referral.pdf", os.environ["REFERRAL_PDF_OUT"])

    reader = PdfReader(io.BytesIO(response.data))
    pages = [page.extract_text() for page in reader.pages]
    text = "\n".join(pages)
    for n, page in enumerate(pages, start=1):
        assert "LAW ENFORCEMENT SENSITIVE" in page
        assert f"Page {n} of {len(pages)}" in page
        assert referral.reference in page and "DOC-" in page and "generated" in page
    flat = text.replace("\n", "")
    for item in items:
        assert item.sha256 in flat and item.md5 in flat
    assert "AG-REF-77" in text and agency.name in text
    assert "Withheld: listed by hash" in " ".join(text.split())
    assert "CONTACT FOR LEGAL PROCESS" in text.upper()
    assert all(not page.images for page in reader.pages)
    # Staff names stay in the building.
    assert referral.drafted_by_label not in text and referral.approved_by_label not in text
    [event] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "referral.report_issued"))
    assert event.object_id == referral.reference

    # PDF/A-3b, with the machine-readable manifest attached.
    assert_pdfa_3b(response.data, attachments=("referral-manifest.json",))
    # The custody summary of every item (in the evidence table's rows).
    assert " ".join(text.split()).count("Hash unchanged at every event.") == len(items)
    [manifest] = reader.attachments["referral-manifest.json"]
    manifest = json.loads(manifest)
    assert manifest["reference"] == referral.reference
    assert manifest["their_reference"] == "AG-REF-77"
    assert manifest["document_id"] in pages[0]
    assert {(e["sha256"], e["md5"]) for e in manifest["evidence"]} == {
        (i.sha256, i.md5) for i in items}


def test_a_supervisor_returns_a_referral_with_what_to_change(client, as_role, agency,
                                                             make_user):
    as_role("supervisor")
    drafter = make_user("agent")
    case, subject, items = referral_case(drafter)
    referral = draft(drafter, case, agency, subject, items)
    services.submit_referral(Identity.for_user(drafter), case, referral)
    url = _referral_url(case, referral)
    post_form(client, url, f"{url}/return", {"why-reason": ""})
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "pending_approval"
    post_form(client, url, f"{url}/return", {"why-reason": "Name the made-up account's IP."})
    db.session.expire_all()
    returned = db.session.get(Referral, referral.id)
    assert returned.status == "draft" and returned.returned_reason == "Name the made-up account's IP."
    post_form(client, url, f"{url}/withdraw", {"why-reason": "Made-up duplicate"})
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "withdrawn"
