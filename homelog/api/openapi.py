"""The OpenAPI 3.1 document, built from the same schemas that validate requests, and its docs."""

from __future__ import annotations

import re
from typing import Any

from flask import render_template
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from homelog.api.core import OPERATIONS, Operation, public_route

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
PATH_PARAMETER_SCHEMAS = {
    "int": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    "uuid": {"type": "string", "format": "uuid"},
    None: {"type": "string"},
}
DESCRIPTION = """\
The JSON API of homelog: a household's meters and sensors and their readings.

**Sign in** with `POST /api/auth/login` to get a bearer token, then send
`Authorization: Bearer <token>` with every request (the *Authorize* button here does that).
A signed-in browser session works too; changes then need the `X-CSRFToken` header.

**Errors** are always JSON `{"detail", "errors": {field: [messages]}}`: 400 malformed JSON,
401 not signed in, 403 not allowed, 404 not found *or not yours*, 409 conflict, 413 body too
large, 415 not JSON, 422 invalid values, 429 too many attempts, 503 database unavailable.

**Offline sync**: give readings your own UUIDs, upload with `POST /api/sync/readings`, and
keep a local copy with `GET /api/sync/changes`. See docs/api.md in the repository.
"""


def _path(rule: str) -> str:
    return "/api" + _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule)


def _path_parameters(rule: str) -> list[dict]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": PATH_PARAMETER_SCHEMAS.get(converter, {"type": "string"}),
        }
        for converter, name in _PARAM.findall(rule)
        for converter in [converter or None]
    ]


def _query_parameters(model: type[BaseModel]) -> list[dict]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _models(operations: list[Operation]) -> list[tuple[type[BaseModel], str]]:
    seen: dict[tuple[type[BaseModel], str], None] = {}
    for op in operations:
        if op.body is not None:
            seen[(op.body, "validation")] = None
        for model, _ in op.responses.values():
            if model is not None:
                seen[(model, "serialization")] = None
    return list(seen)


def _operation_id(op: Operation, method: str) -> str:
    name = op.endpoint.split(".", 1)[1]
    return name if len(op.methods) == 1 else f"{name}_{method.lower()}"


def _links(op: Operation, method: str) -> dict[str, dict]:
    """Return the OpenAPI links of a creation's 201 answer: the new object's `id` fills the
    path of every route under it (a new source's readings, usage, value, import, export...).

    Path parameters the creation itself had pass on as they were.
    """
    if method != "POST" or 201 not in op.responses:
        return {}
    item = re.compile(re.escape(op.rule) + r"/<(?:\w+:)?(\w+)>")
    links = {}
    for target in OPERATIONS:
        found = item.match(target.rule)
        if found is None:
            continue
        parameters = {name: f"$request.path.{name}" for _, name in _PARAM.findall(op.rule)}
        parameters[found.group(1)] = "$response.body#/id"
        for target_method in target.methods:
            operation_id = _operation_id(target, target_method)
            links[operation_id] = {"operationId": operation_id, "parameters": parameters}
    return links


def build_document() -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of every route declared with `operation`."""
    refs, definitions = models_json_schema(
        _models(OPERATIONS), ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        parameters = _path_parameters(op.rule)
        if op.query is not None:
            parameters += _query_parameters(op.query)
        for method in op.methods:
            links = _links(op, method)
            entry: dict[str, Any] = {
                "operationId": _operation_id(op, method),
                "summary": op.summary,
                "tags": list(op.tags),
                "responses": {
                    str(code): {
                        "description": text,
                        **(
                            {
                                "content": {
                                    "application/json": {"schema": refs[(model, "serialization")]}
                                }
                            }
                            if model
                            else {}
                        ),
                        **({"links": links} if code == 201 and links else {}),
                    }
                    for code, (model, text) in sorted(op.responses.items())
                },
            }
            if op.description:
                entry["description"] = op.description
            if parameters:
                entry["parameters"] = parameters
            if op.body is not None:
                entry["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
                }
            elif op.raw_body is not None:
                entry["requestBody"] = {"required": True, "content": op.raw_body}
            entry["security"] = [] if op.public else [{"bearerAuth": []}]
            paths.setdefault(_path(op.rule), {})[method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "homelog API", "version": "1.0.0", "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from POST /api/auth/login.",
                },
            },
        },
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": "auth", "description": "Tokens and passwords."},
            {"name": "users", "description": "Accounts."},
            {"name": "sources", "description": "Meters and sensors."},
            {"name": "readings", "description": "A source's readings."},
            {"name": "sync", "description": "Offline sync for mobile apps."},
            {"name": "homes", "description": "Homes, their members and invitations."},
            {"name": "reminders", "description": "Readings due, and each source's schedule."},
        ],
    }


@public_route("/openapi.json")
def openapi_document():
    """Serve the OpenAPI document."""
    return build_document()


@public_route("/docs")
def docs():
    """Show interactive API docs (Swagger UI, served from vendored files)."""
    return render_template("api/docs.html")
