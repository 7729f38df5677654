"""Regression: each app made in the process (tests make several) added the sign-in limit
to the shared limiter again, so one attempt counted once per app and the session's app
refused the second of three allowed attempts."""

from __future__ import annotations

from dataclasses import replace


from referrals import create_app
from referrals.extensions import limiter
from tests.conftest import csrf_from


def test_another_app_does_not_make_one_attempt_count_twice(app, client, settings):
    create_app(replace(settings))  # as the proxy and separate-database tests do
    create_app(replace(settings))
    original = app.config["REFERRALS_SETTINGS"]
    app.config["REFERRALS_SETTINGS"] = replace(original, sign_in_rate_limit="3 per minute")
    limiter.reset()
    try:
        token = csrf_from(client.get("/login").text)
        data = {"email": "nobody-here@test.example", "password": "whatever password 1",
                "acknowledge_notice": "y", "csrf_token": token}
        statuses = [client.post("/login", data=data).status_code for _ in range(4)]
    finally:
        app.config["REFERRALS_SETTINGS"] = original
        limiter.reset()
    assert statuses == [200, 200, 200, 429]
