"""Compression at the edge: brotli where the client accepts it (``br``), else gzip, for pages,
static files, feeds and the API's JSON alike; never the live stream (a compressor would hold its
events back), never an answer under ``COMPRESS_MINIMUM_BYTES``.

The compressors are brotli-asgi's and Starlette's; this only picks one per request, as cheaply
as a request without ``Accept-Encoding`` can be passed on (the API's fast path goes through it),
and at levels chosen for many small answers (docs/gateway.md has the cost).
"""

from __future__ import annotations

import gzip
import re

import brotli
from brotli_asgi import BrotliResponder, Mode
from starlette.middleware.gzip import GZipResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Below this an answer goes as it is: compressing it would save less than the header costs.
COMPRESS_MINIMUM_BYTES = 500
# Brotli 4 and gzip 5: within a few percent of the best ratio on HTML and JSON, at a fraction
# of the time (gzip's default 9 costs ~3x more on a 2 KB answer).
BROTLI_QUALITY = 4
BROTLI_WINDOW_BITS = 18  # 256 KiB: as large as the answers worth compressing here
GZIP_LEVEL = 5
NOT_COMPRESSED = re.compile(r"^/articles/[^/]+/live$")


def _accepted(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            return bytes(value).lower()
    return b""


def accepted_encoding(accepted: bytes, size: int) -> str | None:
    """The encoding an answer of ``size`` bytes gets for this ``Accept-Encoding`` (lowercase),
    or None: brotli where accepted, else gzip."""
    if size < COMPRESS_MINIMUM_BYTES:
        return None
    if b"br" in accepted:
        return "br"
    return "gzip" if b"gzip" in accepted else None


def encode(body: bytes, encoding: str) -> bytes:
    """``body`` compressed as the middleware would (for answers made before any request, such
    as kept pages)."""
    if encoding == "br":
        return bytes(
            brotli.compress(
                body, mode=brotli.MODE_TEXT, quality=BROTLI_QUALITY, lgwin=BROTLI_WINDOW_BITS
            )
        )
    return gzip.compress(body, GZIP_LEVEL, mtime=0)


def _too_small(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-length":
            return value.isdigit() and int(value) < COMPRESS_MINIMUM_BYTES
    return False


class Compression:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        accepted = _accepted(scope) if scope["type"] == "http" else b""
        if not accepted or NOT_COMPRESSED.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        encoding = accepted_encoding(accepted, COMPRESS_MINIMUM_BYTES)
        if encoding is None:
            await self.app(scope, receive, send)
            return
        # The compressor is made only for an answer that may be worth it: making one costs
        # ~20-40 µs, the most of what most small API answers would pay here.
        handle: Send = send

        async def choose(message: Message) -> None:
            nonlocal handle
            if message["type"] == "http.response.start" and not _too_small(
                message.get("headers", [])
            ):
                if encoding == "br":
                    br = BrotliResponder(
                        self.app,
                        BROTLI_QUALITY,
                        Mode.text,
                        BROTLI_WINDOW_BITS,
                        0,
                        COMPRESS_MINIMUM_BYTES,
                    )
                    br.send = send
                    handle = br.send_with_brotli
                else:
                    gz = GZipResponder(self.app, COMPRESS_MINIMUM_BYTES, GZIP_LEVEL)
                    gz.send = send
                    handle = gz.send_with_compression
            await handle(message)

        await self.app(scope, receive, choose)
