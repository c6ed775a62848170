"""Use cases: forward an API call, assemble a reader page, merge the API docs, fan out live
comments. None of them holds a business rule of the services; they only ask and present."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import structlog

from broadsheet_gateway.domain import (
    ROUTES,
    CommentNode,
    Route,
    Speed,
    Upstream,
    comments_heading,
    is_safe_segment,
    nest_comments,
    request_headers_for_upstream,
    resolve_route,
)
from broadsheet_gateway.repository import (
    ApiResult,
    Body,
    Headers,
    ServiceApis,
    Timeouts,
    UpstreamClient,
    UpstreamError,
    UpstreamResponse,
    segment,
)
from broadsheet_shared.http.problems import Problem

log = structlog.get_logger(__name__)


class ProxyService:
    def __init__(
        self,
        client: UpstreamClient,
        base_urls: Mapping[Upstream, str],
        *,
        timeouts: Timeouts,
        slow_timeouts: Timeouts,
        get_retries: int,
        routes: Sequence[Route] = ROUTES,
    ) -> None:
        self._client = client
        self._base = {k: v.rstrip("/") for k, v in base_urls.items()}
        self._timeouts = {Speed.NORMAL: timeouts, Speed.SLOW: slow_timeouts}
        self._retries = get_retries
        self._routes = routes
        self._resolved: dict[str, Route | None] = {}

    def route(self, path: str) -> Route:
        route = self.resolve(path)
        if route is None:
            raise Problem(404, "No such API route.")
        return route

    def resolve(self, path: str) -> Route | None:
        # Walking the table's regexes is most of a route lookup; the same paths come back often.
        try:
            return self._resolved[path]
        except KeyError:
            pass
        route = resolve_route(path, self._routes)
        if len(self._resolved) >= 10_000:
            self._resolved.clear()
        self._resolved[path] = route
        return route

    async def send(
        self, route: Route, method: str, target: str, headers: Headers, body: Body
    ) -> UpstreamResponse:
        """Forward with headers already prepared (``target`` is the raw path and query)."""
        # The path is appended verbatim to a configured base URL: it cannot name another host.
        return await self._client.send(
            method,
            self._base[route.upstream] + target,
            headers,
            body,
            self._timeouts[route.speed],
            retries=self._retries,
        )

    async def forward(
        self,
        *,
        route: Route,
        method: str,
        raw_path: str,
        query: str,
        headers: Sequence[tuple[str, str]],
        body: Body,
        client_ip: str,
        host: str,
        scheme: str,
        request_id: str | None,
    ) -> UpstreamResponse:
        # The path is appended verbatim to a configured base URL: it cannot name another host.
        url = self._base[route.upstream] + raw_path + (f"?{query}" if query else "")
        upstream_headers = request_headers_for_upstream(
            headers, client_ip=client_ip, host=host, scheme=scheme, request_id=request_id
        )
        return await self._client.send(
            method,
            url,
            upstream_headers,
            body,
            self._timeouts[route.speed],
            retries=self._retries,
        )


class PageError(Exception):
    """A reader page that cannot be shown: rendered as an HTML error page with this status."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


class Redirect(Exception):
    def __init__(self, location: str, status: int = 303) -> None:
        super().__init__(location)
        self.location = location
        self.status = status


@dataclass
class ArticlePage:
    article: dict[str, Any]
    comments_available: bool
    total: int
    heading: str
    thread: list[CommentNode]
    next_cursor: str | None
    comments_open: bool
    reply_to: dict[str, Any] | None = None


@dataclass
class CommentForm:
    author_name: str = ""
    author_email: str = ""
    body: str = ""
    parent_id: str = ""
    notify_replies: bool = False
    website: str = ""

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "author_name": self.author_name,
            "author_email": self.author_email,
            "body": self.body,
            "notify_replies": self.notify_replies,
            "parent_id": self.parent_id or None,
        }
        if self.website:
            data["website"] = self.website
        return data


@dataclass
class CommentRejected(Exception):
    status: int
    message: str
    errors: list[str] = field(default_factory=list)
    headers: Mapping[str, str] = field(default_factory=dict)


def _require_segment(value: str, what: str) -> str:
    if not is_safe_segment(value):
        raise PageError(404, f"There is no such {what}.")
    return segment(value)


