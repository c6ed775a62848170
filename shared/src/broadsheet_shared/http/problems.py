"""RFC 9457 problem details: every error leaves a service as ``application/problem+json``.

Use cases raise :mod:`broadsheet_shared.errors`; :data:`STATUS_OF` is the one place that says
which status each kind of refusal gets. Routes may still raise :class:`Problem` for what only
HTTP knows (a missing header, a body limit).
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException as StarletteHTTPException

from broadsheet_shared.errors import (
    ApplicationError,
    Conflict,
    Forbidden,
    InvalidField,
    InvalidLink,
    InvalidRequest,
    NotFound,
    RateLimited,
    StaleRevision,
    Unauthenticated,
)
from broadsheet_shared.mongo import UNAVAILABLE

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"

# Seconds a client should wait after a 503 for a database outage: long enough not to hammer a
# database that is coming back, short enough that a reader's retry lands soon after.
UNAVAILABLE_RETRY_AFTER = 5


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


class Problem(Exception):
    """Raise from a route for what only HTTP knows (a missing header, a body limit); use cases
    raise :mod:`broadsheet_shared.errors` instead."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title or HTTPStatus(status).phrase)
        self.status = status
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.type = type_
        self.headers = dict(headers or {})
        self.extensions = extensions


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    type_: str = "about:blank",
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(jsonable_encoder(extensions))
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


STATUS_OF: dict[type[ApplicationError], int] = {
    InvalidLink: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    StaleRevision: 412,
    InvalidField: 422,
    InvalidRequest: 422,
    RateLimited: 429,
}


def status_of(error: ApplicationError) -> int:
    return next((status for kind, status in STATUS_OF.items() if isinstance(error, kind)), 400)


def error_headers(error: ApplicationError) -> dict[str, str]:
    if isinstance(error, RateLimited):
        return {"Retry-After": str(error.retry_after)}
    if isinstance(error, Unauthenticated):
        return {"WWW-Authenticate": "Bearer"}
    return {}


def application_error_response(error: ApplicationError, instance: str) -> ProblemResponse:
    return problem_response(
        status_of(error),
        error.detail,
        type_=error.problem_type,
        instance=instance,
        headers=error_headers(error),
        **error.extensions,
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        # ctx may hold exception objects and input may echo secrets: keep what helps a client.
        errors.append(
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "msg": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
            }
        )
    return errors


def allowed_methods(app: FastAPI, path: str) -> str:
    """Every method some route serves at ``path``. Starlette's 405 names only the methods of
    the first route that matched the path, while a path's methods are often spread over several
    routes (GET and POST of a collection, the articles read's fast route)."""
    methods: set[str] = set()
    for route in app.router.routes:
        regex = getattr(route, "path_regex", None)
        route_methods = getattr(route, "methods", None)
        if route_methods and regex is not None and regex.match(path):
            methods.update(route_methods)
    return ", ".join(sorted(methods))


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> ProblemResponse:
        return problem_response(
            exc.status,
            exc.detail,
            title=exc.title,
            type_=exc.type,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extensions,
        )

    @app.exception_handler(ApplicationError)
    async def _refused(request: Request, exc: ApplicationError) -> ProblemResponse:
        return application_error_response(exc, request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> ProblemResponse:
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(app, request.url.path)}
        return problem_response(exc.status_code, detail, instance=request.url.path, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> ProblemResponse:
        return problem_response(
            422,
            "The request is not valid.",
            instance=request.url.path,
            errors=_validation_errors(exc),
        )

    async def _unavailable(request: Request, exc: Exception) -> ProblemResponse:
        log.warning("database unavailable", path=request.url.path, error=repr(exc))
        return problem_response(
            503,
            "The service is briefly unavailable. Please try again in a moment.",
            instance=request.url.path,
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
            retry_after=UNAVAILABLE_RETRY_AFTER,
        )

    unavailable: tuple[type[PyMongoError], ...] = UNAVAILABLE
    for kind in unavailable:
        app.add_exception_handler(kind, _unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
        log.exception("unhandled error", path=request.url.path)
        return problem_response(500, "Something went wrong on our side.", instance=request.url.path)
