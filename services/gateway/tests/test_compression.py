from __future__ import annotations

import pytest
from starlette.types import Message, Receive, Scope, Send

from broadsheet_gateway.compression import COMPRESS_MINIMUM_BYTES, Compression

pytestmark = pytest.mark.unit


def answer(body: bytes, content_type: bytes = b"application/json") -> object:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


async def call(app: object, path: str, accept: bytes | None) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"accept-encoding", accept)] if accept is not None else []
    scope = {"type": "http", "method": "GET", "path": path, "headers": headers}
    await Compression(app)(scope, receive, send)  # type: ignore[arg-type]
    return sent


def encoding(sent: list[Message]) -> bytes | None:
    return dict(sent[0]["headers"]).get(b"content-encoding")


BIG = b'{"body": "' + b"The talks resumed on Monday. " * 40 + b'"}'


async def test_brotli_when_accepted_else_gzip_else_as_it_is() -> None:
    assert encoding(await call(answer(BIG), "/api/articles/x", b"gzip, deflate, br")) == b"br"
    assert encoding(await call(answer(BIG), "/api/articles/x", b"gzip")) == b"gzip"
    assert encoding(await call(answer(BIG), "/api/articles/x", None)) is None
    assert encoding(await call(answer(BIG), "/api/articles/x", b"identity")) is None
    sent = await call(answer(BIG), "/articles/x", b"br")
    assert b"accept-encoding" in dict(sent[0]["headers"])[b"vary"].lower()
    assert len(sent[1]["body"]) < len(BIG) / 4


async def test_small_answers_and_the_live_stream_go_as_they_are() -> None:
    small = b"x" * (COMPRESS_MINIMUM_BYTES - 1)
    assert encoding(await call(answer(small), "/api/articles/x", b"br, gzip")) is None
    live = answer(BIG, b"text/event-stream")
    assert encoding(await call(live, "/articles/talks/live", b"br, gzip")) is None