def _problem_message(result: ApiResult, fallback: str) -> tuple[str, list[str]]:
    data = result.data if isinstance(result.data, dict) else {}
    detail = str(data.get("detail") or fallback)
    errors: list[str] = []
    for error in data.get("errors") or []:
        if isinstance(error, dict):
            loc = [p for p in error.get("loc", []) if p not in ("body", "query", "path")]
            errors.append(f"{' '.join(map(str, loc))}: {error.get('msg', '')}".strip(": "))
    return detail, errors


class SiteService:
    def __init__(self, apis: ServiceApis, *, page_size: int, front_page_articles: int) -> None:
        self._apis = apis
        self._page_size = page_size
        self._front_page_articles = front_page_articles

    async def _get(
        self, upstream: Upstream, path: str, params: Sequence[tuple[str, str]] = ()
    ) -> ApiResult:
        try:
            return await self._apis.get(upstream, path, params)
        except UpstreamError as exc:
            log.warning("upstream failed for a page", upstream=upstream.value, error=str(exc))
            raise PageError(
                503, "This page is unavailable for a moment. Please try again."
            ) from exc

    async def sections(self) -> list[dict[str, Any]]:
        result = await self._get(Upstream.ARTICLES, "/api/sections")
        if not result.ok or not isinstance(result.data, dict):
            raise PageError(503, "This page is unavailable for a moment. Please try again.")
        return list(result.data.get("items") or [])

    async def front_page(self) -> dict[str, Any]:
        sections, latest = await asyncio.gather(
            self.sections(),
            self._get(
                Upstream.ARTICLES, "/api/articles", [("limit", str(self._front_page_articles))]
            ),
        )
        if not latest.ok:
            raise PageError(503, "This page is unavailable for a moment. Please try again.")
        articles = list(latest.data.get("items") or [])
        by_section: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for article in articles:
            by_section[str((article.get("section") or {}).get("slug", ""))].append(article)
        groups = [
            {"section": section, "articles": by_section[section["slug"]]}
            for section in sections
            if by_section.get(section["slug"])
        ]
        counts = await self.comment_counts([a["slug"] for a in articles])
        return {"sections": sections, "groups": groups, "lead": articles[:1], "counts": counts}

    async def comment_counts(self, slugs: Sequence[str]) -> dict[str, int]:
        if not slugs:
            return {}
        # Counts are decoration: a comments outage must not take the front page down.
        with contextlib.suppress(PageError):
            result = await self._get(
                Upstream.COMMENTS, "/api/comments/counts", [("article", s) for s in slugs]
            )
            if result.ok and isinstance(result.data, dict):
                return {str(k): int(v) for k, v in (result.data.get("counts") or {}).items()}
        return {}

    async def section_page(self, slug: str, cursor: str | None) -> dict[str, Any]:
        _require_segment(slug, "section")
        params = [("section", slug), ("limit", "20")]
        if cursor:
            params.append(("cursor", cursor))
        sections, page = await asyncio.gather(
            self.sections(), self._get(Upstream.ARTICLES, "/api/articles", params)
        )
        section = next((s for s in sections if s.get("slug") == slug), None)
        if section is None:
            raise PageError(404, "There is no such section.")
        if not page.ok:
            raise PageError(400 if page.status < 500 else 503, "These articles cannot be listed.")
        articles = list(page.data.get("items") or [])
        counts = await self.comment_counts([a["slug"] for a in articles])
        return {
            "sections": sections,
            "section": section,
            "articles": articles,
            "next_cursor": page.data.get("next_cursor"),
            "counts": counts,
        }

    async def article_page(
        self, slug: str, *, cursor: str | None = None, reply_to: str | None = None
    ) -> ArticlePage:
        quoted = _require_segment(slug, "article")
        params = [("sort", "oldest"), ("limit", str(self._page_size))]
        if cursor:
            params.append(("cursor", cursor))
        article_result, comments_result = await asyncio.gather(
            self._get(Upstream.ARTICLES, f"/api/articles/{quoted}"),
            self._comments(f"/api/articles/{quoted}/comments", params),
        )
        if article_result.status in (301, 302, 307, 308):
            new_slug = article_result.headers.get("location", "").rstrip("/").rsplit("/", 1)[-1]
            if is_safe_segment(new_slug):
                raise Redirect(f"/articles/{segment(new_slug)}", status=301)
        if article_result.status == 404:
            raise PageError(404, "Sorry, there is no such article.")
        if not article_result.ok or not isinstance(article_result.data, dict):
            raise PageError(503, "This article is unavailable for a moment. Please try again.")
        article = article_result.data
        comments_ok = comments_result is not None and comments_result.ok
        data = comments_result.data if comments_ok and comments_result is not None else {}
        items = list(data.get("items") or []) if isinstance(data, dict) else []
        total = int(data.get("total") or 0) if isinstance(data, dict) else 0
        open_ = bool(article.get("comments_open", True))
        if isinstance(data, dict) and isinstance(data.get("article"), dict):
            open_ = open_ and bool(data["article"].get("comments_open", True))
        reply = next((c for c in items if str(c.get("id")) == reply_to), None) if reply_to else None
        return ArticlePage(
            article=article,
            comments_available=comments_ok,
            total=total,
            heading=comments_heading(total),
            thread=nest_comments(items),
            next_cursor=data.get("next_cursor") if isinstance(data, dict) else None,
            comments_open=open_,
            reply_to=reply,
        )

    async def _comments(self, path: str, params: Sequence[tuple[str, str]]) -> ApiResult | None:
        try:
            return await self._apis.get(Upstream.COMMENTS, path, params)
        except UpstreamError as exc:
            log.warning("comments unavailable for a page", error=str(exc))
            return None

    async def post_comment(self, slug: str, form: CommentForm, client_ip: str) -> str:
        """Post the form; the reader's next page (POST-redirect-GET) is the returned URL."""
        quoted = _require_segment(slug, "article")
        try:
            result = await self._apis.call(
                Upstream.COMMENTS,
                "POST",
                f"/api/articles/{quoted}/comments",
                json=form.payload(),
                headers=[("x-forwarded-for", client_ip)],
            )
        except UpstreamError as exc:
            raise CommentRejected(
                503, "Comments cannot be posted right now. Please try again."
            ) from exc
        if result.status == 201 and isinstance(result.data, dict):
            status = str(result.data.get("status", "pending"))
            comment_id = str(result.data.get("id", ""))
            notice = "approved" if status == "approved" else "pending"
            anchor = f"#comment-{comment_id}" if status == "approved" and comment_id else "#respond"
            return f"/articles/{quoted}?{urlencode({'notice': notice})}{anchor}"
        if result.status == 404:
            raise CommentRejected(404, "Sorry, there is no such article.")
        detail, errors = _problem_message(result, "Your comment could not be posted.")
        code = result.status if 400 <= result.status < 500 else 503
        headers = {}
        if "retry-after" in result.headers:
            headers["Retry-After"] = result.headers["retry-after"]
        raise CommentRejected(code, detail, errors, headers)

    async def follow(self, slug: str, email: str, client_ip: str) -> str:
        quoted = _require_segment(slug, "article")
        try:
            result = await self._apis.call(
                Upstream.NOTIFICATIONS,
                "POST",
                f"/api/articles/{quoted}/followers",
                json={"email": email},
                headers=[("x-forwarded-for", client_ip)],
            )
        except UpstreamError as exc:
            raise PageError(503, "Following is unavailable right now. Please try again.") from exc
        if result.status in (200, 201, 202) and isinstance(result.data, dict):
            status = "subscribed" if result.data.get("status") == "subscribed" else "following"
            return f"/articles/{quoted}/follow?{urlencode({'notice': status})}"
        detail, errors = _problem_message(result, "That address cannot follow this article.")
        raise PageError(
            result.status if 400 <= result.status < 500 else 503, " ".join([detail, *errors])
        )

    async def subscription(
        self, kind: str, token: str, method: str, body: bytes = b""
    ) -> ApiResult:
        quoted = _require_segment(token, "link")
        path = f"/api/subscriptions/{kind}/{quoted}"
        try:
            if method == "GET":
                result = await self._apis.get(Upstream.NOTIFICATIONS, path)
            else:
                result = await self._apis.call(
                    Upstream.NOTIFICATIONS, "POST", path, form=body if body else None
                )
        except UpstreamError as exc:
            raise PageError(503, "This link cannot be used right now. Please try again.") from exc
        if result.status in (404, 410):
            raise PageError(404, "This link is not valid, or it has expired.")
        if not result.ok:
            detail, _ = _problem_message(result, "This link cannot be used.")
            raise PageError(result.status if 400 <= result.status < 500 else 503, detail)
        return result


