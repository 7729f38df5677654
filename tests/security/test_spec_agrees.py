"""Finding 9: where the spec was looser than the server, each named case now agrees."""

from __future__ import annotations

import pytest


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").json


def variant(spec, component: str, key: str, value: str) -> dict:
    return next(v for v in spec["components"]["schemas"][component]["oneOf"]
                if v["properties"][key]["enum"] == [value])


@pytest.mark.parametrize("component", ["IdentifierIn", "TargetIn"])
def test_an_ip_identifier_must_be_an_ip_address_in_the_spec(spec, component):
    ip = variant(spec, component, "kind", "ip")["properties"]["value"]
    assert {f["format"] for f in ip["anyOf"]} == {"ipv4", "ipv6"}
    username = variant(spec, component, "kind", "username")
    assert "observed_at" not in username["properties"]  # only IP addresses take it


def test_an_empty_url_is_not_a_url_in_the_spec(spec):
    content = spec["components"]["schemas"]["ContentIn"]["properties"]["url"]
    assert content["minLength"] == 1 and content["pattern"] == "^https?://"
    upload = spec["paths"]["/api/v1/cases/{reference}/evidence"]["post"]
    url = next(p for p in upload["parameters"] if p["name"] == "url")
    assert url["schema"]["minLength"] == 1


def test_an_empty_evidence_body_is_refused_by_the_spec(spec):
    body = spec["paths"]["/api/v1/cases/{reference}/evidence"]["post"]["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/octet-stream"]["schema"]["minLength"] == 1


def test_legal_basis_is_required_except_for_an_emergency(spec):
    court_order = variant(spec, "RequestIn", "request_type", "court_order_2703d")
    assert {"legal_basis", "issuing_authority", "documents"} <= set(court_order["required"])
    assert court_order["properties"]["legal_basis"]["minLength"] == 1
    emergency = variant(spec, "RequestIn", "request_type", "emergency")
    assert "legal_basis" not in emergency["required"]
    assert {"emergency_description", "person_at_risk", "why_data_helps",
            "good_faith_attested"} <= set(emergency["required"])
    assert emergency["properties"]["good_faith_attested"]["enum"] == [True]
    renewal = variant(spec, "RequestIn", "request_type", "preservation_renewal")
    assert "related_reference" in renewal["required"]


def test_dates_and_times_say_their_range(spec):
    request = variant(spec, "RequestIn", "request_type", "subpoena")["properties"]
    assert request["date_from"]["pattern"].startswith("^(19[7-9]")
    detected = spec["components"]["schemas"]["EscalationIn"]["properties"]["detected_at"]
    assert detected["pattern"].startswith("^(19[7-9]")
