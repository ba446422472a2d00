"""Input no person types is refused up front with a clear answer: NUL characters anywhere and
JSON nested deeper than any route takes (homelog.web)."""

from __future__ import annotations

import json

import pytest

from homelog import tokens
from homelog.extensions import db
from homelog.models import DataSource, User
from homelog.web import MAX_JSON_DEPTH, NUL_MESSAGE, json_body_problem

# The probe of the report: a NUL escape, then 2,000 unclosed brackets.
NUL_AND_DEEP = '["\\u0000",' + "[" * 2000
DEEP = "[" * 2000 + "]" * 2000
DEEP_OBJECT = '{"a":' * 2000 + "1" + "}" * 2000


def _bearer(user) -> dict[str, str]:
    raw, _ = tokens.issue_token(user, "phone")
    return {"Authorization": f"Bearer {raw}"}


@pytest.mark.parametrize("body", [NUL_AND_DEEP, DEEP, DEEP_OBJECT, "[" * 2000])
def test_deep_json_is_a_clear_4xx_on_public_routes(client, user, body):
    login = client.post("/api/auth/login", data=body, content_type="application/json")
    assert login.status_code in (400, 422), login.data
    assert login.is_json and login.json["detail"] and login.json["errors"]["body"]
    health = client.post("/healthz", data=body, content_type="application/json")
    assert health.status_code == 405
    first_run = client.post("/setup", data=body, content_type="application/json")
    assert first_run.status_code in (400, 404), first_run.status_code


@pytest.mark.parametrize("body", [NUL_AND_DEEP, DEEP, DEEP_OBJECT])
def test_deep_json_is_a_clear_4xx_on_authenticated_routes(client, logged_in, user, body):
    headers = _bearer(user)
    for path in ("/api/sources", "/api/sync/readings", "/api/auth/password"):
        method = client.put if path.endswith("password") else client.post
        response = method(path, data=body, content_type="application/json", headers=headers)
        assert response.status_code in (400, 422), (path, response.data)
        assert response.is_json and response.json["errors"]["body"], path
    # A page's form route, from a signed-in browser with its CSRF token.
    page = logged_in.post("/account/profile", data=body, content_type="application/json")
    assert page.status_code == 400
    assert b"nested" in page.data or b"NUL" in page.data or b"not valid JSON" in page.data
    assert db.session.scalar(db.select(db.func.count()).select_from(DataSource)) == 0


def test_deep_json_message_says_what_is_wrong(client, user):
    response = client.post(
        "/api/sources", data=DEEP, content_type="application/json", headers=_bearer(user)
    )
    assert response.status_code == 400
    assert response.json["detail"] == f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep."
    unbalanced = client.post(
        "/api/sources", data="[" * 2000, content_type="application/json", headers=_bearer(user)
    )
    assert unbalanced.status_code == 400
    assert unbalanced.json["detail"] == "The body is not valid JSON."


def test_json_up_to_the_depth_limit_reaches_the_route(client, user):
    # 32 levels pass the guard: the route's schema answers (422), not the guard.
    body = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    response = client.post(
        "/api/sources", data=body, content_type="application/json", headers=_bearer(user)
    )
    assert response.status_code == 422
    assert "body" not in response.json["errors"] or "nested" not in str(response.json)


def test_a_nul_escape_in_utf16_json_is_found(client, user):
    body = json.dumps({"name": "a\x00b", "metrics": {"import": "kWh"}}).encode("utf-16")
    response = client.post(
        "/api/sources", data=body, content_type="application/json", headers=_bearer(user)
    )
    assert response.status_code == 422 and response.json["detail"] == NUL_MESSAGE


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b'{"a": 1}', None),
        (b"[" * 33 + b"]" * 33, "nested"),
        (b"[" * 32 + b"]" * 32, None),
        (b'{"a": "' + b"[" * 100 + b'"}', None),  # brackets in text do not nest
        (b'{"a": "\\"' + b"[" * 100 + b'"}', None),  # nor after an escaped quote
        (b'{"a": "\\\\"}' + b"[" * 40, "not valid"),  # an escaped backslash ends no string
        (b'["\\\\u0000"]', None),  # a backslash, then the text u0000
        (b'["\\\\\\u0000"]', "NUL"),  # a backslash, then a NUL
        (b'{"\\u0000": 1}', "NUL"),
        (b"[" + b"[]," * 10_000 + b"[]]", None),  # wide, not deep
        (b"\xff\xfe[\x00", "not valid"),  # broken UTF-16
    ],
)
def test_json_body_problem(raw, problem):
    found = json_body_problem(raw)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_nul_in_a_multipart_form_field_is_refused(logged_in, user):
    response = logged_in.post(
        "/account/profile",
        data={"name": "Ol\x00ive", "timezone": "UTC"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and NUL_MESSAGE.encode() in response.data
    assert db.session.get(User, user.id).display_name == "Olive Owner"
    source = logged_in.post(
        "/sources/new",
        data={"name": "Meter\x00", "kind": "meter", "metric_name-0": "import"},
        content_type="multipart/form-data",
    )
    assert source.status_code == 400
    assert db.session.scalar(db.select(db.func.count()).select_from(DataSource)) == 0


def test_nul_in_a_multipart_field_under_htmx_answers_a_fragment(logged_in):
    response = logged_in.post(
        "/account/profile",
        data={"name": "Ol\x00ive", "timezone": "UTC"},
        content_type="multipart/form-data",
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 400 and NUL_MESSAGE.encode() in response.data
    assert b"<html" not in response.data
