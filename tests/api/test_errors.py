"""API errors are JSON with the right status; CORS; the OpenAPI document and docs page."""

from __future__ import annotations

import pytest

from homelog import create_app
from tests.conftest import app_config


def test_unknown_paths_and_methods_are_json(client, api_headers):
    response = client.get("/api/nothing/here", headers=api_headers)
    assert response.status_code == 404 and response.is_json
    assert set(response.get_json()) == {"detail", "errors"}
    response = client.delete("/api/sources", headers=api_headers)
    assert response.status_code == 405 and response.is_json
    assert "GET" in response.headers["Allow"]


def test_malformed_json_is_400(client, api_headers):
    for body in ("{", '{"name": }', "\xff"):
        response = client.post(
            "/api/sources", headers=api_headers, data=body, content_type="application/json"
        )
        assert response.status_code == 400 and response.is_json


def test_non_json_is_415(client, api_headers):
    response = client.post("/api/sources", headers=api_headers, data={"name": "x"})
    assert response.status_code == 415 and response.is_json
    response = client.post(
        "/api/sources", headers=api_headers, data='{"name": "x"}', content_type="text/plain"
    )
    assert response.status_code == 415


def test_body_over_the_limit_is_413(app, client, api_headers):
    app.config["API_MAX_BODY_BYTES"] = 1000
    try:
        response = client.post(
            "/api/sources", headers=api_headers, json={"name": "x" * 2000, "metrics": {"a": "b"}}
        )
    finally:
        app.config.pop("API_MAX_BODY_BYTES")
    assert response.status_code == 413 and response.is_json


def test_wrong_json_type_is_422(client, api_headers):
    for body in ("[]", '"text"', "5", "null"):
        response = client.post(
            "/api/sources", headers=api_headers, data=body, content_type="application/json"
        )
        assert response.status_code == 422, body
        assert response.get_json()["errors"]


def test_openapi_document_describes_every_route(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    for path, methods in {
        "/api/auth/login": {"post"},
        "/api/auth/logout": {"post"},
        "/api/auth/validate": {"get", "put"},
        "/api/auth/password": {"put"},
        "/api/users/me": {"get"},
        "/api/users": {"get", "post"},
        "/api/users/{user_id}": {"get", "put", "patch", "delete"},
        "/api/sources": {"get", "post"},
        "/api/sources/{source_id}": {"get", "put", "patch", "delete"},
        "/api/sources/{source_id}/readings": {"get", "post"},
        "/api/sources/{source_id}/readings/{reading_id}": {"get", "put", "patch", "delete"},
        "/api/sync/readings": {"post"},
        "/api/sync/changes": {"get"},
    }.items():
        assert set(paths[path]) == methods, path
    schemas = document["components"]["schemas"]
    values = schemas["ReadingCreate"]["properties"]["values"]
    assert values["additionalProperties"]["type"] == "number" and values["examples"]
    assert paths["/api/auth/login"]["post"]["security"] == []
    assert "401" in paths["/api/sources"]["get"]["responses"]


def test_docs_page_uses_vendored_files_only(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "/static/js/api-docs.js" in html
    assert "<script>" not in html and "http" not in html.replace("http-equiv", "")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    for path in (
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/vendor/swagger-ui/swagger-ui.css",
        "/static/js/api-docs.js",
    ):
        assert client.get(path).status_code == 200, path


def test_no_cors_by_default(client, api_headers):
    response = client.get("/api/users/me", headers={**api_headers, "Origin": "https://x.test"})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.fixture
def cors_client(database_url):
    app = create_app(app_config(database_url, CORS_ORIGINS="https://app.example.com"))
    return app.test_client()


def test_cors_for_configured_origins(cors_client, app):
    preflight = cors_client.options(
        "/api/sources",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    response = cors_client.get("/api/sources", headers={"Origin": "https://app.example.com"})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    other = cors_client.get("/api/sources", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers
