"""Routes of the reader site, its live updates and the combined API docs. (``/api/…`` and the
feed aliases never reach these: the fast path forwards them, ``fastpath.py``.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, FastAPI, Form, Header, Path, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from sse_starlette import EventSourceResponse
from starlette.types import Receive, Scope, Send

from broadsheet_gateway import edit_cookies, voter_cookie
from broadsheet_gateway.bootstrap import Container
from broadsheet_gateway.client_address import client_ip
from broadsheet_gateway.live import TooManyStreams, Update
from broadsheet_gateway.page_cache import SharedPage, etag_matches, etag_of, page_key
from broadsheet_gateway.render import article_page_html, page_query
from broadsheet_gateway.routing import is_safe_segment, segment
from broadsheet_gateway.seo import PageMeta, article_meta, front_meta, listing_meta
from broadsheet_gateway.service import (
    CommentForm,
    CommentRejected,
    PageError,
    Redirect,
    ThreadSort,
)
from broadsheet_gateway.texts import SUBSCRIPTION_PAGES, error_title, notice_for
from broadsheet_shared.errors import Conflict, Forbidden, InvalidLink, NotFound, RateLimited
from broadsheet_shared.http.clients import client_key
from broadsheet_shared.http.contract import raises
from broadsheet_shared.http.problems import problem_response
from broadsheet_shared.identifiers import (
    ARTICLE_CURSOR_PATTERN,
    EMAIL_DOMAIN_PATTERN,
    OBJECT_ID_PATTERN,
    SUBSCRIPTION_ID_PATTERN,
    THREAD_CURSOR_PATTERN,
)
from broadsheet_shared.ratelimit import raise_if_limited
from broadsheet_shared.waiting import wait_until_set


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


def html(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    """A rendered page. A page is always revalidated (``no-cache``: comments arrive), and a
    revisit with the page's ETag gets a bodiless 304."""
    container = get_container(request)
    body = container.templates.get_template(template).render(**context).encode()
    return page_response(request, body, status)


def page_response(request: Request, body: bytes, status: int = 200) -> Response:
    """A rendered page's answer: always revalidated, and a revisit with its ETag is a 304."""
    headers = {"Cache-Control": "no-cache"}
    if status == 200:
        etag = headers["ETag"] = etag_of(body)
        if etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
    return HTMLResponse(body, status_code=status, headers=headers)


def _base_url(container: Container) -> str:
    return container.settings.public_base_url


def _private_meta(title: str, description: str) -> PageMeta:
    """A page for one reader (a form, a mailed link, an error): not for search engines."""
    return PageMeta(title=f"{title} · Broadsheet", description=description, canonical=None)


def _page_path(request: Request, *params: str) -> str:
    """This page's address for its canonical link: the path and only the query parameters
    that make it a page of its own (never a reply form's or a notice's)."""
    kept = [(name, request.query_params[name]) for name in params if name in request.query_params]
    return request.url.path + (f"?{urlencode(kept)}" if kept else "")


async def error_page(request: Request, error: PageError) -> Response:
    container = get_container(request)
    # An outage page is answered at once; asking a service for the navigation could wait.
    sections = await container.site.nav_sections() if error.status < 500 else []
    title = error_title(error.status)
    return html(
        request,
        "error.html",
        status=error.status,
        title=title,
        message=error.message,
        sections=sections,
        meta=_private_meta(title, error.message),
    )


def install_page_errors(app: FastAPI) -> None:
    """A reader page that fails is an HTML page, not a problem document."""

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> Response:
        return await error_page(request, exc)

    @app.exception_handler(Redirect)
    async def _redirect(_: Request, exc: Redirect) -> Response:
        return HTMLResponse("", status_code=exc.status, headers={"Location": exc.location})


@site.get("/", response_class=HTMLResponse, summary="Front page", responses=raises(NotFound))
async def front_page(
    request: Request,
    container: ContainerDep,
    p: Annotated[
        str | None, Query(max_length=20, description="An imported WordPress post's ?p=ID link")
    ] = None,
) -> Response:
    if p is not None:
        location = await container.site.old_link(f"/?p={p}")
        if location is None:
            raise PageError(404, "Sorry, there is no such article.")
        raise Redirect(location, status=301)
    return html(
        request,
        "front.html",
        meta=front_meta(_base_url(container)),
        **await container.site.front_page(),
    )


@site.get("/tags/{tag}", response_class=HTMLResponse, summary="Articles with a tag")
async def tag_page(
    request: Request,
    tag: Annotated[str, Path(min_length=1, max_length=50)],
    container: ContainerDep,
    cursor: Annotated[str | None, Query(pattern=ARTICLE_CURSOR_PATTERN)] = None,
) -> Response:
    page = await container.site.tag_page(tag, cursor)
    meta = listing_meta(
        _base_url(container),
        title=f"Tagged “{tag}” · Broadsheet",
        description=f"Articles tagged “{tag}” on Broadsheet.",
        path=_page_path(request, "cursor"),
    )
    return html(request, "tag.html", meta=meta, **page)


@site.get(
    "/authors/{slug}",
    response_class=HTMLResponse,
    summary="An author's articles",
    responses=raises(NotFound),
)
async def author_page(
    request: Request,
    slug: str,
    container: ContainerDep,
    cursor: Annotated[str | None, Query(pattern=ARTICLE_CURSOR_PATTERN)] = None,
) -> Response:
    page = await container.site.author_page(slug, cursor)
    name = page["author"]["name"]
    meta = listing_meta(
        _base_url(container),
        title=f"{name} · Broadsheet",
        description=f"Articles by {name} on Broadsheet.",
        path=_page_path(request, "cursor"),
    )
    return html(request, "author.html", meta=meta, **page)


@site.get("/sections/{slug}", response_class=HTMLResponse, summary="Section page")
async def section_page(
    request: Request,
    slug: str,
    container: ContainerDep,
    cursor: Annotated[str | None, Query(pattern=ARTICLE_CURSOR_PATTERN)] = None,
) -> Response:
    page = await container.site.section_page(slug, cursor)
    name = page["section"]["name"]
    meta = listing_meta(
        _base_url(container),
        title=f"{name} · Broadsheet",
        description=f"The latest articles in {name} from Broadsheet.",
        path=_page_path(request, "cursor"),
    )
    return html(request, "section.html", meta=meta, current_section=slug, **page)


OwnCommentId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN)]

# A reader's address in a form (follow, manage link, my-data link): the notifications service
# decides (a refusal re-renders the page); the document says what it accepts.
ReaderEmail = Annotated[
    str,
    Form(max_length=254, json_schema_extra={"format": "email", "pattern": EMAIL_DOMAIN_PATTERN}),
]

# The vote route's JSON answer (the comments service's own, passed on).
_VOTED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["votes", "counted"],
    "properties": {"votes": {"type": "integer", "minimum": 0}, "counted": {"type": "boolean"}},
}


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
    sort: ThreadSort = "oldest",
) -> Response:
    generation = container.pages.generation(slug)
    page, sections = await asyncio.gather(
        container.site.article_page(slug, cursor=cursor, reply_to=reply_to, sort=sort),
        container.site.nav_sections(),
    )
    # Rendered as every reader sees it; the reader's own comments are composed in after.
    shared = SharedPage.of(
        article_page_html(
            container.templates,
            container.comments,
            page,
            cursor=cursor,
            notice=notice,
            form=form,
            error=error,
            errors=errors,
            sections=sections,
            meta=article_meta(
                _base_url(container), page.article, page.total, _page_path(request, "cpage")
            ),
        ).encode(),
        slug=str(page.article.get("slug", "")),
        can_reply=page.comments_open,
        sort=page.sort,
        cursor=cursor,
        thread=page.thread,
    )
    if (
        status == 200
        and page.comments_available
        and reply_to is None
        and notice is None
        and form is None
    ):
        container.pages.put(page_key(slug, sort, cursor), shared, generation)
    own = edit_cookies.own_comments(request.cookies)
    return page_response(request, container.pages.personal(shared, own), status)


