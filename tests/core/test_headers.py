"""Security headers on every response, request ids, CSRF, and plain-language error pages."""

import re

import pytest
from sqlalchemy import select

from referrals.accounts.models import User
from referrals.audit.models import AuditEvent
from referrals.extensions import db
from tests.conftest import csrf_from

ANONYMOUS_PAGES = ["/login", "/healthz", "/static/app.css", "/no-such-page", "/api/v1/nonexistent",
                   "/dashboard", "/admin/accounts/"]
SIGNED_IN_PAGES = ["/dashboard", "/account/password", "/admin/accounts/", "/admin/accounts/new",
                   "/no-such-page"]


def _csp(response):
    policy = response.headers.get("Content-Security-Policy")
    assert policy, f"no Content-Security-Policy on {response.request.path}"
    directives = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value.strip()
    return policy, directives


def _assert_strict_csp(response):
    policy, directives = _csp(response)
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"


def _assert_plain_error_page(response):
    text = response.text
    assert "Traceback" not in text
    assert 'File "' not in text
    assert "werkzeug" not in text.lower()
    assert "<h1>" in text and "Error" in text


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_every_page_has_a_strict_content_security_policy(client, path):
    _assert_strict_csp(client.get(path))


@pytest.mark.parametrize("path", SIGNED_IN_PAGES)
def test_signed_in_pages_have_a_strict_content_security_policy(client, as_role, path):
    as_role("admin")
    _assert_strict_csp(client.get(path))


def test_error_responses_have_the_policy_too(client):
    response = client.post("/login", data={"email": "x@test.example"})  # no CSRF token
    assert response.status_code == 400
    _assert_strict_csp(response)


def test_pages_carry_no_inline_script_or_style(client, as_role):
    """The policy forbids inline code; the pages must not need it."""
    pages = [client.get("/login").text]
    as_role("admin")
    pages += [client.get(p).text for p in ("/dashboard", "/admin/accounts/", "/account/password")]
    for html in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
        assert "<style" not in html
        assert not re.search(r"\sstyle=", html), "inline style attribute"
        assert not re.search(r"\son[a-z]+=", html), "inline event handler"


@pytest.mark.parametrize("path", ["/login", "/no-such-page"])
def test_other_security_headers(client, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


# --- request ids ------------------------------------------------------------------------


def test_request_id_is_echoed_when_the_caller_sends_a_sensible_one(client):
    response = client.get("/login", headers={"X-Request-ID": "upstream-req_1234.abc"})
    assert response.headers["X-Request-ID"] == "upstream-req_1234.abc"


def test_request_id_is_generated_when_missing(client):
    first = client.get("/login").headers["X-Request-ID"]
    second = client.get("/login").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


@pytest.mark.parametrize(
    "given",
    ["short", "has spaces in it", "x" * 65, "<script>alert(1)</script>", "line\\nbreak-123456"],
)
def test_request_id_that_is_not_safe_to_log_is_replaced(client, given):
    response = client.get("/login", headers={"X-Request-ID": given})
    assert response.headers["X-Request-ID"] != given
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_request_id_is_on_error_responses_and_in_the_audit_trail(client, sign_in, make_user):
    assert client.get("/no-such-page").headers["X-Request-ID"]
    user = make_user("agent")
    page = client.get("/login")
    client.post("/login", headers={"X-Request-ID": "trace-sign-in-0001"}, data={
        "email": user.email, "password": "not the right password at all",
        "acknowledge_notice": "y", "csrf_token": csrf_from(page.text),
    })
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "sign_in.failed",
                                 AuditEvent.object_id == str(user.id))
    ).one()
    assert event.request_id == "trace-sign-in-0001"


# --- caching ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/dashboard", "/admin/accounts/", "/account/password"])
def test_signed_in_pages_are_never_cached(client, as_role, path):
    as_role("admin")
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_signed_in_error_pages_are_never_cached(client, as_role):
    as_role("agent")
    response = client.get("/admin/accounts/")
    assert response.status_code == 403
    assert response.headers["Cache-Control"] == "no-store"


# --- CSRF --------------------------------------------------------------------------------


def test_sign_in_post_without_csrf_token_is_refused_in_plain_words(client, make_user):
    user = make_user("agent")
    response = client.post("/login", data={
        "email": user.email, "password": "correct horse battery staple 42",
        "acknowledge_notice": "y",
    })
    assert response.status_code == 400
    assert "The form expired" in response.text
    assert "Reload the page and try again." in response.text
    _assert_plain_error_page(response)
    assert client.get("/tf-validate").status_code == 302  # the password step did not happen


def test_sign_in_post_with_a_forged_csrf_token_is_refused(client, make_user):
    user = make_user("agent")
    response = client.post("/login", data={
        "email": user.email, "password": "correct horse battery staple 42",
        "acknowledge_notice": "y", "csrf_token": "forged.token.value",
    })
    assert response.status_code == 400
    _assert_plain_error_page(response)


def test_staff_form_post_without_csrf_token_is_refused(client, as_role):
    as_role("admin")
    response = client.post("/admin/accounts/new", data={
        "email": "csrf-victim@test.example", "full_name": "Nobody", "roles": ["admin"],
    })
    assert response.status_code == 400
    assert "The form expired" in response.text
    _assert_plain_error_page(response)
    assert db.session.scalar(select(User).where(User.email == "csrf-victim@test.example")) is None


def test_sign_out_without_csrf_token_is_refused(client, as_role):
    as_role("agent")
    response = client.post("/logout", data={})
    assert response.status_code == 400
    assert client.get("/dashboard").status_code == 200


def test_sign_out_by_get_is_not_possible(client, as_role):
    as_role("agent")
    response = client.get("/logout")
    assert response.status_code == 405
    assert client.get("/dashboard").status_code == 200


def test_cross_site_referer_is_refused(client, make_user):
    user = make_user("agent")
    page = client.get("/login")
    response = client.post("/login", headers={"Referer": "https://evil.example/"}, data={
        "email": user.email, "password": "correct horse battery staple 42",
        "acknowledge_notice": "y", "csrf_token": csrf_from(page.text),
    })
    assert response.status_code == 400
    _assert_plain_error_page(response)


# --- error pages ---------------------------------------------------------------------------


def test_not_found_page_is_plain_language(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "There is nothing here, or you do not have access to it." in response.text
    _assert_plain_error_page(response)


def test_not_found_page_for_a_signed_in_user_is_plain_language(client, as_role):
    as_role("agent")
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "There is nothing here" in response.text
    _assert_plain_error_page(response)


def test_api_not_found_is_json(client):
    response = client.get("/api/v1/nonexistent")
    assert response.status_code == 404
    assert response.is_json
    assert response.json["code"] == 404
    assert response.json["message"] == "There is nothing here, or you do not have access to it."
    _assert_strict_csp(response)


def test_json_clients_get_json_errors(client):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.is_json
    assert response.json["status"] == "Not found"


def test_unexpected_error_is_a_plain_500_without_a_trace(app, client, caplog):
    """An exception in a view becomes the plain 500 page; the trace goes to the log only."""
    def boom():
        raise RuntimeError("secret internal detail")

    app.view_functions["health"], saved = boom, app.view_functions["health"]
    try:
        response = client.get("/healthz")
    finally:
        app.view_functions["health"] = saved
    assert response.status_code == 500
    assert "secret internal detail" not in response.text
    assert "Nothing was changed" in response.text
    _assert_plain_error_page(response)
    _assert_strict_csp(response)
    assert "secret internal detail" in caplog.text