class OpenApiService:
    """One OpenAPI document for every public route: the gateway's own plus the services'."""

    def __init__(
        self,
        apis: ServiceApis,
        *,
        routes: Sequence[Route] = ROUTES,
        cache_seconds: float = 60.0,
    ) -> None:
        self._apis = apis
        self._routes = routes
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, dict[str, Any]] | None = None

    async def combined(self, own: dict[str, Any]) -> dict[str, Any]:
        now = time.monotonic()
        if self._cached and now - self._cached[0] < self._cache_seconds:
            return self._cached[1]
        docs = await asyncio.gather(*(self._fetch(u) for u in Upstream))
        merged = merge_openapi(own, dict(zip(Upstream, docs, strict=True)), self._routes)
        if all(doc is not None for doc in docs):
            self._cached = (now, merged)
        return merged

    async def _fetch(self, upstream: Upstream) -> dict[str, Any] | None:
        try:
            result = await self._apis.get(upstream, "/openapi.json")
        except UpstreamError:
            return None
        return result.data if result.ok and isinstance(result.data, dict) else None


def _walk_refs(node: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                name = value.rsplit("/", 1)[-1]
                out[key] = f"#/components/schemas/{renames.get(name, name)}"
            else:
                out[key] = _walk_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_walk_refs(item, renames) for item in node]
    return node