@site.get("/articles/{slug}", response_class=HTMLResponse, summary="Article page with comments")
async def article_page(
    request: Request,
    slug: str,
    container: ContainerDep,
    cpage: Annotated[str | None, Query(pattern=THREAD_CURSOR_PATTERN)] = None,
    replytocom: Annotated[str | None, Query(max_length=100)] = None,
    notice: Annotated[str | None, Query(max_length=20)] = None,
    sort: ThreadSort = "oldest",
) -> Response:
    return await _article(
        request, container, slug, cursor=cpage, reply_to=replytocom, notice=notice, sort=sort
    )


@site.post(
    "/articles/{slug}/comments/{comment_id}/vote",
    response_class=HTMLResponse,
    status_code=303,
    summary="Vote for a comment from the article page (JSON for the page's script)",
    responses={
        200: {
            "description": "With `Accept: application/json`: the comment's votes now, and "
            "whether this vote counted",
            "content": {"application/json": {"schema": _VOTED_SCHEMA}},
        },
        **raises(Conflict, NotFound, RateLimited),
    },
)
async def vote_for_comment(
    request: Request,
    slug: str,
    comment_id: OwnCommentId,
    container: ContainerDep,
    cpage: Annotated[str | None, Query(pattern=THREAD_CURSOR_PATTERN)] = None,
    sort: ThreadSort = "oldest",
) -> Response:
    """One vote per reader per comment (the comments service decides). Without JavaScript the
    reader goes back to the page they voted on, at the comment, with a notice; the page's
    script asks for JSON (``{votes, counted}``) and stays on the page."""
    ip = reader_ip(request)
    wants_json = "application/json" in request.headers.get("accept", "")
    voter = voter_cookie.voter_of(request.cookies)
    new = voter is None
    voter = voter or voter_cookie.new_voter()
    decision = container.write_limiter.hit(client_key(ip))
    try:
        if not decision.allowed:
            raise CommentRejected(
                429,
                "You are voting too fast. Please wait a moment and try again.",
                headers={"Retry-After": str(decision.retry_after)},
            )
        voted = await container.site.vote(slug, comment_id, voter, ip)
    except CommentRejected as rejected:
        if wants_json:
            return problem_response(rejected.status, rejected.message, headers=rejected.headers)
        raise PageError(rejected.status, rejected.message) from None
    # Votes have no event: this replica shows the count now, the others within
    # page_cache_seconds.
    container.pages.invalidate([slug])
    response: Response
    if wants_json:
        response = JSONResponse({"votes": voted.votes, "counted": voted.counted})
    else:
        notice = "voted" if voted.counted else "already-voted"
        query = page_query(sort, cpage, notice=notice)
        location = f"/articles/{segment(slug)}{query}#comment-{comment_id}"
        response = RedirectResponse(location, status_code=303)
    if new:
        voter_cookie.remember(response, voter, secure=_over_https(request))
    return response


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
        posted = await container.site.post_comment(slug, form, ip)
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
    redirect = RedirectResponse(posted.location, status_code=303)
    if posted.edit_token and posted.edit_token_expires_at:
        edit_cookies.remember(
            redirect,
            slug=slug,
            comment_id=posted.comment_id,
            token=posted.edit_token,
            expires_at=posted.edit_token_expires_at,
            now=datetime.now(UTC),
            secure=_over_https(request),
        )
    return redirect


def _over_https(request: Request) -> bool:
    """Whether the reader's browser talks https to the site: the request says so, or the site's
    public address does (a proxy in front may end TLS and pass plain http on)."""
    base = _base_url(get_container(request))
    return request.url.scheme == "https" or base.startswith("https://")


def _edit_token(request: Request, comment_id: str) -> str:
    token = request.cookies.get(edit_cookies.cookie_name(comment_id))
    if not token:
        raise PageError(
            403,
            "This comment can be changed only from the browser that posted it, for a short "
            "while after posting.",
        )
    return token


