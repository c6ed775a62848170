"""Routes: the API pass-through, the reader site, live updates and the combined API docs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from asgi_correlation_id import correlation_id
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from broadsheet_gateway.bootstrap import Container
from broadsheet_gateway.domain import (
    client_ip,
    is_safe_segment,
    json_depth_exceeds,
    notice_for,
    response_headers_from_upstream,
)
from broadsheet_gateway.repository import UpstreamTimeout, UpstreamUnavailable
from broadsheet_gateway.service import CommentForm, CommentRejected, PageError
from broadsheet_shared.http.problems import Problem

# Bodies at most this large are read whole and sent with Content-Length; larger ones stream.
_BUFFER_LIMIT = 256 * 1024
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def _container(request: Request) -> Container:
    # A coroutine: FastAPI runs plain-function dependencies in its thread pool.
    return get_container(request)


ContainerDep = Annotated[Container, Depends(_container)]


def reader_ip(request: Request) -> str:
    container = get_container(request)
    peer = request.client.host if request.client else None
    return client_ip(peer, request.headers.get("x-forwarded-for"), container.trusted_proxies)


def limit_posts(request: Request) -> None:
    decision = get_container(request).post_limiter.hit(reader_ip(request))
    if not decision.allowed:
        raise Problem(
            429,
            "Too many requests. Please wait a moment and try again.",
            headers={"Retry-After": str(decision.retry_after)},
            retry_after=decision.retry_after,
        )


async def _limit_posts(request: Request) -> None:
    limit_posts(request)


# ---------------------------------------------------------------------------------------------
# The API pass-through (a plain Starlette endpoint: no parsing beyond what forwarding needs).


async def proxy(request: Request) -> Response:
    container = get_container(request)
    route = container.proxy.route(request.url.path)
    method = request.method
    if method == "POST":
        limit_posts(request)
    body: bytes | AsyncIterator[bytes] | None = None
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    if has_body or method not in _NO_BODY_METHODS:
        if "json" in request.headers.get("content-type", ""):
            # JSON is read whole (the body-size limit bounds it) to refuse deep nesting before
            # any service spends a parser on it.
            body = await request.body()
            if json_depth_exceeds(body, container.settings.max_json_depth):
                raise Problem(
                    400, f"JSON nested deeper than {container.settings.max_json_depth} levels."
                )
        else:
            body = request.stream()
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    try:
        upstream = await container.proxy.forward(
            route=route,
            method=method,
            raw_path=raw_path.decode("latin-1"),
            query=request.scope.get("query_string", b"").decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
            body=body,
            client_ip=reader_ip(request),
            host=request.headers.get("host", ""),
            scheme=request.url.scheme,
            request_id=correlation_id.get(),
        )
    except UpstreamTimeout:
        raise Problem(
            504,
            f"The {route.upstream.value} service did not answer in time.",
            upstream=route.upstream.value,
        ) from None
    except UpstreamUnavailable:
        raise Problem(
            503,
            f"The {route.upstream.value} service is unavailable. Please try again shortly.",
            headers={"Retry-After": "5"},
            upstream=route.upstream.value,
        ) from None
    headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in response_headers_from_upstream(upstream.headers)
    ]
    length = next((v for k, v in headers if k == b"content-length"), None)
    if method == "HEAD" or (
        length is not None and length.isdigit() and int(length) <= _BUFFER_LIMIT
    ):
        try:
            content = b"" if method == "HEAD" else await upstream.read()
        except UpstreamTimeout:
            raise Problem(504, "The upstream answer was cut short.") from None
        except UpstreamUnavailable:
            raise Problem(503, "The upstream answer was cut short.") from None
        finally:
            await upstream.close()
        response = Response(content, status_code=upstream.status)
    else:
        response = StreamingResponse(
            upstream.stream, status_code=upstream.status, background=BackgroundTask(upstream.close)
        )
    response.raw_headers = headers
    return response


PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


# ---------------------------------------------------------------------------------------------
# The reader site.

site = APIRouter(tags=["reader site"])


def html(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    container = get_container(request)
    body = container.templates.get_template(template).render(**context)
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-cache"})


def error_page(request: Request, error: PageError) -> HTMLResponse:
    titles = {404: "Not found", 429: "Slow down", 503: "Unavailable", 504: "Unavailable"}
    response = html(
        request,
        "error.html",
        status=error.status,
        title=titles.get(error.status, "Sorry"),
        message=error.message,
        sections=[],
    )
    response.headers.update(error.headers)
    return response


@site.get("/", response_class=HTMLResponse, summary="Front page")
async def front_page(request: Request, container: ContainerDep) -> HTMLResponse:
    return html(request, "front.html", **await container.site.front_page())


@site.get("/sections/{slug}", response_class=HTMLResponse, summary="Section page")
async def section_page(
    request: Request,
    slug: str,
    container: ContainerDep,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    return html(request, "section.html", **await container.site.section_page(slug, cursor))


async def _article(
    request: Request,
    container: Container,
    slug: str,
    *,
    cursor: str | None = None,
    reply_to: str | None = None,
    notice: str | None = None,
    status: int = 200,
    form: CommentForm | None = None,
    error: str | None = None,
    errors: list[str] | None = None,
) -> HTMLResponse:
    page = await container.site.article_page(slug, cursor=cursor, reply_to=reply_to)
    sections: list[dict[str, Any]] = []
    return html(
        request,
        "article.html",
        status=status,
        a=page.article,
        page=page,
        thread_html=container.comments.thread(
            page.thread, str(page.article.get("slug", "")), page.comments_open
        ),
        cursor=cursor,
        notice=notice_for(notice),
        form=form or CommentForm(),
        error=error,
        errors=errors or [],
        sections=sections,
    )


@site.get("/articles/{slug}", response_class=HTMLResponse, summary="Article page with comments")
async def article_page(
    request: Request,
    slug: str,
    container: ContainerDep,
    cpage: Annotated[str | None, Query(max_length=500)] = None,
    replytocom: Annotated[str | None, Query(max_length=100)] = None,
    notice: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    return await _article(
        request, container, slug, cursor=cpage, reply_to=replytocom, notice=notice
    )


@site.post(
    "/articles/{slug}/comments",
    response_class=HTMLResponse,
    status_code=303,
    summary="Post a comment from the article page's form",
)
async def post_comment(
    request: Request,
    slug: str,
    container: ContainerDep,
    body: Annotated[str, Form(max_length=20_000)] = "",
    author_name: Annotated[str, Form(max_length=200)] = "",
    author_email: Annotated[str, Form(max_length=320)] = "",
    parent_id: Annotated[str, Form(max_length=100)] = "",
    notify_replies: Annotated[str, Form(max_length=10)] = "",
    website: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    form = CommentForm(
        author_name=author_name,
        author_email=author_email,
        body=body,
        parent_id=parent_id,
        notify_replies=notify_replies.lower() in ("1", "on", "true", "yes"),
        website=website,
    )
    decision = container.post_limiter.hit(reader_ip(request))
    try:
        if not decision.allowed:
            raise CommentRejected(
                429,
                "You are posting too fast. Please wait a moment and try again.",
                headers={"Retry-After": str(decision.retry_after)},
            )
        location = await container.site.post_comment(slug, form, reader_ip(request))
    except CommentRejected as rejected:
        if rejected.status == 404:
            raise PageError(404, rejected.message) from None
        response = await _article(
            request,
            container,
            slug,
            reply_to=parent_id or None,
            status=rejected.status,
            form=form,
            error=rejected.message,
            errors=rejected.errors,
        )
        response.headers.update(rejected.headers)
        return response
    return RedirectResponse(location, status_code=303)


@site.get("/articles/{slug}/follow", response_class=HTMLResponse, summary="Follow an article")
async def follow_page(
    request: Request,
    slug: str,
    container: ContainerDep,
    notice: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    page = await container.site.article_page(slug)
    return html(request, "follow.html", a=page.article, notice=notice_for(notice), sections=[])


@site.post(
    "/articles/{slug}/follow",
    response_class=HTMLResponse,
    status_code=303,
    summary="Follow an article by email",
    dependencies=[Depends(_limit_posts)],
)
async def follow(
    request: Request,
    slug: str,
    container: ContainerDep,
    email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    location = await container.site.follow(slug, email, reader_ip(request))
    return RedirectResponse(location, status_code=303)


_SUBSCRIPTION_PAGES = {
    "confirm": {
        "heading": "Confirm your subscription",
        "message": "Press the button to confirm that you want these emails.",
        "button": "Confirm",
        "done": "Thank you: your subscription is confirmed.",
    },
    "unsubscribe": {
        "heading": "Unsubscribe",
        "message": "Press the button to stop these emails.",
        "button": "Unsubscribe",
        "done": "You are unsubscribed. You will not get these emails any more.",
    },
}


async def _subscription_page(
    request: Request, container: Container, kind: str, token: str, *, post: bool
) -> HTMLResponse:
    words = _SUBSCRIPTION_PAGES[kind]
    if post:
        # RFC 8058 one-click: mail clients POST "List-Unsubscribe=One-Click"; pass it on as is.
        body = await request.body() if kind == "unsubscribe" else b""
        result = await container.site.subscription(kind, token, "POST", body)
        message, done = words["done"], True
    else:
        result = await container.site.subscription(kind, token, "GET")
        message, done = words["message"], False
    info = result.data if isinstance(result.data, dict) else {}
    return html(
        request,
        "subscription.html",
        heading=words["heading"],
        message=message,
        button=words["button"],
        done=done,
        info=info,
        action=f"/subscriptions/{kind}/{token}",
        sections=[],
    )


@site.get("/subscriptions/confirm/{token}", response_class=HTMLResponse, summary="Confirm page")
async def confirm_page(request: Request, token: str, container: ContainerDep) -> HTMLResponse:
    return await _subscription_page(request, container, "confirm", token, post=False)


@site.post("/subscriptions/confirm/{token}", response_class=HTMLResponse, summary="Confirm")
async def confirm(request: Request, token: str, container: ContainerDep) -> HTMLResponse:
    return await _subscription_page(request, container, "confirm", token, post=True)


@site.get(
    "/subscriptions/unsubscribe/{token}", response_class=HTMLResponse, summary="Unsubscribe page"
)
async def unsubscribe_page(request: Request, token: str, container: ContainerDep) -> HTMLResponse:
    return await _subscription_page(request, container, "unsubscribe", token, post=False)


@site.post(
    "/subscriptions/unsubscribe/{token}",
    response_class=HTMLResponse,
    summary="Unsubscribe (also RFC 8058 one-click)",
)
async def unsubscribe(request: Request, token: str, container: ContainerDep) -> HTMLResponse:
    return await _subscription_page(request, container, "unsubscribe", token, post=True)


@site.get("/articles/{slug}/live", summary="New comments on an article, as Server-Sent Events")
async def live(slug: str, container: ContainerDep) -> EventSourceResponse:
    if not is_safe_segment(slug):
        raise Problem(404, "There is no such article.")

    async def events() -> AsyncIterator[dict[str, str]]:
        with container.hub.listen(slug) as queue:
            if container.live_feed is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(container.live_feed.assigned.wait(), 10)
            yield {"event": "ready", "data": "{}"}
            while True:
                message = await queue.get()
                yield {
                    "event": "comment",
                    "id": str(message["id"]),
                    "data": orjson.dumps(message).decode(),
                }

    return EventSourceResponse(
        events(),
        ping=int(container.settings.live_heartbeat_seconds),
        headers={"Cache-Control": "no-cache"},
    )


# ---------------------------------------------------------------------------------------------
# Feeds are the articles service's; the reader-site URLs are aliases of its API.


async def _feed(request: Request, path: str) -> Response:
    request.scope["raw_path"] = path.encode()
    request.scope["path"] = path
    request.scope["query_string"] = b""
    return await proxy(request)


@site.get("/feed.xml", summary="Atom feed of the latest articles", response_class=Response)
async def site_feed(request: Request) -> Response:
    return await _feed(request, "/api/articles/feed.xml")


@site.get("/sections/{slug}/feed.xml", summary="Atom feed of a section", response_class=Response)
async def section_feed(request: Request, slug: str) -> Response:
    if not is_safe_segment(slug):
        raise Problem(404, "There is no such section.")
    return await _feed(request, f"/api/sections/{slug}/feed.xml")


# ---------------------------------------------------------------------------------------------
# Docs: one OpenAPI document for every public route.

docs = APIRouter(include_in_schema=False)


@docs.get("/openapi.json")
async def openapi(request: Request, container: ContainerDep) -> JSONResponse:
    own = request.app.openapi()
    return JSONResponse(await container.openapi.combined(own))


@docs.get("/docs")
async def swagger(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Broadsheet API")
