"""What every response leaves with: a strict Content-Security-Policy and friends, and the
CORS rules when cross-origin callers are allowed (the fast path and the full stack share both).
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The site loads only its own stylesheet and script; images may come from a CDN over https.
SITE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)
# Swagger UI (/docs) is FastAPI's page, which loads its assets from jsDelivr with inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; frame-ancestors 'none'; base-uri 'self'"
)

_COMMON_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
SITE_SECURITY_HEADERS = [*_COMMON_SECURITY_HEADERS, (b"content-security-policy", SITE_CSP.encode())]
_DOCS_SECURITY_HEADERS = [
    *_COMMON_SECURITY_HEADERS,
    (b"content-security-policy", DOCS_CSP.encode()),
]


def cors_options(allow_origins: list[str]) -> dict[str, Any] | None:
    """Starlette ``CORSMiddleware`` arguments for these origins; None: no CORS at all."""
    if not allow_origins:
        return None
    return {
        "allow_origins": allow_origins,
        "allow_methods": ["GET", "POST", "PATCH", "DELETE"],
        "allow_headers": ["Authorization", "Content-Type", "X-Edit-Token", "X-Request-ID"],
        "expose_headers": ["X-Request-ID", "Retry-After", "Location"],
        "max_age": 600,
    }


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = _DOCS_SECURITY_HEADERS if scope["path"] == "/docs" else SITE_SECURITY_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for item in extra:
                    if item[0] not in present:
                        headers.append(item)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