# The forms for one's own comment: their template and title.
OWN_COMMENT_PAGES = {
    "edit": ("edit_comment.html", "Edit your comment"),
    "delete": ("delete_comment.html", "Delete your comment"),
}


async def _own_comment_page(
    request: Request,
    container: Container,
    kind: str,
    slug: str,
    *,
    status: int = 200,
    body: str | None = None,
    error: str | None = None,
    errors: list[str] | None = None,
) -> Response:
    comment_id = request.path_params["comment_id"]
    comment, sections = await asyncio.gather(
        _located(container, slug, comment_id), container.site.nav_sections()
    )
    template, title = OWN_COMMENT_PAGES[kind]
    return html(
        request,
        template,
        status=status,
        title=title,
        slug=slug,
        comment=comment,
        body=comment.get("body_markdown", "") if body is None else body,
        error=error,
        errors=errors or [],
        sections=sections,
        meta=_private_meta(title, "Change or remove a comment you posted."),
    )


async def _located(container: Container, slug: str, comment_id: str) -> dict[str, Any]:
    if not is_safe_segment(slug):
        raise PageError(404, "Sorry, there is no such article.")
    comment = await container.site.comment(segment(slug), comment_id)
    if comment is None:
        raise PageError(404, "There is no such comment on this article.")
    return comment


@site.get(
    "/articles/{slug}/comments/{comment_id}/edit",
    response_class=HTMLResponse,
    summary="The form to edit one's own comment (from the browser that posted it)",
    responses=raises(Forbidden, NotFound),
)
async def edit_comment_page(
    request: Request, slug: str, comment_id: OwnCommentId, container: ContainerDep
) -> Response:
    _edit_token(request, comment_id)
    return await _own_comment_page(request, container, "edit", slug)


@site.post(
    "/articles/{slug}/comments/{comment_id}/edit",
    response_class=HTMLResponse,
    status_code=303,
    summary="Edit one's own comment with the edit token the browser keeps",
    responses=raises(Forbidden, NotFound, Conflict),
)
async def edit_comment(
    request: Request,
    slug: str,
    comment_id: OwnCommentId,
    container: ContainerDep,
    body: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    token = _edit_token(request, comment_id)
    try:
        location = await container.site.change_own_comment(slug, comment_id, token, body)
    except CommentRejected as rejected:
        if rejected.status != 422:
            raise PageError(rejected.status, rejected.message) from None
        return await _own_comment_page(
            request,
            container,
            "edit",
            slug,
            status=422,
            body=body,
            error=rejected.message,
            errors=rejected.errors,
        )
    return RedirectResponse(location, status_code=303)


@site.get(
    "/articles/{slug}/comments/{comment_id}/delete",
    response_class=HTMLResponse,
    summary="Confirm deleting one's own comment (from the browser that posted it)",
    responses=raises(Forbidden, NotFound),
)
async def delete_comment_page(
    request: Request, slug: str, comment_id: OwnCommentId, container: ContainerDep
) -> Response:
    _edit_token(request, comment_id)
    return await _own_comment_page(request, container, "delete", slug)


@site.post(
    "/articles/{slug}/comments/{comment_id}/delete",
    response_class=HTMLResponse,
    status_code=303,
    summary="Delete one's own comment with the edit token the browser keeps",
    responses=raises(Forbidden, NotFound, Conflict),
)
async def delete_comment(
    request: Request, slug: str, comment_id: OwnCommentId, container: ContainerDep
) -> Response:
    token = _edit_token(request, comment_id)
    try:
        location = await container.site.change_own_comment(slug, comment_id, token, None)
    except CommentRejected as rejected:
        raise PageError(rejected.status, rejected.message) from None
    response = RedirectResponse(location, status_code=303)
    edit_cookies.forget(response, slug=slug, comment_id=comment_id, secure=_over_https(request))
    return response


@site.get("/articles/{slug}/follow", response_class=HTMLResponse, summary="Follow an article")
async def follow_page(
    request: Request,
    slug: str,
    container: ContainerDep,
    notice: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    page, sections = await asyncio.gather(
        container.site.article_page(slug), container.site.nav_sections()
    )
    return html(
        request,
        "follow.html",
        article=page.article,
        notice=notice_for(notice),
        sections=sections,
        meta=_private_meta(
            f"Follow {page.article.get('title', '')}",
            "Get an email when new comments appear on this article.",
        ),
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
    email: ReaderEmail,  # a browser always sends the field, empty or not
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
) -> Response:
    words = SUBSCRIPTION_PAGES[kind]
    if post:
        # RFC 8058 one-click: mail clients POST "List-Unsubscribe=One-Click"; pass it on as is.
        body = await request.body() if kind == "unsubscribe" else b""
        asked = container.site.subscription(kind, token, "POST", body, request_id)
        message, done = words["done"], True
    else:
        asked = container.site.subscription(kind, token, "GET")
        message, done = words["message"], False
    result, sections = await asyncio.gather(asked, container.site.nav_sections())
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
        sections=sections,
        meta=_private_meta(words["heading"], message),
    )


@site.get(
    "/subscriptions/confirm/{token}",
    response_class=HTMLResponse,
    summary="Confirm page",
    responses=raises(InvalidLink),
)
async def confirm_page(request: Request, token: str, container: ContainerDep) -> Response:
    return await _subscription_page(request, container, "confirm", token, post=False)


@site.post(
    "/subscriptions/confirm/{token}",
    response_class=HTMLResponse,
    summary="Confirm",
    responses=raises(InvalidLink),
)
async def confirm(request: Request, token: str, container: ContainerDep) -> Response:
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
) -> Response:
    return await _subscription_page(
        request, container, "confirm", token, post=True, request_id=request_id
    )


