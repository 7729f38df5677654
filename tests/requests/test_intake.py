"""Intake checks on a disclosure request: plain-language errors that refuse it, warnings that
are stored and shown — in check_request, through the portal form, and through the API."""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from referrals.core.clock import now
from referrals.core.errors import InvalidInput
from referrals.extensions import db
from referrals.requests.intake import check_pdf, check_request
from referrals.requests.models import DisclosureRequest, LegalProcessDocument
from tests.conftest import csrf_from
from tests.requests.helpers import (api_body, bearer, field_errors, pdf_bytes, portal_form,
                                    reload_request, request_data, submit, unescape)

SUBPOENA_CONTENT_WARNING = (
    "A subpoena reaches subscriber information only; content data needs a court order or "
    "search warrant. We will produce subscriber information only unless you send other process.")
NDO_WARNING = ("The non-disclosure order has no end date: indefinite orders are flagged for "
               "legal review (18 U.S.C. 2705(b)).")
ALL_DATA_ERROR = ("Requests for “all data” are refused. Name the categories of data and the "
                  "period you need, and why.")
EPOC_TO_US_WARNING = (
    "The process is addressed to Platform, Inc. (United States), but European Production Order "
    "(EPOC) is received by Platform Ireland Limited (EU designated establishment).")


def count_requests() -> int:
    return db.session.scalar(select(func.count(DisclosureRequest.id)))


