"""Stand-in upstreams for unit tests: one ASGI app answering as all three services (told apart
by the port in the Host header), recording what reached it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SERVICES = {"8001": "articles", "8002": "comments", "8003": "notifications"}

ARTICLE = {
    "id": "a1",
    "slug": "talks-resume",
    "title": "Talks resume in Geneva",
    "summary": "Diplomats return to the table.",
    "section": {"slug": "foreign-affairs", "name": "Foreign Affairs"},
    "tags": ["diplomacy"],
    "authors": ["Ada Reporter"],
    "author_slugs": ["ada-reporter"],
    "hero_image_url": None,
    "published_at": "2025-03-01T09:30:00+00:00",
    "url_path": "/articles/talks-resume",
    "body_html": "<p>The talks resumed.</p><script>alert(1)</script>",
    "updated_at": "2025-03-01T09:30:00+00:00",
    "revision": 1,
    "comments_open": True,
}


# What the articles service answers for old WordPress paths (GET /api/redirects?path=…).
OLD_LINKS = {
    "/?p=19": "/articles/talks-resume",
    "/2008/10/17/boat/": "/articles/talks-resume",
    "/category/news/": "/sections/foreign-affairs",
    "/feed/": "/feed.xml",
    "/evil/": "//evil.example/",
}


# A comment on the thread's second page (not among ``Upstreams.comments``).
ELSEWHERE = "d" * 24


def comment(cid: str, depth: int, parent: str | None, name: str) -> dict[str, Any]:
    return {
        "id": cid,
        "parent_id": parent,
        "depth": depth,
        "author_name": name,
        "body_html": f"<p>Text of {cid}</p>",
        "created_at": "2025-03-01T10:00:00+00:00",
        "edited": False,
        "reply_count": 0,
        "in_reply_to": None,
    }


@dataclass
class Upstreams:
    seen: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(
        default_factory=lambda: [
            comment("c1", 0, None, "Alice"),
            comment("c2", 1, "c1", "Bob"),
            comment("c3", 0, None, "Carol"),
        ]
    )
    # Comments the comments service finds by id (GET .../comments/{id}), on whatever page.
    located: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            ELSEWHERE: {
                **comment(ELSEWHERE, 0, None, "Dora"),
                "body_markdown": "Text of *Dora*",
                "avatar": "0123456789abcdef",
                "cpage": "p.0000002",
            }
        }
    )
    # The answer to an author's PATCH or DELETE of their comment.
    change_status: int = 200
    post_status: int = 201
    post_answer: dict[str, Any] = field(
        default_factory=lambda: {"id": "c9", "status": "pending", "created_at": "2025-03-01"}
    )
    # The voter ids that voted (POST .../comments/{id}/votes), as the comments service counts.
    voters: list[str] = field(default_factory=list)
    # Seconds each answer takes to arrive once made, as from services under load.
    delay: float = 0.0

    def app(self) -> Starlette:
        async def any_route(request: Request) -> Response:
            service = SERVICES.get((request.url.port and str(request.url.port)) or "", "?")
            body = await request.body()
            self.seen.append(
                {
                    "service": service,
                    "method": request.method,
                    "path": request.url.path,
                    "query": request.url.query,
                    "headers": dict(request.headers),
                    "body": body,
                }
            )
            answer = self.answer(service, request, body)
            if self.delay:
                await asyncio.sleep(self.delay)
            return answer

        return Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    any_route,
                    methods=["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD"],
                )
            ]
        )

    def answer(self, service: str, request: Request, body: bytes) -> Response:
        path = request.url.path
        if path == "/openapi.json":
            return JSONResponse(
                {
                    "openapi": "3.1.0",
                    "info": {"title": service, "version": "1"},
                    "paths": {
                        f"/api/{service}-only": {
                            "get": {"responses": {"200": {"description": "ok"}}}
                        },
                        "/api/articles/feed.xml": {
                            "get": {
                                "operationId": "latest_feed",
                                "parameters": [{"name": "limit", "in": "query"}],
                                "responses": {"200": {"description": "An Atom feed"}},
                            }
                        },
                        "/api/articles/{slug}/comments": {
                            "get": {
                                "responses": {
                                    "200": {
                                        "description": "ok",
                                        "content": {
                                            "application/json": {
                                                "schema": {"$ref": "#/components/schemas/Page"}
                                            }
                                        },
                                    }
                                }
                            }
                        },
                    },
                    "components": {
                        "schemas": {"Page": {"title": f"{service} page", "type": "object"}},
                        "securitySchemes": {"HTTPBearer": {"type": "http", "scheme": "bearer"}},
                    },
                }
            )
        if service == "articles":
            if path == "/api/sections":
                return JSONResponse({"items": [ARTICLE["section"]]})
            if path == "/api/articles":
                unused = (
                    request.query_params.get("tag") == "unused"
                    or request.query_params.get("author", "ada-reporter")
                    not in ARTICLE["author_slugs"]
                )
                items = [] if unused else [ARTICLE]
                return JSONResponse({"items": items, "next_cursor": None})
            if path == "/api/redirects":
                location = OLD_LINKS.get(request.query_params.get("path", ""))
                if location is None:
                    return JSONResponse({"status": 404}, status_code=404)
                return JSONResponse({"location": location})
            if path == "/api/articles/talks-resume":
                return JSONResponse(ARTICLE)
            if path == "/api/articles/old-slug":
                return Response(status_code=301, headers={"Location": "/api/articles/talks-resume"})
            if path == "/api/articles/feed.xml":
                return Response("<feed/>", media_type="application/atom+xml")
            if path == "/api/articles/big-export":
                # Larger than the gateway buffers: it must stream through.
                return Response(b"x" * 300_000, media_type="text/plain")
            if path.startswith("/api/articles/"):
                return JSONResponse(
                    {"status": 404, "title": "Not Found"},
                    status_code=404,
                    media_type="application/problem+json",
                )
        if service == "comments":
            if path == "/api/my-data/comments":
                if request.headers.get("x-data-grant") != "grant-for-r":
                    return JSONResponse({"status": 403}, status_code=403)
                return JSONResponse({"comments": [{"id": "c1", "body": "Mine"}]})
            prefix = "/api/articles/talks-resume/comments/"
            if path == f"{prefix}{ELSEWHERE}/votes":
                voter = orjson.loads(body)["voter"]
                counted = voter not in self.voters
                self.voters += [voter] if counted else []
                return JSONResponse({"votes": len(self.voters), "counted": counted})
            if path.endswith("/votes"):
                return JSONResponse({"status": 404}, status_code=404)
            if path.startswith(prefix) and path.count("/") == 5:
                found = self.located.get(path.removeprefix(prefix))
                if request.method in ("PATCH", "DELETE"):
                    status = self.change_status if found else 404
                    if request.method == "DELETE" and status == 200:
                        return Response(status_code=204)
                    return JSONResponse(found or {"status": 404}, status_code=status)
                if found is None:
                    return JSONResponse({"status": 404}, status_code=404)
                return JSONResponse(found)
            if path == "/api/comments/counts":
                return JSONResponse({"counts": {"talks-resume": len(self.comments)}})
            if path == "/api/articles/talks-resume/comments":
                if request.method == "POST":
                    return JSONResponse(self.post_answer, status_code=self.post_status)
                return JSONResponse(
                    {
                        "article": {
                            "id": "a1",
                            "slug": "talks-resume",
                            "title": "t",
                            "url_path": "/articles/talks-resume",
                            "comments_open": True,
                        },
                        "total": len(self.comments),
                        "items": self.comments,
                        "next_cursor": "p.0000002" if "cursor" not in request.url.query else None,
                    }
                )
        if service == "notifications":
            if path.startswith("/api/subscriptions/confirm/good"):
                return JSONResponse(
                    {
                        "email": "r***@example.com",
                        "status": "pending",
                        "requests": [
                            {
                                "id": "follow-11111111111111111111111111111111",
                                "kind": "follow",
                                "article_title": "Talks resume in Geneva",
                                "article_url_path": "/articles/talks-resume",
                            }
                        ],
                        "later_requests": [
                            {
                                "id": "reply-22222222222222222222222222222222",
                                "kind": "reply",
                                "article_title": "Rain <again>",
                                "article_url_path": "/articles/rain",
                            }
                        ],
                    }
                )
            if path == "/api/subscriptions/manage":
                return JSONResponse({"status": "link_sent"}, status_code=202)
            if path.startswith("/api/subscriptions/manage/good"):
                return JSONResponse(
                    {
                        "email": "r***@example.com",
                        "status": "confirmed",
                        "subscriptions": [
                            {
                                "id": "follow-11111111111111111111111111111111",
                                "kind": "follow",
                                "state": "active",
                                "article_title": "Talks resume in Geneva",
                                "article_url_path": "/articles/talks-resume",
                            },
                            {
                                "id": "reply-22222222222222222222222222222222",
                                "kind": "reply",
                                "state": "pending",
                                "article_title": "Rain <again>",
                                "article_url_path": "/articles/rain",
                            },
                        ],
                    }
                )
            if path == "/api/my-data":
                return JSONResponse({"status": "link_sent"}, status_code=202)
            if path == "/api/my-data/good-token/erase":
                return JSONResponse({"status": "erased"})
            if path == "/api/my-data/good-token":
                return JSONResponse(
                    {
                        "grant": "grant-for-r",
                        "address": {"email": "r@example.com", "state": "confirmed"},
                        "subscriptions": [{"kind": "follow", "state": "active"}],
                        "deliveries": [{"kind": "data", "email": "r@example.com"}],
                    }
                )
            if path.startswith("/api/my-data/"):
                return JSONResponse({"status": 404}, status_code=404)
            if path.startswith("/api/subscriptions/unsubscribe/good"):
                return JSONResponse({"email": "r***@example.com", "status": "unsubscribed"})
            if path.startswith("/api/subscriptions/"):
                return JSONResponse({"status": 404}, status_code=404)
            if path.endswith("/followers"):
                return JSONResponse({"status": "confirmation_sent"}, status_code=202)
        return JSONResponse({"service": service, "path": path})


class FailingTransport(httpx.AsyncBaseTransport):
    def __init__(self, exc: Exception) -> None:
        self.exc = exc
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        raise self.exc
