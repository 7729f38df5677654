"""The OpenAPI description: public, and it names every route and the bearer scheme."""

from __future__ import annotations

import pytest


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")  # no token, no session
    assert response.status_code == 200
    assert response.is_json
    return response.json


def test_the_spec_lists_the_api_paths(spec):
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/escalations", "/api/v1/cases/{reference}",
            "/api/v1/cases/{reference}/evidence",
            "/api/v1/cases/{reference}/evidence/{item_id}/content"} <= set(spec["paths"])
    assert "post" in spec["paths"]["/api/v1/escalations"]
    assert "post" in spec["paths"]["/api/v1/cases/{reference}/evidence"]
    assert "get" in spec["paths"]["/api/v1/cases/{reference}/evidence/{item_id}/content"]


def test_the_spec_declares_bearer_auth_on_every_operation(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method in ("get", "post", "put", "patch", "delete"):
                assert {"bearerAuth": []} in operation.get("security", []), (path, method)


def test_the_escalation_body_is_described(spec):
    operation = spec["paths"]["/api/v1/escalations"]["post"]
    schema_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = schema_ref.rsplit("/", 1)[-1]
    schema = spec["components"]["schemas"][name]
    assert {"source_system", "external_id", "category", "reason", "detected_at",
            "accounts"} <= set(schema["required"])
    assert {"201", "200", "422"} <= set(operation["responses"])


def test_the_upload_takes_a_raw_body(spec):
    operation = spec["paths"]["/api/v1/cases/{reference}/evidence"]["post"]
    assert "application/octet-stream" in operation["requestBody"]["content"]
    assert any(p["name"] == "filename" and p["required"] for p in operation["parameters"])
