"""Issue 11: a refused portal form keeps what the officer gave it: an attached PDF stays
attached (kept server-side for their session only, core.kept_uploads), a date typed in the
wrong form stays as typed with a message saying how to write it, and every problem is
summarised at the top of the form."""

from __future__ import annotations

import hashlib
import io
import re

from tests.conftest import csrf_from
from tests.requests.helpers import pdf_bytes, portal_form, reload_request, unescape
from tests.requests.test_emergency import emergency_form

KEPT = re.compile(r'name="kept_upload" value="([^"]+)"')


def _post(browser, url: str, data: dict):
    return browser.post(url, data=data, content_type="multipart/form-data")


def test_an_attached_pdf_survives_a_refused_emergency_form(new_client, officer_a):
    browser = new_client(officer_a)
    page = browser.get("/portal/requests/emergency")
    document = pdf_bytes(2)
    refused = _post(browser, "/portal/requests/emergency", {
        **emergency_form(csrf_from(page.text), person_at_risk=""),
        "documents": (io.BytesIO(document), "signed-request.pdf")})
    assert refused.status_code == 422
    text = unescape(refused.text)
    assert "Attached: <strong>signed-request.pdf</strong>" in text
    summary = text.split('id="error-summary"')[1].split("</div>")[0]
    assert '<a href="#person_at_risk">Who is at risk</a>: This field is required.' in summary
    assert text.index('id="error-summary"') < text.index('id="emergency_description"')
    [token] = KEPT.findall(text)

    accepted = _post(browser, "/portal/requests/emergency", {
        **emergency_form(csrf_from(text)), "kept_upload": token})
    assert accepted.status_code == 302, unescape(accepted.text)[:3000]
    stored = reload_request(accepted.headers["Location"].rsplit("/", 1)[1])
    [kept] = stored.documents
    assert kept.original_name == "signed-request.pdf"
    assert kept.sha256 == hashlib.sha256(document).hexdigest() and kept.pages == 2
    # Used once: the token is gone from the session.
    again = browser.get("/portal/requests/emergency")
    assert "signed-request.pdf" not in unescape(again.text)


def test_a_date_in_the_wrong_form_is_kept_with_a_message(new_client, officer_a):
    browser = new_client(officer_a)
    page = browser.get("/portal/requests/new")
    refused = _post(browser, "/portal/requests/new",
                    portal_form(csrf_from(page.text), date_from="24/11/2025"))
    assert refused.status_code == 422
    text = unescape(refused.text)
    assert 'value="24/11/2025"' in text  # as typed
    message = ("Write the date as year-month-day, e.g. 2026-11-24; “24/11/2025” is not a date "
               "in that form.")
    assert message in text.split('id="date_from"')[1][:600]
    assert message in text.split('id="error-summary"')[1].split("</div>")[0]
    assert "Attached: <strong>order.pdf</strong>" in text  # the process attached to the same try, kept


def test_a_kept_file_is_only_for_the_session_that_kept_it(new_client, officer_a, make_user,
                                                          agency_a):
    browser = new_client(officer_a)
    page = browser.get("/portal/requests/new")
    refused = _post(browser, "/portal/requests/new",
                    portal_form(csrf_from(page.text), legal_basis=""))
    [token] = KEPT.findall(unescape(refused.text))
    colleague = new_client(make_user("officer", agency=agency_a,
                                     email="det.other@metro-a.police.example"))
    form = colleague.get("/portal/requests/new")
    response = _post(colleague, "/portal/requests/new",
                     {**portal_form(csrf_from(form.text), documents=None), "kept_upload": token})
    assert response.status_code == 422
    assert "Attach the legal process as a PDF." in unescape(response.text)


def test_a_kept_file_can_be_removed(new_client, officer_a):
    browser = new_client(officer_a)
    page = browser.get("/portal/requests/new")
    refused = _post(browser, "/portal/requests/new",
                    portal_form(csrf_from(page.text), legal_basis=""))
    text = unescape(refused.text)
    [token] = KEPT.findall(text)
    response = _post(browser, "/portal/requests/new", {
        **portal_form(csrf_from(text), documents=None), "kept_upload": token,
        "drop_upload": token})
    assert response.status_code == 422
    text = unescape(response.text)
    assert "Attach the legal process as a PDF." in text and "Attached: <strong>order.pdf</strong>" not in text


def test_a_file_that_is_not_a_pdf_is_not_kept(new_client, officer_a):
    browser = new_client(officer_a)
    page = browser.get("/portal/requests/new")
    refused = _post(browser, "/portal/requests/new", portal_form(
        csrf_from(page.text), documents=(io.BytesIO(b"plain text"), "notes.txt")))
    text = unescape(refused.text)
    assert "notes.txt is not a PDF file." in text and KEPT.findall(text) == []
