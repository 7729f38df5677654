"""The staff pages: draft with the unviewed-files warning, a second person confirms, send
(the job runs after the commit), the steps and the report id shown, retract; audited."""

from __future__ import annotations

import re

from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.extensions import db
from referrals.ncmec.models import NcmecReport
from tests import factories
from tests.conftest import Client, SignIn, csrf_from
from tests.ncmec.conftest import add_file, grooming_case


def _second_client(app, user):
    app.test_client_class = Client
    other = app.test_client()
    other.environ_base["HTTP_REFERER"] = "https://localhost/"
    SignIn(other)(user)
    return other


def _post(client, page_url, action_url):
    page = client.get(page_url)
    return client.post(action_url, data={"csrf_token": csrf_from(page.text)})


def test_draft_confirm_send_over_the_pages(app, client, as_role, sandbox):
    agent = as_role("agent", cleared_for_csam=True)
    supervisor = factories.make_user("supervisor", cleared_for_csam=True)
    case = grooming_case()
    add_file(agent, case, "seen.png", seed=21, viewed_by=supervisor)
    add_file(agent, case, "unseen.png", seed=22)
    base = f"/cases/{case.reference}/ncmec/"

    assert 'id="ncmec-link"' in client.get(f"/cases/{case.reference}").text
    page = client.get(base)
    assert page.status_code == 200
    assert "No person here has viewed 1 of 2 file(s)" in page.text
    assert "unseen.png" in page.text and "Sandbox." in page.text
    ids = [str(i) for i in re.findall(r'name="draft-evidence_ids" type="checkbox" value="(\d+)"',
                                      page.text)]
    response = client.post(f"{base}draft", data={"csrf_token": csrf_from(page.text),
                                                 "draft-evidence_ids": ids})
    assert response.status_code == 302
    report = db.session.scalar(select(NcmecReport).where(NcmecReport.case_id == case.id))
    detail = f"{base}{report.id}"
    page = client.get(detail)
    assert "You drafted this report: another person must confirm it." in page.text
    assert "&lt;report" in page.text  # the XML preview
    # The drafter cannot confirm by posting either.
    _post(client, detail, f"{detail}/confirm")
    assert db.session.get(NcmecReport, report.id).status == "draft"

    other = _second_client(app, supervisor)
    response = _post(other, detail, f"{detail}/confirm")
    assert response.status_code == 302
    page = other.get(detail)
    assert "Waiting 0 h 0 min since confirmed" in page.text
    response = _post(other, detail, f"{detail}/submit")
    assert response.status_code == 302
    report = db.session.get(NcmecReport, report.id)
    assert report.status == "finished"
    page = other.get(detail)
    assert f"NCMEC report {report.remote_report_id}" in page.text
    assert "8. finished" in page.text
    assert 'id="ncmec-hold"' in page.text and "had viewed 1 of 2 file(s)" in page.text
    progress = other.get(f"{detail}/progress").get_json()
    assert progress["state"] == "done" and progress["done"] == progress["total"] == 8
    actions = set(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_type == "ncmec_report", AuditEvent.object_id == str(report.id))))
    assert {"ncmec.report_drafted", "ncmec.report_confirmed", "ncmec.report_submitted",
            "ncmec.report_opened", "ncmec.report_finished", "ncmec_report.viewed"} <= actions


def test_an_invalid_report_is_shown_plainly_and_cannot_be_confirmed(
        app, client, as_role, sandbox, override_settings):
    override_settings(ncmec_reporter_email="")
    agent = as_role("agent")
    case = grooming_case()
    page = client.get(f"/cases/{case.reference}/ncmec/")
    assert "cannot be sent until this is put right" in page.text
    assert "REFERRALS_NCMEC_REPORTER_EMAIL" in page.text
    client.post(f"/cases/{case.reference}/ncmec/draft",
                data={"csrf_token": csrf_from(page.text)})
    report = db.session.scalar(select(NcmecReport).where(NcmecReport.case_id == case.id))
    other = _second_client(app, factories.make_user("supervisor"))
    detail = f"/cases/{case.reference}/ncmec/{report.id}"
    response = _post(other, detail, f"{detail}/confirm")
    assert response.status_code == 302
    assert db.session.get(NcmecReport, report.id).status == "draft"
    assert "reportingPerson › email" in other.get(detail).text
    assert sandbox.calls == [] and agent


def test_a_case_outside_the_remit_refuses_a_draft(app, client, as_role):
    as_role("agent")
    case = grooming_case(category="violent_extremism")
    page = client.get(f"/cases/{case.reference}/ncmec/")
    assert "CyberTipline report is for" in page.text
    response = client.post(f"/cases/{case.reference}/ncmec/draft",
                           data={"csrf_token": csrf_from(page.text)}, follow_redirects=True)
    assert "CyberTipline report is for" in response.text
    assert db.session.scalar(select(NcmecReport).where(NcmecReport.case_id == case.id)) is None
