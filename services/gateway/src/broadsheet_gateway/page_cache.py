"""Rendered article pages, kept until an event says they changed, and served before the
FastAPI stack.

Rendering the article page with 200 comments, behind FastAPI's routing, costs a few
milliseconds; a kept page is a dictionary lookup. What a page shows comes from events the
gateway already reads (``consumers.py``): a comment approved, edited, rejected, deleted or
imported, an article updated, unpublished or deleted drops that article's pages at once, on
every replica (each reads every event, with no consumer group). So the cache is used only while
that feed is connected: when it is off or interrupted nothing would tell a page it changed, and
every page is rendered afresh.

What is shared is kept: the page as an anonymous reader sees it, per (slug, order, thread page).
What is personal is composed per request: the reader's own comments get their Edit and Delete
links by swapping in those comments' own markup. A reply form (``?replytocom=``), a notice and
a form with errors are rendered every time and never kept. Votes have no event, and the
navigation's sections are themselves kept ``NAV_SECTIONS_SECONDS``: a page is also rendered
again after ``max_age`` seconds, so a vote cast through another replica shows at most that late.

A page is rendered by one request at a time: readers who ask for it meanwhile get it as kept
(past ``max_age``) or wait for the new one (after an event).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from asgi_correlation_id import correlation_id
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from broadsheet_gateway import edit_cookies
from broadsheet_gateway.compression import accepted_encoding, encode
from broadsheet_gateway.edge import SITE_SECURITY_HEADERS
from broadsheet_gateway.headers import request_id_for
from broadsheet_gateway.render import CommentRenderer, page_query
from broadsheet_gateway.thread import CommentNode
from broadsheet_shared.http.metrics import REQUEST_SECONDS, method_label

# (slug, order, thread page cursor or None): what a kept page varies by.
PageKey = tuple[str, str, str | None]
_ARTICLE_PATH = re.compile(r"^/articles/([^/]+)$")
_KEYED_PARAMS = frozenset({"sort", "cpage"})
_LEAF_END = len("</li>")
ROUTE_LABEL = "/articles/{slug}"


def etag_of(body: bytes) -> str:
    # Weak: the same page, whatever encoding the compression gives it.
    return f'W/"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tokens = {token.strip().removeprefix("W/") for token in if_none_match.split(",")}
    return "*" in tokens or etag.removeprefix("W/") in tokens


def page_key(slug: str, sort: str, cursor: str | None) -> PageKey:
    return (slug, sort, cursor or None)


def _comments_by_id(nodes: Sequence[CommentNode], into: dict[str, Mapping[str, Any]]) -> None:
    for node in nodes:
        into[node.id] = node.comment
        _comments_by_id(node.children, into)


@dataclass
class SharedPage:
    """An article page as every anonymous reader sees it, and what composing a reader's own
    version of it needs."""

    body: bytes
    slug: str
    can_reply: bool
    back: str
    comments: dict[str, Mapping[str, Any]]
    made_at: float = 0.0
    etag: str = ""
    encoded: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.etag = etag_of(self.body)

    @classmethod
    def of(
        cls,
        body: bytes,
        *,
        slug: str,
        can_reply: bool,
        sort: str,
        cursor: str | None,
        thread: Sequence[CommentNode],
    ) -> SharedPage:
        comments: dict[str, Mapping[str, Any]] = {}
        _comments_by_id(thread, comments)
        return cls(body, slug, can_reply, page_query(sort, cursor), comments)

    def encoded_as(self, encoding: str) -> bytes:
        try:
            return self.encoded[encoding]
        except KeyError:
            data = self.encoded[encoding] = encode(self.body, encoding)
            return data


class PageCache:
    """Shared article pages by ``PageKey``, the least recently used dropped beyond
    ``max_entries``; ``open`` while the event feed is connected, else nothing is kept."""

    def __init__(
        self,
        comments: CommentRenderer,
        *,
        max_entries: int,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._comments = comments
        self._max_entries = max_entries
        self._max_age = max_age
        self._clock = clock
        self._pages: OrderedDict[PageKey, SharedPage] = OrderedDict()
        self._keys_by_slug: dict[str, set[PageKey]] = {}
        # A page rendered from answers asked for before an event about its article (or before
        # the cache was cleared) is not kept: it may predate the change the event announces.
        self._epoch = 0
        self._changes = 0
        self._changed_at: dict[str, int] = {}
        # Set when the page being rendered at a key is kept, or its render ends without it.
        self._renders: dict[PageKey, asyncio.Event] = {}
        self.active = False

    def __len__(self) -> int:
        return len(self._pages)

    def generation(self, slug: str) -> tuple[int, int]:
        """Taken before asking the services for a page; ``put`` keeps the page only if no event
        about ``slug`` (nor a reconnection) came in between."""
        return (self._epoch, self._changed_at.get(slug, 0))

    def get(self, key: PageKey) -> SharedPage | None:
        """The page kept at ``key``, unless older than ``max_age``: such a page stays (see
        ``stale``) until a new render replaces it or an event drops it."""
        page = self._pages.get(key)
        if page is None or self._clock() - page.made_at > self._max_age:
            return None
        self._pages.move_to_end(key)
        return page

    def stale(self, key: PageKey) -> SharedPage | None:
        """The page kept at ``key`` even past ``max_age``, which only votes (they have no event)
        can have made stale: what readers get while it is rendered again."""
        return self._pages.get(key)

    def put(self, key: PageKey, page: SharedPage, generation: tuple[int, int]) -> None:
        try:
            if not self.active or not self._max_entries or generation != self.generation(key[0]):
                return
            page.made_at = self._clock()
            if key in self._pages:
                self._drop(key)
            while len(self._pages) >= self._max_entries:
                self._drop(next(iter(self._pages)))
            self._pages[key] = page
            self._keys_by_slug.setdefault(key[0], set()).add(key)
        finally:
            # Readers waiting for this render go on now, kept or not: not once its answer has
            # been sent, which a reader slow to read it could hold back.
            rendered = self._renders.pop(key, None)
            if rendered is not None:
                rendered.set()

    @contextmanager
    def rendering(self, key: PageKey) -> Iterator[None]:
        """While a request renders the page at ``key``: others that ask for it wait for it
        (``render_of``) rather than render it too."""
        rendered = self._renders[key] = asyncio.Event()
        try:
            yield
        finally:
            # Unless put() already let them go, and another request has started a render since.
            if self._renders.get(key) is rendered:
                del self._renders[key]
            rendered.set()

    def render_of(self, key: PageKey) -> asyncio.Event | None:
        """Set once the page being rendered at ``key`` is kept or its render has ended; None
        when no request is rendering it."""
        return self._renders.get(key)

    def invalidate(self, slugs: Iterable[str | None]) -> None:
        """An event changed these articles' pages (None: an event too old to name its article,
        so every page goes)."""
        for slug in slugs:
            if slug is None:
                self.clear()
                continue
            self._changes += 1
            self._changed_at[slug] = self._changes
            for key in self._keys_by_slug.pop(slug, ()):
                self._pages.pop(key, None)

    def clear(self) -> None:
        self._epoch += 1
        self._changed_at.clear()
        self._pages.clear()
        self._keys_by_slug.clear()

    def open(self) -> None:
        """The event feed is connected (again): what was kept before may have missed events."""
        self.clear()
        self.active = True

    def close(self) -> None:
        self.active = False
        self.clear()

    def personal(self, page: SharedPage, own: Collection[str]) -> bytes:
        """The page for a reader whose own comments (``own``) it shows with Edit and Delete."""
        mine = [cid for cid in own if cid in page.comments]
        if not mine:
            return page.body
        body = page.body.decode()
        for cid in mine:
            comment = page.comments[cid]
            shared = self._comments.item(comment, page.slug, page.can_reply, False, page.back)
            editable = self._comments.item(comment, page.slug, page.can_reply, True, page.back)
            # A comment with replies is rendered as its leaf without the closing </li>, so
            # the leaf's opening part is what the page holds either way.
            body = body.replace(shared[:-_LEAF_END], editable[:-_LEAF_END], 1)
        return body.encode()

    def _drop(self, key: PageKey) -> None:
        self._pages.pop(key, None)
        keys = self._keys_by_slug.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._keys_by_slug[key[0]]


def _lookup_key(path: str, query: bytes) -> PageKey | None:
    """The kept page a GET of this address would be, if its query holds nothing else."""
    matched = _ARTICLE_PATH.match(path)
    if matched is None:
        return None
    params: dict[str, str] = {}
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name not in _KEYED_PARAMS or name in params or not value:
            return None
        params[name] = value
    return page_key(matched.group(1), params.get("sort", "oldest"), params.get("cpage"))


class CachedPages:
    """Outermost middleware: an article page that is kept is answered here (with its ETag and
    304, compression, the reader's own comments composed in); everything else goes to ``app``."""

    def __init__(self, app: ASGIApp, cache: PageCache, service: str) -> None:
        self.app = app
        self.cache = cache
        self._metrics = {
            method: REQUEST_SECONDS.labels(service, method_label(method), ROUTE_LABEL, "200")
            for method in ("GET", "HEAD")
        }
        self._not_modified = REQUEST_SECONDS.labels(service, "GET", ROUTE_LABEL, "304")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = None
        if self.cache.active and scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            key = _lookup_key(scope["path"], scope["query_string"])
        if key is None:
            await self.app(scope, receive, send)
            return
        page = self.cache.get(key)
        if page is None:
            # One reader's request renders a page that is not kept (or no longer: an event,
            # max_age); the others get the page as kept past max_age, or wait for the new one
            # after an event, instead of each asking the services for the same page (on a read
            # article, that stampede held every reader for seconds).
            rendered = self.cache.render_of(key)
            if rendered is None:
                with self.cache.rendering(key):
                    await self.app(scope, receive, send)
                return
            page = self.cache.stale(key)
            if page is None:  # dropped by an event: only the new render will do
                await rendered.wait()
                page = self.cache.get(key)
            if page is None:  # not kept after all: a failure, an event meanwhile
                await self.app(scope, receive, send)
                return
        started = time.perf_counter()
        cookie = if_none_match = request_id = None
        accepted = b""
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookie = value.decode("latin-1")
            elif name == b"if-none-match":
                if_none_match = value.decode("latin-1")
            elif name == b"accept-encoding":
                accepted = value.lower()
            elif name == b"x-request-id":
                request_id = value.decode("latin-1")
        body, etag = page.body, page.etag
        if cookie is not None:
            own = edit_cookies.own_comments(cookie_parser(cookie))
            if own:
                body = self.cache.personal(page, own)
                if body is not page.body:
                    etag = etag_of(body)
        request_id = request_id_for(request_id)
        correlation_id.set(request_id)
        headers = [
            (b"cache-control", b"no-cache"),
            (b"etag", etag.encode()),
            (b"vary", b"Accept-Encoding"),
            (b"x-request-id", request_id.encode()),
            *SITE_SECURITY_HEADERS,
        ]
        if etag_matches(if_none_match, etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            self._not_modified.observe(time.perf_counter() - started)
            return
        encoding = accepted_encoding(accepted, len(body))
        if encoding is not None:
            body = page.encoded_as(encoding) if body is page.body else encode(body, encoding)
            headers.append((b"content-encoding", encoding.encode()))
        headers.append((b"content-type", b"text/html; charset=utf-8"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
        self._metrics[scope["method"]].observe(time.perf_counter() - started)
