from __future__ import annotations

import httpx
import pytest

from broadsheet_newsroom.upstream import (
    FieldErrors,
    NotAllowed,
    NotFoundPage,
    Refused,
    ServiceUnavailable,
    SignInRequired,
    StaleVersion,
    TooManyAttempts,
    UpstreamClient,
    error_for,
)

pytestmark = pytest.mark.unit


def answer(status: int, body: object = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_each_refusal_of_a_service_becomes_its_page_error() -> None:
    assert error_for("articles", answer(200, {})) is None
    assert isinstance(error_for("articles", answer(401)), SignInRequired)
    assert isinstance(error_for("articles", answer(403)), NotAllowed)
    assert isinstance(error_for("articles", answer(404)), NotFoundPage)
    assert isinstance(error_for("articles", answer(412)), StaleVersion)
    conflict = error_for("articles", answer(409, {"status": 409, "detail": "Not published."}))
    assert isinstance(conflict, Refused)
    assert conflict.message == "Not published."
    down = error_for("comments", answer(503))
    assert isinstance(down, ServiceUnavailable)
    assert down.service == "comments"
    assert isinstance(error_for("articles", answer(500)), ServiceUnavailable)
    garbage = httpx.Response(400, content=b"<html>")
    assert isinstance(error_for("articles", garbage), Refused)


def test_429_says_when_to_retry() -> None:
    limited = error_for("articles", answer(429, {"status": 429}, **{"Retry-After": "42"}))
    assert isinstance(limited, TooManyAttempts)
    assert limited.retry_after == 42
    assert "42 seconds" in limited.message
    odd = error_for("articles", answer(429, **{"Retry-After": "soon"}))
    assert isinstance(odd, TooManyAttempts)
    assert odd.retry_after == 60


def test_422_field_errors_are_keyed_by_form_field() -> None:
    problem = {
        "status": 422,
        "errors": [
            {"loc": ["body", "title"], "msg": "must not be blank", "type": "x"},
            {"loc": ["body", "tags", "0"], "msg": "too long", "type": "x"},
            {"loc": ["body", "tags", "3"], "msg": "second error, same field", "type": "x"},
            {"loc": ["body"], "msg": "whole body", "type": "x"},
        ],
    }
    errors = error_for("articles", answer(422, problem))
    assert isinstance(errors, FieldErrors)
    assert errors.fields == {"title": "must not be blank", "tags": "too long"}
    assert errors.general == ["whole body"]
    bare = error_for("articles", answer(422, {"detail": "Bad cursor."}))
    assert isinstance(bare, FieldErrors)
    assert bare.general == ["Bad cursor."]


async def test_a_timeout_or_refused_connection_is_the_service_unavailable() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    client = UpstreamClient(
        {"articles": "http://a"}, timeout=1, transport=httpx.MockTransport(fail)
    )
    with pytest.raises(ServiceUnavailable, match="articles"):
        await client.call("articles", "GET", "/api/editor/articles")
    await client.aclose()


async def test_the_token_goes_as_a_bearer_and_empty_parameters_are_left_out() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    client = UpstreamClient(
        {"articles": "http://a"}, timeout=1, transport=httpx.MockTransport(record)
    )
    got = await client.call(
        "articles", "GET", "/x", token="t0k", params={"status": "", "q": "rain", "page": None}
    )
    assert got.status == 204
    assert got.body is None
    assert seen[0].headers["authorization"] == "Bearer t0k"
    assert str(seen[0].url) == "http://a/x?q=rain"
    await client.aclose()
