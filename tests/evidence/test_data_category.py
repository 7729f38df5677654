"""Every evidence item carries its data category as a column: set on upload (a form field and
an API parameter, "content" when nobody says) and by the collector from the category it asked
for; an unknown category is a plain refusal and stores nothing."""

from __future__ import annotations

import html

from sqlalchemy import func, select

from referrals.evidence.models import EvidenceItem, StoredBlob
from referrals.extensions import db
from tests.cases.helpers import make_token
from tests.evidence.conftest import item_id_from, synthetic_bytes


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_upload_form_stores_the_chosen_category_and_shows_it(client, as_role, case_of,
                                                                 upload_form):
    as_role("agent")
    case = case_of("other")
    response = upload_form(case, synthetic_bytes(2000), "login-export.bin",
                           data_category="login_logout")
    item = db.session.get(EvidenceItem, item_id_from(response))
    assert item.data_category == "login_logout"
    page = client.get(f"/cases/{case.reference}/evidence/{item.id}").text
    assert "Log-in / log-out data (with IP addresses)" in html.unescape(page)
    assert 'name="data_category"' in client.get(f"/cases/{case.reference}").text


def test_an_upload_that_names_no_category_is_content(client, as_role, case_of, upload_form):
    as_role("agent")
    response = upload_form(case_of("other"), synthetic_bytes(2000), "screenshot.bin")
    assert db.session.get(EvidenceItem, item_id_from(response)).data_category == "content"


def test_an_unknown_category_on_the_page_is_a_plain_refusal_and_stores_nothing(
        client, as_role, case_of, upload_form, blob_files):
    as_role("agent")
    case = case_of("other")
    items, blobs, files = _count(EvidenceItem), _count(StoredBlob), blob_files()
    response = upload_form(case, synthetic_bytes(2000), "x.bin", data_category="everything")
    assert response.status_code == 302
    page = html.unescape(client.get(response.headers["Location"]).text)
    assert "Choose the item's data category: subscriber (subscriber information)" in page
    assert (_count(EvidenceItem), _count(StoredBlob), blob_files()) == (items, blobs, files)


def test_the_api_takes_a_category_and_refuses_an_unknown_one(client, make_user, case_of,
                                                             upload_api):
    token = make_token(make_user("agent"), "evidence:write")
    case = case_of("other")
    made = upload_api(case, synthetic_bytes(2000), token, data_category="transaction")
    assert made.status_code == 201, made.text
    assert made.json["data_category"] == "transaction"
    assert db.session.get(EvidenceItem, made.json["id"]).data_category == "transaction"
    assert upload_api(case, synthetic_bytes(2000), token).json["data_category"] == "content"

    refused = upload_api(case, synthetic_bytes(2000), token, data_category="everything")
    assert refused.status_code == 422
    assert "data_category" in refused.text
