"""Routes of the reader site, its live updates and the combined API docs. (``/api/…`` and the
feed aliases never reach these: the fast path forwards them, ``fastpath.py``.)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Form, Path, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sse_starlette import EventSourceResponse
from starlette.types import Receive, Scope, Send

from broadsheet_gateway.bootstrap import Container
from broadsheet_gateway.client_address import client_ip
from broadsheet_gateway.live import TooManyStreams
from broadsheet_gateway.render import article_page_html
from broadsheet_gateway.routing import is_safe_segment
from broadsheet_gateway.service import CommentForm, CommentRejected, PageError, Redirect
from broadsheet_gateway.texts import SUBSCRIPTION_PAGES, error_title, notice_for
from broadsheet_shared.errors import Conflict, Forbidden, InvalidLink, NotFound, RateLimited
from broadsheet_shared.http.clients import client_key
from broadsheet_shared.http.contract import raises
from broadsheet_shared.http.problems import problem_response
from broadsheet_shared.identifiers import (
    ARTICLE_CURSOR_PATTERN,
    EMAIL_DOMAIN_PATTERN,
    SUBSCRIPTION_ID_PATTERN,
    THREAD_CURSOR_PATTERN,
)
from broadsheet_shared.ratelimit import raise_if_limited


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


async def limit_posts(request: Request) -> None:
    raise_if_limited(get_container(request).write_limiter.hit(client_key(reader_ip(request))))


site = APIRouter(tags=["reader site"])

# A refused live stream may try again after this long (a place frees up as a page closes).
LIVE_RETRY_AFTER_SECONDS = 30


def html(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    container = get_container(request)
    body = container.templates.get_template(template).render(**context)
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-cache"})


def error_page(request: Request, error: PageError) -> HTMLResponse:
    return html(
        request,
        "error.html",
        status=error.status,
        title=error_title(error.status),
        message=error.message,
        sections=[],
    )


def install_page_errors(app: FastAPI) -> None:
    """A reader page that fails is an HTML page, not a problem document."""

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> HTMLResponse:
        return error_page(request, exc)

    @app.exception_handler(Redirect)
    async def _redirect(_: Request, exc: Redirect) -> HTMLResponse:
        return HTMLResponse("", status_code=exc.status, headers={"Location": exc.location})


@site.get("/", response_class=HTMLResponse, summary="Front page", responses=raises(NotFound))
async def front_page(
    request: Request,
    container: ContainerDep,
    p: Annotated[
        str | None, Query(max_length=20, description="An imported WordPress post's ?p=ID link")
    ] = None,
) -> HTMLResponse:
    if p is not None:
        location = await container.site.old_link(f"/?p={p}")
        if location is None:
            raise PageError(404, "Sorry, there is no such article.")
        raise Redirect(location, status=301)
    return html(request, "front.html", **await container.site.front_page())


@site.get("/tags/{tag}", response_class=HTMLResponse, summary="Articles with a tag")
async def tag_page(
    request: Request,
    tag: Annotated[str, Path(min_length=1, max_length=50)],
    container: ContainerDep,
    cursor: Annotated[str | None, Query(pattern=ARTICLE_CURSOR_PATTERN)] = None,
) -> HTMLResponse:
    return html(request, "tag.html", **await container.site.tag_page(tag, cursor))


@site.get("/sections/{slug}", response_class=HTMLResponse, summary="Section page")
async def section_page(
    request: Request,
    slug: str,
    container: ContainerDep,
    cursor: Annotated[str | None, Query(pattern=ARTICLE_CURSOR_PATTERN)] = None,
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
    body = article_page_html(
        container.templates,
        container.comments,
        page,
        cursor=cursor,
        notice=notice,
        form=form,
        error=error,
        errors=errors,
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-cache"})


@site.get("/articles/{slug}", response_class=HTMLResponse, summary="Article page with comments")
async def article_page(
    request: Request,
    slug: str,
    container: ContainerDep,
    cpage: Annotated[str | None, Query(pattern=THREAD_CURSOR_PATTERN)] = None,
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
    responses=raises(Forbidden, Conflict),
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
    ip = reader_ip(request)
    decision = container.write_limiter.hit(client_key(ip))
    try:
        if not decision.allowed:
            raise CommentRejected(
                429,
                "You are posting too fast. Please wait a moment and try again.",
                headers={"Retry-After": str(decision.retry_after)},
            )
        location = await container.site.post_comment(slug, form, ip)
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
    return html(
        request, "follow.html", article=page.article, notice=notice_for(notice), sections=[]
    )


@site.post(
    "/articles/{slug}/follow",
    response_class=HTMLResponse,
    status_code=303,
    summary="Follow an article by email",
    dependencies=[Depends(limit_posts)],
)
async def follow(
    request: Request,
    slug: str,
    container: ContainerDep,
    # The notifications service decides (a refusal re-renders the page); the document says what
    # it accepts. A browser always sends the field, empty or not.
    email: Annotated[
        str,
        Form(
            max_length=254,
            json_schema_extra={"format": "email", "pattern": EMAIL_DOMAIN_PATTERN},
        ),
    ],
) -> Response:
    location = await container.site.follow(slug, email, reader_ip(request))
    return RedirectResponse(location, status_code=303)


async def _subscription_page(
    request: Request,
    container: Container,
    kind: str,
    token: str,
    *,
    post: bool,
    request_id: str | None = None,
) -> HTMLResponse:
    words = SUBSCRIPTION_PAGES[kind]
    if post:
        # RFC 8058 one-click: mail clients POST "List-Unsubscribe=One-Click"; pass it on as is.
        body = await request.body() if kind == "unsubscribe" else b""
        result = await container.site.subscription(kind, token, "POST", body, request_id)
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
        words=words,
        done=done,
        info=info,
        action=f"/subscriptions/{kind}/{token}",
        sections=[],
    )


@site.get(
    "/subscriptions/confirm/{token}",
    response_class=HTMLResponse,
    summary="Confirm page",
    responses=raises(InvalidLink),
)
async def confirm_page(request: Request, token: str, container: ContainerDep) -> HTMLResponse:
    return await _subscription_page(request, container, "confirm", token, post=False)


@site.post(
    "/subscriptions/confirm/{token}",
    response_class=HTMLResponse,
    summary="Confirm",
    responses=raises(InvalidLink),
)
async def confirm(request: Request, token: str, container: ContainerDep) -> HTMLResponse:
    return await _subscription_page(request, container, "confirm", token, post=True)


@site.post(
    "/subscriptions/confirm/{token}/requests/{request_id}",
    response_class=HTMLResponse,
    summary="Confirm one request made after the link's email was sent",
    responses=raises(InvalidLink),
)
async def confirm_request(
    request: Request,
    token: str,
    request_id: Annotated[str, Path(pattern=SUBSCRIPTION_ID_PATTERN)],
    container: ContainerDep,
) -> HTMLResponse:
    return await _subscription_page(
        request, container, "confirm", token, post=True, request_id=request_id
    )


@site.get(
    "/subscriptions/unsubscribe/{token}",
    response_class=HTMLResponse,
    summary="Unsubscribe page",
    responses=raises(InvalidLink),
)
async def unsubscribe_page(request: Request, token: str, container: ContainerDep) -> HTMLResponse:
    return await _subscription_page(request, container, "unsubscribe", token, post=False)


@site.post(
    "/subscriptions/unsubscribe/{token}",
    response_class=HTMLResponse,
    summary="Unsubscribe (also RFC 8058 one-click)",
    responses=raises(InvalidLink),
)
async def unsubscribe(request: Request, token: str, container: ContainerDep) -> HTMLResponse:
    return await _subscription_page(request, container, "unsubscribe", token, post=True)


@site.get(
    "/articles/{slug}/live",
    summary="New comments on an article, as Server-Sent Events",
    responses={
        200: {
            "description": "`ready`, then one `comment` event per comment; closed after "
            "`GATEWAY_LIVE_IDLE_SECONDS` without one (EventSource reconnects)",
            "content": {
                "text/event-stream": {
                    "schema": {
                        "type": "object",
                        "required": ["event", "data"],
                        "properties": {
                            "event": {"enum": ["ready", "comment"]},
                            "data": {"type": "string", "description": "JSON"},
                            "id": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
async def live(slug: str, request: Request, container: ContainerDep) -> Response:
    if not is_safe_segment(slug):
        raise NotFound("There is no such article.")
    settings = container.settings
    try:
        release = container.hub.admit(client_key(reader_ip(request)))
    except TooManyStreams as refused:
        if refused.per_client:
            raise RateLimited(LIVE_RETRY_AFTER_SECONDS) from None
        return problem_response(
            503,
            "Too many live updates are open right now. Please try again later.",
            instance=request.url.path,
            headers={"Retry-After": str(LIVE_RETRY_AFTER_SECONDS)},
        )

    async def events() -> AsyncIterator[dict[str, str]]:
        with container.hub.listen(slug) as queue:
            if container.live_feed is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(container.live_feed.assigned.wait(), 10)
            yield {"event": "ready", "data": "{}"}
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), settings.live_idle_seconds)
                except TimeoutError:
                    return  # idle: the page's EventSource reconnects if it is still open
                yield {
                    "event": "comment",
                    "id": str(message["id"]),
                    "data": orjson.dumps(message).decode(),
                }

    return LiveStream(
        events(),
        release,
        ping=int(settings.live_heartbeat_seconds),
        headers={"Cache-Control": "no-cache"},
    )


class LiveStream(EventSourceResponse):
    """Gives its stream's place back however the response ends (a generator that never started
    would not run its own ``finally``)."""

    def __init__(self, content: Any, release: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


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