def damaged_pdfs() -> dict[str, bytes]:
    """Files that start like a PDF but make pypdf raise something other than PdfReadError."""
    good = pdf_bytes()
    broken_trailer = good.replace(b"trailer\n<<", b"trailer\n<>")
    start = good.index(b"4 0 obj\n")
    end = good.index(b"endobj", start)
    body = b"4 0 obj\n4 0 R"
    self_reference = good[:start] + body + b" " * (end - start - len(body)) + good[end:]
    return {"broken-trailer.pdf": broken_trailer, "self-reference.pdf": self_reference,
            "truncated.pdf": good[: len(good) // 2], "header-only.pdf": b"%PDF-1.7\n"}


# --- check_request ------------------------------------------------------------------------


def test_a_complete_request_has_no_errors_and_no_warnings():
    errors, warnings = check_request(request_data())
    assert errors == {} and warnings == []


@pytest.mark.parametrize("missing", [{"date_from": None}, {"date_to": None},
                                     {"date_from": None, "date_to": None}])
def test_no_date_range_is_refused(missing):
    errors, _ = check_request(request_data(**missing))
    assert errors["date_from"] == "Give the period you need data for (from and to dates)."


def test_a_period_that_ends_before_it_starts_is_refused():
    today = now().date()
    errors, _ = check_request(request_data(date_from=today - timedelta(days=1),
                                           date_to=today - timedelta(days=9)))
    assert errors["date_from"] == "The period starts after it ends."


def test_a_period_in_the_future_is_refused():
    today = now().date()
    errors, _ = check_request(request_data(date_from=today + timedelta(days=3),
                                           date_to=today + timedelta(days=9)))
    assert errors["date_from"] == "The period starts in the future."


def test_a_period_longer_than_a_year_is_a_warning():
    today = now().date()
    errors, warnings = check_request(request_data(date_from=today - timedelta(days=800),
                                                  date_to=today))
    assert errors == {}
    assert any("longer than a year" in w for w in warnings)


@pytest.mark.parametrize(("field", "text"), [
    ("legal_basis", "18 U.S.C. 2703(d): all data on the account"),
    ("legal_basis", "Produce ANY AND ALL RECORDS held"),
    ("offences", "we need every information you have"),
    ("legal_basis", "All content of the user"),
])
def test_all_data_is_refused(field, text):
    errors, _ = check_request(request_data(**{field: text}))
    assert errors["data_categories"] == ALL_DATA_ERROR


def test_all_data_in_an_emergency_is_refused_too():
    errors, _ = check_request(request_data(request_type="emergency",
                                           why_data_helps="Send all data about the account"))
    assert errors["data_categories"] == ALL_DATA_ERROR


def test_words_near_all_data_are_not_refused():
    errors, _ = check_request(request_data(legal_basis="Installation data of the app; "
                                           "overall data volume is small"))
    assert "data_categories" not in errors


def test_content_on_a_subpoena_is_a_warning_not_an_error():
    errors, warnings = check_request(request_data(request_type="subpoena",
                                                  data_categories=["subscriber", "content"]))
    assert errors == {}
    assert warnings == [SUBPOENA_CONTENT_WARNING]


def test_content_on_a_2703d_order_is_a_warning():
    errors, warnings = check_request(request_data(request_type="court_order_2703d",
                                                  data_categories=["content"]))
    assert errors == {}
    assert warnings == ["Court order, 18 U.S.C. 2703(d) does not ordinarily reach content data."]


def test_category_names_keep_their_capitals_in_warnings():
    _, warnings = check_request(request_data(request_type="subpoena",
                                             data_categories=["subscriber", "login_logout"]))
    assert warnings == ["A subpoena reaches subscriber information only; log-in / log-out data "
                        "(with IP addresses) needs a court order or search warrant. We will "
                        "produce subscriber information only unless you send other process."]


def test_a_warrant_reaches_content_without_a_warning():
    errors, warnings = check_request(request_data(request_type="search_warrant",
                                                  data_categories=["content", "subscriber"]))
    assert errors == {} and warnings == []


def test_every_category_at_once_is_a_warning():
    _, warnings = check_request(request_data(request_type="search_warrant",
                                             data_categories=["subscriber", "login_logout",
                                                              "interaction", "content",
                                                              "transaction"]))
    assert warnings == ["Every category of data is asked for; say why each is needed."]


def test_a_nondisclosure_order_without_an_end_date_is_flagged():
    _, warnings = check_request(request_data(nondisclosure_order=True, nondisclosure_until=None))
    assert warnings == [NDO_WARNING]
    _, warnings = check_request(request_data(nondisclosure_order=True,
                                             nondisclosure_until=now().date() + timedelta(days=90)))
    assert warnings == []


def test_process_addressed_to_the_wrong_entity_is_flagged():
    _, warnings = check_request(request_data(request_type="eu_epoc", addressed_to="us"))
    assert warnings == [EPOC_TO_US_WARNING]
    _, warnings = check_request(request_data(request_type="subpoena", addressed_to="eu",
                                             data_categories=["subscriber"]))
    assert len(warnings) == 1 and "Platform Ireland Limited" in warnings[0]
    _, warnings = check_request(request_data(request_type="eu_epoc", addressed_to="eu"))
    assert warnings == []


def test_an_unknown_addressee_is_an_error():
    errors, _ = check_request(request_data(addressed_to="mars"))
    assert errors["addressed_to"] == "Say which of our legal entities the process is addressed to."


def test_an_unknown_type_is_an_error_and_nothing_else_is_checked():
    errors, warnings = check_request(request_data(request_type="letter_from_a_friend"))
    assert errors == {"request_type": "Choose the type of legal process."} and warnings == []


@pytest.mark.parametrize("categories", [[], ["subscriber", "gossip"]])
def test_categories_must_be_chosen_from_the_list(categories):
    errors, _ = check_request(request_data(data_categories=categories))
    assert errors["data_categories"] == "Choose the categories of data you need."


def test_legal_process_needs_its_basis_and_authority():
    errors, _ = check_request(request_data(legal_basis=" ", issuing_authority=""))
    assert errors["legal_basis"] == "Cite the legal basis (statute, article or order)."
    assert errors["issuing_authority"] == "Name the court or authority that issued the process."


def test_an_emergency_needs_its_three_descriptions_but_no_legal_basis():
    errors, _ = check_request(request_data(request_type="emergency", emergency_description="",
                                           person_at_risk=" ", why_data_helps=""))
    assert errors == {"emergency_description": "Describe the emergency.",
                      "person_at_risk": "Describe who is at risk.",
                      "why_data_helps": "Describe why this data helps."}


def test_at_least_one_target():
    errors, _ = check_request(request_data(targets=[]))
    assert errors["targets"] == "Give at least one account identifier."


# --- the legal process PDF ------------------------------------------------------------------


def test_a_real_pdf_passes_and_its_pages_are_counted():
    data, pages = check_pdf(io.BytesIO(pdf_bytes(3)), "order.pdf", 10_000_000)
    assert pages == 3 and data.startswith(b"%PDF-")


def test_a_file_named_pdf_is_checked_by_its_bytes():
    with pytest.raises(InvalidInput) as refused:
        check_pdf(io.BytesIO(b"MZ\x90\x00 this is not a pdf"), "x.pdf", 10_000_000)
    assert refused.value.message == "x.pdf is not a PDF file."
    assert refused.value.field == "documents"


def test_an_oversized_pdf_is_refused():
    big = pdf_bytes(padding=3 * 1024 * 1024)
    with pytest.raises(InvalidInput) as refused:
        check_pdf(io.BytesIO(big), "big.pdf", 2 * 1024 * 1024)
    assert refused.value.message == "big.pdf is larger than 2 MB."


def test_an_encrypted_pdf_is_refused():
    with pytest.raises(InvalidInput) as refused:
        check_pdf(io.BytesIO(pdf_bytes(password="made-up-secret")), "locked.pdf", 10_000_000)
    assert refused.value.message == "locked.pdf is password-protected; send it without a password."


@pytest.mark.parametrize("name", sorted(damaged_pdfs()))
def test_damaged_pdf_that_crashes_the_parser_is_not_readable_not_a_500(name):
    """Regression: AttributeError and LimitReachedError from pypdf escaped check_pdf."""
    with pytest.raises(InvalidInput) as refused:
        check_pdf(io.BytesIO(damaged_pdfs()[name]), name, 10_000_000)
    assert refused.value.message == f"{name} is not a readable PDF."


def test_a_dangerous_file_name_is_made_safe_in_the_message():
    with pytest.raises(InvalidInput) as refused:
        check_pdf(io.BytesIO(b"nope"), "../../etc/<b>passwd</b>.pdf", 10_000_000)
    assert "/" not in refused.value.message.split(" is not")[0]


# --- submit_request -------------------------------------------------------------------------


def test_a_missing_pdf_is_refused_for_legal_process(officer_a):
    with pytest.raises(InvalidInput) as refused:
        submit(officer_a, documents=[])
    assert refused.value.errors == {"documents": "Attach the legal process as a PDF."}
    assert count_requests() == 0


def test_an_emergency_needs_no_pdf(officer_a):
    request = submit(officer_a, documents=[], request_type="emergency")
    assert request.emergency and request.documents == []


def test_all_errors_are_reported_together(officer_a):
    with pytest.raises(InvalidInput) as refused:
        submit(officer_a, documents=[], date_from=None, legal_basis="", targets=[])
    assert set(refused.value.errors) == {"date_from", "legal_basis", "targets", "documents"}


def test_warnings_are_stored_with_the_request(officer_a):
    request = submit(officer_a, request_type="subpoena", data_categories=["subscriber", "content"],
                     nondisclosure_order=True)
    stored = reload_request(request.reference)
    assert stored.warnings == [SUBPOENA_CONTENT_WARNING, NDO_WARNING]


def test_the_pdf_is_stored_with_its_hash_and_pages(officer_a):
    import hashlib

    content = pdf_bytes(2)
    request = submit(officer_a, documents=[("../Court Order.pdf", io.BytesIO(content))])
    [doc] = db.session.scalars(select(LegalProcessDocument)
                               .where(LegalProcessDocument.request_id == request.id)).all()
    assert doc.sha256 == hashlib.sha256(content).hexdigest()
    assert doc.size == len(content) and doc.pages == 2
    assert "/" not in doc.original_name and doc.original_name.endswith(".pdf")


def test_a_bad_identifier_names_the_targets_field(officer_a):
    """Regression: normalize() named its field "value", which neither form nor API has."""
    with pytest.raises(InvalidInput) as refused:
        submit(officer_a, targets=[{"kind": "phone", "value": "not a phone"}])
    assert refused.value.field == "targets"
    assert "is not a phone number" in refused.value.message
    assert count_requests() == 0


def test_an_unknown_identifier_kind_is_refused(officer_a):
    with pytest.raises(InvalidInput) as refused:
        submit(officer_a, targets=[{"kind": "shoe_size", "value": "44"}])
    assert refused.value.field == "targets"


def test_targets_are_normalised(officer_a):
    request = submit(officer_a, targets=[{"kind": "username", "value": "  @Made_Up_Person "},
                                         {"kind": "phone", "value": "(202) 555-0147"},
                                         {"kind": "email", "value": "Some.One@Example.ORG"}])
    assert [t.normalized for t in request.targets] == [
        "made_up_person", "+12025550147", "some.one@example.org"]


def test_submission_is_audited_without_the_request_content(officer_a):
    from tests.requests.helpers import after, audit_events

    request = submit(officer_a, request_type="subpoena", data_categories=["content"])
    [event] = audit_events("request.submitted", request.reference)
    recorded = after(event)
    assert recorded["type"] == "subpoena" and recorded["targets"] == 1
    assert recorded["documents"] == 1 and recorded["deadline_at"]
    assert event.actor_id == officer_a.id and event.agency_id == officer_a.agency_id
    assert "made_up_target_one" not in (event.after or "")


def test_references_count_up_per_year(officer_a):
    first = submit(officer_a)
    second = submit(officer_a)
    year = now().year
    assert first.reference.startswith(f"REQ-{year}-")
    assert int(second.reference.rsplit("-", 1)[1]) == int(first.reference.rsplit("-", 1)[1]) + 1


# --- through the portal form ----------------------------------------------------------------


@pytest.fixture
def officer_browser(new_client, officer_a):
    return new_client(officer_a)


def post_new(browser, **overrides):
    page = browser.get("/portal/requests/new")
    assert page.status_code == 200
    return browser.post("/portal/requests/new", data=portal_form(csrf_from(page.text), **overrides),
                        content_type="multipart/form-data")


def test_the_form_submits_a_request(officer_browser, officer_a):
    response = post_new(officer_browser)
    assert response.status_code == 302
    reference = response.headers["Location"].rsplit("/", 1)[1]
    stored = reload_request(reference)
    assert stored.submitted_by_id == officer_a.id and stored.agency_id == officer_a.agency_id
    assert [t.normalized for t in stored.targets] == ["made_up_target_one"]
    assert stored.data_categories == ["subscriber", "login_logout"]
    assert len(stored.documents) == 1


@pytest.mark.parametrize(("overrides", "message"), [
    ({"date_from": "", "date_to": ""}, "Give the period you need data for (from and to dates)."),
    ({"legal_basis": "Any and all data for the account"}, ALL_DATA_ERROR),
    ({"documents": None}, "Attach the legal process as a PDF."),
    ({"documents": (io.BytesIO(b"GIF89a not a pdf"), "x.pdf")}, "x.pdf is not a PDF file."),
    ({"documents": (io.BytesIO(pdf_bytes(password="pw-made-up")), "locked.pdf")},
     "locked.pdf is password-protected; send it without a password."),
    ({"documents": (io.BytesIO(damaged_pdfs()["broken-trailer.pdf"]), "broken.pdf")},
     "broken.pdf is not a readable PDF."),
    ({"data_categories": []}, "Choose the categories of data you need."),
    ({"legal_basis": ""}, "Cite the legal basis (statute, article or order)."),
])
def test_the_form_refuses_with_a_plain_message(officer_browser, overrides, message):
    response = post_new(officer_browser, **overrides)
    assert response.status_code == 422
    assert message in field_errors(unescape(response.text)) or message in unescape(response.text)
    assert "Something went wrong" not in response.text
    assert count_requests() == 0


def test_the_form_refuses_an_oversized_pdf(officer_browser, override_settings):
    override_settings(legal_process_max_bytes=1024 * 1024)
    big = pdf_bytes(padding=1024 * 1024 + 10)
    response = post_new(officer_browser, documents=(io.BytesIO(big), "huge.pdf"))
    assert response.status_code == 422
    assert "huge.pdf is larger than 1 MB." in field_errors(unescape(response.text))
    assert count_requests() == 0


def test_the_form_says_what_is_wrong_with_a_target(officer_browser):
    """Regression: target errors went under the documents field, or nowhere at all."""
    response = post_new(officer_browser, target_kind_0="phone", target_value_0="call me maybe")
    assert response.status_code == 422
    text = unescape(response.text)
    assert "“call me maybe” is not a phone number." in text
    documents_field = text.split('for="documents"')[1].split("</div>")[0]
    assert "phone number" not in documents_field
    assert count_requests() == 0


def test_the_form_shows_an_error_for_a_too_long_identifier(officer_browser):
    """Regression: a row's own errors (length) were never shown, so the form refused silently."""
    response = post_new(officer_browser, target_value_0="x" * 400)
    assert response.status_code == 422
    assert "Field cannot be longer than 320 characters." in field_errors(unescape(response.text))


def test_the_form_needs_a_target(officer_browser):
    response = post_new(officer_browser, target_kind_0="", target_value_0="")
    assert response.status_code == 422
    assert "Give at least one account identifier." in unescape(response.text)


def test_a_target_without_a_type_is_refused(officer_browser):
    response = post_new(officer_browser, target_kind_0="")
    assert response.status_code == 422
    assert "Choose the type of each identifier." in unescape(response.text)
    assert count_requests() == 0


def test_the_form_keeps_what_was_typed(officer_browser):
    response = post_new(officer_browser, date_from="", offences="Made-up offence text 123")
    assert response.status_code == 422
    assert "Made-up offence text 123" in response.text


def test_warnings_are_shown_to_the_officer_and_to_staff(officer_browser, new_client, make_user):
    response = post_new(officer_browser, request_type="subpoena",
                        data_categories=["subscriber", "content"], nondisclosure_order="y")
    assert response.status_code == 302
    page = unescape(officer_browser.get(response.headers["Location"]).text)
    assert SUBPOENA_CONTENT_WARNING in page and NDO_WARNING in page
    reference = response.headers["Location"].rsplit("/", 1)[1]
    staff = new_client(make_user("agent"))
    staff_page = unescape(staff.get(f"/requests/{reference}").text)
    assert SUBPOENA_CONTENT_WARNING in staff_page and NDO_WARNING in staff_page
    assert "with no end date (legal review)" in staff_page


def test_an_epoc_addressed_to_us_is_flagged_on_the_form(officer_browser, irish_agency_a):
    response = post_new(officer_browser, request_type="eu_epoc", addressed_to="us")
    assert response.status_code == 302
    page = unescape(officer_browser.get(response.headers["Location"]).text)
    assert EPOC_TO_US_WARNING in page


def test_an_emergency_epoc_from_the_form_has_eight_hours(officer_browser, irish_agency_a,
                                                         frozen):
    from datetime import UTC, datetime

    frozen(datetime(2026, 9, 9, 10, 20, tzinfo=UTC))
    response = post_new(officer_browser, request_type="eu_epoc", addressed_to="eu", emergency="y")
    assert response.status_code == 302
    stored = reload_request(response.headers["Location"].rsplit("/", 1)[1])
    assert stored.emergency is True
    assert stored.deadline_at == datetime(2026, 9, 9, 18, 59, 59, 999999, tzinfo=UTC)


def test_the_emergency_type_cannot_be_chosen_on_the_ordinary_form(officer_browser):
    response = post_new(officer_browser, request_type="emergency")
    assert response.status_code == 422
    assert count_requests() == 0


def test_the_form_refuses_without_a_csrf_token(officer_browser):
    response = officer_browser.post("/portal/requests/new", data=portal_form("forged"),
                                    content_type="multipart/form-data")
    assert response.status_code in (400, 422)
    assert count_requests() == 0


# --- through the API ------------------------------------------------------------------------


@pytest.fixture
def api(client, officer_a, officer_token):
    secret = officer_token(officer_a)

    def post(body):
        return client.post("/api/v1/requests", json=body, headers=bearer(secret))

    return post


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"legal_basis": "all data please"}, "data_categories", ALL_DATA_ERROR),
    ({"documents": []}, "documents", "Attach the legal process as a PDF."),
    ({"documents": [{"filename": "x.pdf", "content_base64": base64.b64encode(b"plain text").decode()}]},
     "documents", "x.pdf is not a PDF file."),
    ({"documents": [{"filename": "locked.pdf", "content_base64":
                     base64.b64encode(pdf_bytes(password="pw")).decode()}]},
     "documents", "locked.pdf is password-protected; send it without a password."),
    ({"documents": [{"filename": "x.pdf", "content_base64": "@@not base64@@"}]},
     "documents", "x.pdf: content_base64 is not base64."),
    ({"targets": [{"kind": "ip", "value": "999.1.1.1"}]}, "targets", "“999.1.1.1” is not an IP address."),
])
def test_the_api_refuses_with_422_naming_the_field(api, overrides, field, message):
    response = api(api_body(**overrides))
    assert response.status_code == 422, response.text
    assert response.json["errors"][field] == [message]
    assert response.json["message"] == message
    assert count_requests() == 0


def test_the_api_refuses_a_missing_date_range_by_schema(api):
    body = api_body()
    del body["date_from"], body["date_to"]
    response = api(body)
    assert response.status_code == 422
    assert set(response.json["errors"]["json"]) == {"date_from", "date_to"}


def test_the_api_refuses_an_oversized_pdf(api, override_settings):
    override_settings(legal_process_max_bytes=1024 * 1024)
    big = base64.b64encode(pdf_bytes(padding=1024 * 1024 + 10)).decode()
    response = api(api_body(documents=[{"filename": "huge.pdf", "content_base64": big}]))
    assert response.status_code == 422
    assert response.json["errors"]["documents"] == ["huge.pdf is larger than 1 MB."]


def test_the_api_returns_warnings_and_stores_them(api):
    response = api(api_body(request_type="subpoena", data_categories=["subscriber", "content"]))
    assert response.status_code == 201, response.text
    assert response.json["warnings"] == [SUBPOENA_CONTENT_WARNING]
    assert reload_request(response.json["reference"]).warnings == [SUBPOENA_CONTENT_WARNING]
