"""The sandbox inside the app: labelled, answers like the documented API (errors included,
with HTTP 200 where NCMEC does), and absent from production."""

from __future__ import annotations

import base64
from dataclasses import replace
from xml.etree.ElementTree import fromstring

from flask import Flask

from referrals.ncmec import sandbox
from referrals.ncmec.sandbox import SANDBOX_PREFIX, STATE


def _auth(user="demo", password="demo"):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _code(response) -> int:
    return int(fromstring(response.data).findtext("responseCode"))


def test_status_is_labelled_and_needs_credentials(app, client):
    response = client.get(f"{SANDBOX_PREFIX}/status")
    assert response.status_code == 401 and _code(response) == 2000
    response = client.get(f"{SANDBOX_PREFIX}/status", headers=_auth())
    assert response.status_code == 200 and _code(response) == 0
    assert "SANDBOX" in response.headers["X-Sandbox"] and response.headers["Request-ID"]
    assert "not NCMEC" in response.get_data(as_text=True)


def test_errors_come_as_response_codes(app, client):
    STATE.reset()
    answer = client.post(f"{SANDBOX_PREFIX}/submit", data=b"<report><oops", headers=_auth())
    assert answer.status_code == 200 and _code(answer) == 4110
    answer = client.post(f"{SANDBOX_PREFIX}/submit", data=b"<report/>", headers=_auth())
    assert answer.status_code == 200 and _code(answer) == 4100
    answer = client.post(f"{SANDBOX_PREFIX}/finish", data={"id": "999"}, headers=_auth())
    assert _code(answer) == 5001
    example = open(sandbox.SCHEMA_PATH.parents[0].parent / "schema" / "cybertipline-report.xsd",
                   "rb").read()
    assert client.get(f"{SANDBOX_PREFIX}/xsd", headers=_auth()).data == example


def test_production_never_serves_it(app):
    production = Flask("production-like")
    production.config["REFERRALS_SETTINGS"] = replace(
        app.config["REFERRALS_SETTINGS"], environment="production", ncmec_sandbox=True)
    sandbox.install(production)
    assert "ncmec_sandbox" not in production.blueprints
    switched_off = Flask("switched-off")
    switched_off.config["REFERRALS_SETTINGS"] = replace(
        app.config["REFERRALS_SETTINGS"], ncmec_sandbox=False)
    sandbox.install(switched_off)
    assert "ncmec_sandbox" not in switched_off.blueprints
