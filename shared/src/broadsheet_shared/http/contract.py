"""Every answer an operation can give, declared in its OpenAPI document from one place.

Clients are generated from ``/openapi.json``, so the document has to list each status a route
can answer, with the content type and schema the problem handler really sends. Rather than each
route listing them by hand (and new routes forgetting), the statuses follow from what the
document already says about the operation:

- every operation may be rate-limited (429) or meet a service that is down (503, 504 at the
  gateway);
- one with a security requirement (the staff bearer token) may answer 401 and 403;
- one with a path parameter names something that may not exist: 404;
- one with parameters or a body may be refused for them: 422; one with a body also for its
  size (413), its media type (415) or its nesting (400, at the gateway);
- what only a use case knows (a conflict, a stale revision) the route declares with
  :func:`raises`, in the status :data:`~broadsheet_shared.http.problems.STATUS_OF` gives.

Each error response then gets the RFC 9457 schema as ``application/problem+json`` (and a page
of the reader site also its HTML page). This runs once, when the document is generated: no
request pays for it.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI

from broadsheet_shared.errors import ApplicationError
from broadsheet_shared.http.problems import PROBLEM_JSON, STATUS_OF

PROBLEM_SCHEMA_NAME = "Problem"
PROBLEM_REF = {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"}

# RFC 9457 members, plus the extensions Broadsheet sends; others may be added (a client must
# ignore members it does not know, RFC 9457 §3.2).
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": PROBLEM_SCHEMA_NAME,
    "description": "An error, as RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem"},
        "title": {"type": "string", "description": "A short summary of the kind of problem"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What went wrong, for a person to read"},
        "instance": {"type": "string", "description": "The path the request was for"},
        "errors": {
            "type": "array",
            "description": "Each refused field (422)",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
        "retry_after": {
            "type": "integer",
            "minimum": 0,
            "description": "Seconds to wait before trying again (429, 503)",
        },
    },
    "additionalProperties": True,
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 0},
    }
}
_WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with",
        "schema": {"type": "string"},
    }
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: _WWW_AUTHENTICATE,
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}
_EVERY_OPERATION = (429, 503, 504)
_SECURED = (401, 403)
_WITH_PATH_PARAMETERS = (404,)
_WITH_INPUT = (422,)
_WITH_BODY = (400, 413, 415)
# FastAPI's own validation error schemas: the problem schema replaces them.
_FASTAPI_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")
_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def raises(*kinds: type[ApplicationError]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route (or router) whose use cases may refuse with ``kinds`` beyond
    what its shape already implies (say, a conflict): the status comes from ``STATUS_OF``."""
    return {STATUS_OF[kind]: {"description": HTTPStatus(STATUS_OF[kind]).phrase} for kind in kinds}


def _implied_statuses(operation: dict[str, Any]) -> set[int]:
    statuses = set(_EVERY_OPERATION)
    parameters = operation.get("parameters") or []
    has_body = "requestBody" in operation
    if operation.get("security"):
        statuses.update(_SECURED)
    if any(parameter.get("in") == "path" for parameter in parameters):
        statuses.update(_WITH_PATH_PARAMETERS)
    if parameters or has_body:
        statuses.update(_WITH_INPUT)
    if has_body:
        statuses.update(_WITH_BODY)
    return statuses


def _error_content(responses: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    declared = [answer.get("content") or {} for answer in responses.values()]
    # A page of the reader site answers its errors as pages too (a bad query stays a problem),
    # and so does a site address that serves a file but says its errors are pages.
    if any("text/html" in answer for answer in declared):
        content["text/html"] = {"schema": {"type": "string"}}
    return content


def _declare(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for implied in _implied_statuses(operation):
        responses.setdefault(str(implied), {})
    content = _error_content(responses)
    for code, response in responses.items():
        if not code.isdigit():
            continue
        status = int(code)
        if 300 <= status < 400:
            # A redirect or a 304 has no body, whatever class renders the route's pages.
            response.pop("content", None)
        if status < 400:
            continue
        response["description"] = response.get("description") or HTTPStatus(status).phrase
        response["content"] = content
        if status in _HEADERS:
            response["headers"] = {**_HEADERS[status], **response.get("headers", {})}
    operation["responses"] = dict(sorted(responses.items()))


def declare_problems(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with every operation's error answers declared (in place, and returned)."""
    for item in (document.get("paths") or {}).values():
        for method, operation in item.items():
            if method in _METHODS:
                _declare(operation)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_ERROR_SCHEMAS:
        schemas.pop(name, None)
    schemas[PROBLEM_SCHEMA_NAME] = PROBLEM_SCHEMA
    return document


def install_contract(app: FastAPI) -> None:
    """Make ``app.openapi()`` declare every operation's error answers (see the module)."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    declared: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = generate()
        # FastAPI caches the document it generated: declare each one once.
        if not declared or declared[0] is not document:
            declared[:] = [declare_problems(document)]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