@site.get(
    "/subscriptions/unsubscribe/{token}",
    response_class=HTMLResponse,
    summary="Unsubscribe page",
    responses=raises(InvalidLink),
)
async def unsubscribe_page(request: Request, token: str, container: ContainerDep) -> Response:
    return await _subscription_page(request, container, "unsubscribe", token, post=False)


@site.post(
    "/subscriptions/unsubscribe/{token}",
    response_class=HTMLResponse,
    summary="Unsubscribe (also RFC 8058 one-click)",
    responses=raises(InvalidLink),
)
async def unsubscribe(request: Request, token: str, container: ContainerDep) -> Response:
    return await _subscription_page(request, container, "unsubscribe", token, post=True)


@site.get(
    "/subscriptions/manage",
    response_class=HTMLResponse,
    summary="Ask for a link to manage your subscriptions",
)
async def manage_request_page(
    request: Request,
    container: ContainerDep,
    notice: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    return html(
        request,
        "manage_request.html",
        notice=notice_for(notice),
        sections=await container.site.nav_sections(),
        meta=_private_meta(
            "Manage your subscriptions", "Email me a link to manage my subscriptions."
        ),
    )


@site.post(
    "/subscriptions/manage",
    response_class=HTMLResponse,
    status_code=303,
    summary="Email me a link to manage my subscriptions",
    dependencies=[Depends(limit_posts)],
)
async def request_manage_link(
    request: Request,
    container: ContainerDep,
    email: ReaderEmail,
) -> Response:
    location = await container.site.request_manage_link(email, reader_ip(request))
    return RedirectResponse(location, status_code=303)


@site.get(
    "/subscriptions/manage/{token}",
    response_class=HTMLResponse,
    summary="Your subscriptions: what the link's address follows and receives",
    responses=raises(InvalidLink),
)
async def manage_page(
    request: Request,
    token: str,
    container: ContainerDep,
    notice: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    result, sections = await asyncio.gather(
        container.site.manage_subscriptions(token), container.site.nav_sections()
    )
    return html(
        request,
        "manage.html",
        info=result.data if isinstance(result.data, dict) else {},
        notice=notice_for(notice),
        action=f"/subscriptions/manage/{token}",
        sections=sections,
        meta=_private_meta(
            "Your subscriptions", "What this address follows and receives from Broadsheet."
        ),
    )


@site.post(
    "/subscriptions/manage/{token}/unsubscribe",
    response_class=HTMLResponse,
    status_code=303,
    summary="Unsubscribe the link's address from everything",
    responses=raises(InvalidLink),
)
async def manage_unsubscribe_all(token: str, container: ContainerDep) -> Response:
    await container.site.manage_subscriptions(token, unsubscribe=True)
    return _back_to_manage(token, "unsubscribed_all")


@site.post(
    "/subscriptions/manage/{token}/subscriptions/{subscription_id}/unsubscribe",
    response_class=HTMLResponse,
    status_code=303,
    summary="Unsubscribe the link's address from one subscription",
    responses=raises(InvalidLink),
)
async def manage_unsubscribe(
    token: str,
    subscription_id: Annotated[str, Path(pattern=SUBSCRIPTION_ID_PATTERN)],
    container: ContainerDep,
) -> Response:
    await container.site.manage_subscriptions(
        token, unsubscribe=True, subscription_id=subscription_id
    )
    return _back_to_manage(token, "unsubscribed")


@site.get(
    "/my-data",
    response_class=HTMLResponse,
    summary="Ask for a link to your data",
)
async def my_data_request_page(
    request: Request,
    container: ContainerDep,
    notice: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    return html(
        request,
        "my_data_request.html",
        notice=notice_for(notice),
        sections=await container.site.nav_sections(),
        meta=_private_meta("Your data", "Email me a link to download or erase my data."),
    )


@site.post(
    "/my-data",
    response_class=HTMLResponse,
    status_code=303,
    summary="Email me a link to download or erase my data",
    dependencies=[Depends(limit_posts)],
)
async def request_data_link(
    request: Request,
    container: ContainerDep,
    email: ReaderEmail,
) -> Response:
    location = await container.site.request_data_link(email, reader_ip(request))
    return RedirectResponse(location, status_code=303)


@site.get(
    "/my-data/{token}",
    response_class=HTMLResponse,
    summary="Your data: download it or erase it",
    responses=raises(InvalidLink),
)
async def my_data_page(request: Request, token: str, container: ContainerDep) -> Response:
    _, sections = await asyncio.gather(
        container.site.check_data_link(token), container.site.nav_sections()
    )
    return html(
        request,
        "my_data.html",
        action=f"/my-data/{segment(token)}",
        sections=sections,
        meta=_private_meta("Your data", "Download or erase what Broadsheet holds about you."),
    )


@site.get(
    "/my-data/{token}/download",
    summary="Everything held about the link's address, as one JSON file",
    responses={
        200: {"content": {"application/json": {}}},
        # Opened from a mail in a browser: a refused link is a page, like the site's others.
        **{
            status: {**answer, "content": {"text/html": {}}}
            for status, answer in raises(InvalidLink).items()
        },
    },
)
async def my_data_download(token: str, container: ContainerDep) -> Response:
    data = await container.site.my_data(token)
    return Response(
        orjson.dumps(data, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="broadsheet-my-data.json"',
            # One reader's data: never kept by a cache on the way.
            "Cache-Control": "no-store",
        },
    )


@site.get(
    "/my-data/{token}/erase",
    response_class=HTMLResponse,
    summary="Erase your data: the confirmation step",
    responses=raises(InvalidLink),
)
async def my_data_erase_page(request: Request, token: str, container: ContainerDep) -> Response:
    # Shows a button and changes nothing: mail scanners and previews fetch links.
    _, sections = await asyncio.gather(
        container.site.check_data_link(token), container.site.nav_sections()
    )
    return html(
        request,
        "my_data_erase.html",
        action=f"/my-data/{segment(token)}",
        sections=sections,
        meta=_private_meta("Erase your data", "Erase what Broadsheet holds about you."),
    )


@site.post(
    "/my-data/{token}/erase",
    response_class=HTMLResponse,
    status_code=303,
    summary="Erase everything held about the link's address",
    responses=raises(InvalidLink),
)
async def my_data_erase(token: str, container: ContainerDep) -> Response:
    await container.site.erase_my_data(token)
    return RedirectResponse(f"/my-data?{urlencode({'notice': 'data_erased'})}", status_code=303)


def _back_to_manage(token: str, notice: str) -> Response:
    # POST-redirect-GET: the page shows what is left, and reloading it changes nothing.
    return RedirectResponse(
        f"/subscriptions/manage/{segment(token)}?{urlencode({'notice': notice})}", status_code=303
    )


@site.get(
    "/articles/{slug}/live",
    summary="Changes to an article's comments, as Server-Sent Events",
    responses={
        200: {
            "description": "What the page missed since `Last-Event-ID` (if the gateway still "
            "keeps it; else `reload` and the end), `ready`, then `comment` (new), `edit` and "
            "`remove` events; closed after `GATEWAY_LIVE_IDLE_SECONDS` without one "
            "(EventSource reconnects)",
            "content": {
                "text/event-stream": {
                    "schema": {
                        "type": "object",
                        "required": ["event", "data"],
                        "properties": {
                            "event": {"enum": ["ready", "reload", "comment", "edit", "remove"]},
                            "data": {"type": "string", "description": "JSON"},
                            "id": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
async def live(
    slug: str,
    request: Request,
    container: ContainerDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=100)] = None,
) -> Response:
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

    def sse(update: Update) -> dict[str, str]:
        return {"event": update.event, "id": update.id, "data": orjson.dumps(update.data).decode()}

    async def events() -> AsyncIterator[dict[str, str]]:
        replay = container.hub.replay
        with container.hub.listen(slug) as queue:
            # Listening first, then reading the buffer, with no await between: every update
            # is either missed (replayed now) or queued (streamed next), never both or neither.
            missed = replay.since(slug, last_event_id) if last_event_id else []
            position = replay.last_id
            if missed is None:
                yield {"event": "reload", "data": "{}"}
                return
            for update in missed:
                yield sse(update)
            if container.live_feed is not None:
                await wait_until_set(container.live_feed.assigned, 10)
            # The id lets a page that reconnects before any update resume from here.
            yield {"event": "ready", "id": position, "data": "{}"}
            while True:
                try:
                    # asyncio.timeout, not wait_for: see broadsheet_shared.waiting.
                    async with asyncio.timeout(settings.live_idle_seconds):
                        update = await queue.get()
                except TimeoutError:
                    return  # idle: the page's EventSource reconnects if it is still open
                yield sse(update)

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
# What crawlers and browsers ask the site's root for.

crawlers = APIRouter(include_in_schema=False)

# Browsers ask for /favicon.ico whatever the page links: kept a day (it has no fingerprint).
FAVICON_CACHE = "public, max-age=86400"


@crawlers.get("/robots.txt")
async def robots(container: ContainerDep) -> Response:
    base = _base_url(container).rstrip("/")
    text = (
        "User-agent: *\n"
        # The API is for programs; a reply form is the article again, and so is another order
        # of its comments; mailed links are private.
        "Disallow: /api/\n"
        "Disallow: /subscriptions/\n"
        "Disallow: /my-data\n"
        "Disallow: /*?replytocom=\n"
        "Disallow: /*?sort=\n"
        "Allow: /\n"
        "\n"
        f"Sitemap: {base}/sitemap.xml\n"
        f"Sitemap: {base}/news-sitemap.xml\n"
    )
    return PlainTextResponse(text, headers={"Cache-Control": FAVICON_CACHE})


@crawlers.get("/favicon.ico")
async def favicon(container: ContainerDep) -> Response:
    return Response(
        container.assets.read("favicon.ico"),
        media_type="image/x-icon",
        headers={"Cache-Control": FAVICON_CACHE},
    )


# ---------------------------------------------------------------------------------------------
# Docs: one OpenAPI document for every public route.

docs = APIRouter(include_in_schema=False)


@docs.get("/openapi.json")
async def openapi(request: Request, container: ContainerDep) -> JSONResponse:
    own = request.app.openapi()
    return JSONResponse(await container.openapi.combined(own))


@docs.get("/docs")
async def swagger(request: Request) -> Response:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Broadsheet API")
