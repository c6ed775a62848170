from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel, Field
from pymongo.errors import (
    AutoReconnect,
    DuplicateKeyError,
    ExecutionTimeout,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
    WaitQueueTimeoutError,
)

from broadsheet_shared import errors
from broadsheet_shared.http.json_body import read_json
from broadsheet_shared.http.limits import BodySizeLimitMiddleware
from broadsheet_shared.http.problems import STATUS_OF, Problem, install_problem_handlers

pytestmark = pytest.mark.unit


class Body(BaseModel):
    title: str = Field(max_length=10)


def app() -> FastAPI:
    api = FastAPI()
    install_problem_handlers(api)
    api.add_middleware(BodySizeLimitMiddleware, max_bytes=100)

    @api.post("/things")
    async def create(body: Body) -> dict[str, str]:
        return {"title": body.title}

    @api.get("/things")
    async def things() -> list[str]:
        return []

    @api.get("/teapot")
    async def teapot() -> None:
        raise Problem(409, "Already brewing.", retry=True)

    @api.get("/refused/{kind}")
    async def refused(kind: str) -> None:
        if kind == "RateLimited":
            raise errors.RateLimited(7)
        if kind == "InvalidField":
            raise errors.InvalidField("title", "Taken.", "taken")
        raise getattr(errors, kind)("Refused.")

    @api.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret stack detail")

    @api.get("/database/{kind}")
    async def database(kind: str) -> None:
        raise DATABASE_ERRORS[kind]

    return api


DATABASE_ERRORS: dict[str, PyMongoError] = {
    "selection": ServerSelectionTimeoutError("no server"),
    "network": NetworkTimeout("timed out"),
    "reconnect": AutoReconnect("connection reset"),
    "stepped-down": NotPrimaryError("not primary"),
    "pool": WaitQueueTimeoutError("pool exhausted"),
    "deadline": ExecutionTimeout("operation exceeded time limit", 50),
    "duplicate": DuplicateKeyError("E11000", 11000),
    "bad-query": OperationFailure("unknown operator", 2),
}


async def call(method: str, path: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, path, **kwargs)  # type: ignore[arg-type]


async def test_validation_error_is_422_problem_with_field_errors() -> None:
    response = await call("POST", "/things", json={"title": "x" * 11})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422
    assert body["errors"][0]["loc"] == ["body", "title"]


async def test_malformed_json_is_422_not_500() -> None:
    response = await call(
        "POST", "/things", content=b"{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


async def test_raised_problem_keeps_status_and_extensions() -> None:
    response = await call("GET", "/teapot")
    assert response.status_code == 409
    assert response.json() == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": "Already brewing.",
        "instance": "/teapot",
        "retry": True,
    }


async def test_unknown_route_is_404_problem() -> None:
    response = await call("GET", "/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_wrong_method_is_405_allowing_every_method_of_the_path() -> None:
    # GET and POST /things are two routes: Starlette's own 405 names only the first one's.
    response = await call("DELETE", "/things")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["allow"] == "GET, POST"


async def test_unexpected_error_is_500_problem_without_details() -> None:
    response = await call("GET", "/boom")
    assert response.status_code == 500
    assert "secret" not in response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_declared_oversized_body_is_413() -> None:
    response = await call("POST", "/things", content=b"x" * 101)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_streamed_oversized_body_is_413() -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(5):
            yield b"x" * 50

    response = await call(
        "POST", "/things", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_log_level_also_governs_uvicorns_access_log() -> None:
    import logging
    import logging.config

    from uvicorn.config import LOGGING_CONFIG

    from broadsheet_shared.http.logging import configure_logging

    logging.config.dictConfig(LOGGING_CONFIG)  # what uvicorn does before it loads the app
    try:
        configure_logging("test", "WARNING", json=True)
        assert not logging.getLogger("uvicorn.access").isEnabledFor(logging.INFO)
        configure_logging("test", "INFO", json=True)
        assert logging.getLogger("uvicorn.access").isEnabledFor(logging.INFO)
    finally:
        configure_logging("test", "INFO", json=False)


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("InvalidLink", 400),
        ("Unauthenticated", 401),
        ("Forbidden", 403),
        ("NotFound", 404),
        ("Conflict", 409),
        ("StaleRevision", 412),
        ("InvalidRequest", 422),
        ("InvalidField", 422),
        ("RateLimited", 429),
    ],
)
async def test_application_errors_map_to_one_status_each(kind: str, status: int) -> None:
    response = await call("GET", f"/refused/{kind}")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["instance"] == f"/refused/{kind}"


def test_every_application_error_has_a_status() -> None:
    kinds = {
        kind
        for kind in vars(errors).values()
        if isinstance(kind, type)
        and issubclass(kind, errors.ApplicationError)
        and kind is not errors.ApplicationError
    }
    assert kinds == set(STATUS_OF)


async def test_rate_limited_says_when_to_retry() -> None:
    response = await call("GET", "/refused/RateLimited")
    assert response.headers["retry-after"] == "7"
    assert response.json()["retry_after"] == 7


async def test_unauthenticated_asks_for_a_bearer_token() -> None:
    response = await call("GET", "/refused/Unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_invalid_field_names_the_field() -> None:
    response = await call("GET", "/refused/InvalidField")
    assert response.json()["errors"] == [
        {"loc": ["body", "title"], "msg": "Taken.", "type": "taken"}
    ]


@pytest.mark.parametrize(
    "kind", ["selection", "network", "reconnect", "stepped-down", "pool", "deadline"]
)
async def test_an_unavailable_database_is_503_with_retry_after(kind: str) -> None:
    response = await call("GET", f"/database/{kind}")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["retry_after"] == int(response.headers["retry-after"])


@pytest.mark.parametrize("kind", ["duplicate", "bad-query"])
async def test_other_database_errors_are_no_outage(kind: str) -> None:
    assert (await call("GET", f"/database/{kind}")).status_code == 500


async def test_json_read_by_hand_too_deep_is_400_not_500() -> None:
    api = FastAPI()
    install_problem_handlers(api)

    @api.post("/raw")
    async def raw(request: Request) -> dict[str, Any]:
        return {"parsed": type(await read_json(request)).__name__}

    transport = httpx.ASGITransport(app=api, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        deep = await client.post("/raw", content=b"[" * 50_000 + b"]" * 50_000)
        assert deep.status_code == 400
        assert deep.headers["content-type"] == "application/problem+json"
        assert (await client.post("/raw", content=b"{not json")).status_code == 422
        ok = await client.post("/raw", content=b'{"a": [[1]]}')
        assert ok.json() == {"parsed": "dict"}
