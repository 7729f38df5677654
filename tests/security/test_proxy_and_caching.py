"""Finding 10: behind a proxy, and what caches may keep."""

from __future__ import annotations

from dataclasses import replace

import pytest
from flask import request

from config import ConfigError, load_settings

from referrals import create_app
from tests.requests.helpers import bearer


@pytest.fixture(scope="module")
def proxied_app(settings):
    return create_app(replace(settings, trusted_proxies=1))


FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https",
             "X-Forwarded-Host": "ler.platform.example"}


def test_behind_one_trusted_proxy_the_original_scheme_and_address_count(proxied_app):
    seen = {}

    @proxied_app.before_request
    def record():  # on this test's own app
        seen.update(addr=request.remote_addr, secure=request.is_secure, host=request.host)

    response = proxied_app.test_client().get("/healthz", headers=FORWARDED,
                                              base_url="http://10.0.0.2")
    assert response.status_code == 200
    assert seen == {"addr": "203.0.113.7", "secure": True, "host": "ler.platform.example"}
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_without_a_trusted_proxy_forwarded_headers_are_ignored(app):
    client = app.test_client()
    response = client.get("/healthz", headers=FORWARDED, base_url="http://127.0.0.1")
    assert "Strict-Transport-Security" not in response.headers


def test_a_proxy_count_out_of_range_refuses_to_start():
    with pytest.raises(ConfigError, match="REFERRALS_TRUSTED_PROXIES"):
        load_settings({"REFERRALS_ENV": "test", "REFERRALS_TRUSTED_PROXIES": "-1"})


def test_api_answers_are_never_cached(client, officer_a, officer_token):
    response = client.get("/api/v1/requests", headers=bearer(officer_token(officer_a)))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    refused = client.get("/api/v1/requests")
    assert refused.status_code == 401 and refused.headers["Cache-Control"] == "no-store"


def test_the_sign_in_page_says_no_store_in_a_well_formed_header(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers.getlist("Cache-Control") == ["no-store"]