def _template_to_concrete(template: str) -> str:
    # "/api/articles/{slug}/comments" -> "/api/articles/x/comments": enough to match the table.
    parts = ["x" if p.startswith("{") and p.endswith("}") else p for p in template.split("/")]
    return "/".join(parts)


def merge_openapi(
    own: dict[str, Any],
    upstream_docs: Mapping[Upstream, dict[str, Any] | None],
    routes: Sequence[Route] = ROUTES,
) -> dict[str, Any]:
    """Keep from each service only the paths the routing table sends to it; rename clashing
    schema names with the service's name so that every $ref stays right."""
    merged = copy.deepcopy(own)
    paths: dict[str, Any] = merged.setdefault("paths", {})
    schemas: dict[str, Any] = merged.setdefault("components", {}).setdefault("schemas", {})
    missing = []
    for upstream, doc in upstream_docs.items():
        if doc is None:
            missing.append(upstream.value)
            continue
        their = (doc.get("components") or {}).get("schemas") or {}
        renames = {
            name: f"{upstream.value}_{name}"
            for name, schema in their.items()
            if name in schemas and schemas[name] != _walk_refs(schema, {})
        }
        doc = _walk_refs(doc, renames)
        for name, schema in ((doc.get("components") or {}).get("schemas") or {}).items():
            schemas.setdefault(renames.get(name, name), schema)
        for template, item in (doc.get("paths") or {}).items():
            route = resolve_route(_template_to_concrete(template), routes)
            if route is not None and route.upstream == upstream:
                tagged = {}
                for method, operation in item.items():
                    if isinstance(operation, dict):
                        operation = {
                            **operation,
                            "tags": [upstream.value, *operation.get("tags", [])],
                        }
                    tagged[method] = operation
                paths.setdefault(template, tagged)
    if missing:
        merged.setdefault("info", {})["x-unavailable-services"] = missing
    return merged


class LiveHub:
    """Open article pages, by slug, each with a bounded queue of new comments to push."""

    def __init__(self, queue_size: int = 100) -> None:
        self._queue_size = queue_size
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    def listeners(self, slug: str) -> int:
        return len(self._listeners.get(slug, ()))

    @contextlib.contextmanager
    def listen(self, slug: str) -> Iterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        self._listeners[slug].add(queue)
        try:
            yield queue
        finally:
            self._listeners[slug].discard(queue)
            if not self._listeners[slug]:
                del self._listeners[slug]

    def publish(self, slug: str, message: dict[str, Any]) -> int:
        delivered = 0
        for queue in list(self._listeners.get(slug, ())):
            try:
                queue.put_nowait(message)
                delivered += 1
            except asyncio.QueueFull:
                # A reader that stopped reading loses live updates, never the whole gateway.
                log.info("live listener too slow, dropping an update", slug=slug)
        return delivered


async def live_stream(
    hub: LiveHub, slug: str, heartbeat: float
) -> AsyncIterator[dict[str, Any] | None]:
    """New comments for one article; None now and then so the connection shows it is alive."""
    with hub.listen(slug) as queue:
        while True:
            try:
                yield await asyncio.wait_for(queue.get(), heartbeat)
            except TimeoutError:
                yield None
