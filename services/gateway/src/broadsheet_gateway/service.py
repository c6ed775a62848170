"""The reader site's use cases: assemble a page from the services' public APIs, and pass a
reader's form on to the service that owns it. They hold no rule of the services; they ask and
present. (The gateway's other jobs have modules of their own: ``proxy.py`` forwards the API,
``openapi.py`` merges its documents, ``live.py`` fans out new comments.)

A page that cannot be shown raises :class:`PageError` (``api.py`` renders it as an HTML error
page); a form the service refused raises :class:`CommentRejected` (the form is shown again).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

import structlog

from broadsheet_gateway.routing import Upstream, is_safe_segment, segment
from broadsheet_gateway.texts import comments_heading
from broadsheet_gateway.thread import CommentNode, nest_comments
from broadsheet_gateway.upstreams import ApiResult, ServiceApis, UpstreamError
from broadsheet_shared.identifiers import OBJECT_ID_PATTERN, SIGNED_LINK_PATTERN

log = structlog.get_logger(__name__)

_COMMENT_ID = re.compile(OBJECT_ID_PATTERN)

# Every page shows the section navigation: kept this long rather than asked for on each view
# (a renamed section shows in the navigation at most this late).
NAV_SECTIONS_SECONDS = 10.0


class PageError(Exception):
    """A reader page that cannot be shown: rendered as an HTML error page with this status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Redirect(Exception):
    """The page lives at another address (an article's old slug)."""

    def __init__(self, location: str, status: int) -> None:
        super().__init__(location)
        self.location = location
        self.status = status


# The orders a reader may pick for a thread (the comments service's ``sort``).
ThreadSort = Literal["oldest", "newest", "best"]


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
    sort: ThreadSort = "oldest"


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


@dataclass(frozen=True)
class Posted:
    """A comment the service took: where the reader goes next, and its edit token."""

    location: str
    comment_id: str
    edit_token: str | None
    edit_token_expires_at: datetime | None


@dataclass
class Voted:
    """A comment's votes after the reader's vote; ``counted`` False: they had voted already."""

    votes: int
    counted: bool


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


def _require_link(token: str) -> str:
    """A subscription link's token, quoted for the path. One we could not have signed is refused
    like one we did not sign (400, docs/api.md), not with the service's 422 for a path that does
    not match its pattern."""
    if not re.fullmatch(SIGNED_LINK_PATTERN, token):
        raise PageError(400, "This link is not valid, or it has expired.")
    return segment(token)


def _refusal_status(result: ApiResult) -> int:
    """A service's own 4xx passes on to the reader; anything else is an outage to them (503)."""
    return result.status if 400 <= result.status < 500 else 503


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
        self._nav: tuple[float, list[dict[str, Any]]] | None = None

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

    async def nav_sections(self) -> list[dict[str, Any]]:
        """The sections for a page's navigation: decoration, so an outage shows none."""
        now = time.monotonic()
        if self._nav is not None and now - self._nav[0] < NAV_SECTIONS_SECONDS:
            return self._nav[1]
        try:
            sections = await self.sections()
        except PageError:
            return []
        self._nav = (now, sections)
        return sections

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

    async def tag_page(self, tag: str, cursor: str | None) -> dict[str, Any]:
        params = [("tag", tag), ("limit", "20")]
        if cursor:
            params.append(("cursor", cursor))
        sections, page = await asyncio.gather(
            self.sections(), self._get(Upstream.ARTICLES, "/api/articles", params)
        )
        if not page.ok:
            raise PageError(400 if page.status < 500 else 503, "These articles cannot be listed.")
        articles = list(page.data.get("items") or [])
        if not articles and not cursor:
            raise PageError(404, "No article has this tag.")
        counts = await self.comment_counts([a["slug"] for a in articles])
        return {
            "sections": sections,
            "tag": tag,
            "articles": articles,
            "next_cursor": page.data.get("next_cursor"),
            "counts": counts,
        }

    async def author_page(self, slug: str, cursor: str | None) -> dict[str, Any]:
        _require_segment(slug, "author")
        params = [("author", slug), ("limit", "20")]
        if cursor:
            params.append(("cursor", cursor))
        sections, page = await asyncio.gather(
            self.sections(), self._get(Upstream.ARTICLES, "/api/articles", params)
        )
        if not page.ok:
            raise PageError(404 if page.status < 500 else 503, "There is no such author.")
        articles = list(page.data.get("items") or [])
        # The author's name as the articles spell it (the slug is the articles service's).
        name = next(
            (
                name
                for article in articles
                for name, name_slug in zip(
                    article.get("authors") or [], article.get("author_slugs") or [], strict=False
                )
                if name_slug == slug
            ),
            None,
        )
        if name is None:
            raise PageError(404, "There is no such author.")
        counts = await self.comment_counts([a["slug"] for a in articles])
        return {
            "sections": sections,
            "author": {"name": name, "slug": slug},
            "articles": articles,
            "next_cursor": page.data.get("next_cursor"),
            "counts": counts,
        }

    async def old_link(self, path: str) -> str | None:
        """Where a URL of an imported site (WordPress) lives now, or None. The articles service
        keeps the mapping (it imported the posts); the gateway only asks."""
        result = await self._get(Upstream.ARTICLES, "/api/redirects", [("path", path)])
        location = (
            result.data.get("location") if result.ok and isinstance(result.data, dict) else None
        )
        # Only the reader site's own paths: never an open redirect, whatever the answer.
        if isinstance(location, str) and location.startswith("/") and not location.startswith("//"):
            return location
        return None

    async def article_page(
        self,
        slug: str,
        *,
        cursor: str | None = None,
        reply_to: str | None = None,
        sort: ThreadSort = "oldest",
    ) -> ArticlePage:
        quoted = _require_segment(slug, "article")
        params = [("sort", sort), ("limit", str(self._page_size))]
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
        if reply_to and reply is None and comments_ok:
            # The parent may be on any page of the thread: ask for it by id (an outage leaves
            # an ordinary comment form, as for the rest of the thread).
            with contextlib.suppress(PageError):
                reply = await self.comment(quoted, reply_to)
        return ArticlePage(
            article=article,
            comments_available=comments_ok,
            total=total,
            heading=comments_heading(total),
            thread=nest_comments(items),
            next_cursor=data.get("next_cursor") if isinstance(data, dict) else None,
            comments_open=open_,
            reply_to=reply,
            sort=sort,
        )

    async def _comments(self, path: str, params: Sequence[tuple[str, str]]) -> ApiResult | None:
        try:
            return await self._apis.get(Upstream.COMMENTS, path, params)
        except UpstreamError as exc:
            log.warning("comments unavailable for a page", error=str(exc))
            return None

    async def _post_as_reader(
        self, upstream: Upstream, path: str, payload: dict[str, Any], client_ip: str
    ) -> ApiResult:
        # The service limits and records posts by the reader's address, not the gateway's.
        return await self._apis.call(
            upstream, "POST", path, json=payload, headers=[("x-forwarded-for", client_ip)]
        )

    async def comment(self, quoted_slug: str, comment_id: str) -> dict[str, Any] | None:
        """A public comment by id, wherever it is in the thread, with ``cpage``: the cursor of
        a page that holds it, under its parent where the page has room (None: page one). None
        when there is no such comment."""
        if not _COMMENT_ID.match(comment_id):
            return None
        result = await self._get(
            Upstream.COMMENTS,
            f"/api/articles/{quoted_slug}/comments/{comment_id}",
            [("limit", str(self._page_size))],
        )
        if result.status == 404:
            return None
        if not result.ok or not isinstance(result.data, dict):
            raise PageError(503, "This page is unavailable for a moment. Please try again.")
        return result.data

    async def comment_url(
        self, quoted_slug: str, comment_id: str | None, notice: str, anchor: str
    ) -> str:
        """The page that holds the comment (page one if there is none), with the notice."""
        located = None
        # The change is made: a lookup that fails costs the reader the page, not the notice.
        with contextlib.suppress(PageError):
            located = await self.comment(quoted_slug, comment_id) if comment_id else None
        query = {"cpage": located["cpage"]} if located and located.get("cpage") else {}
        query["notice"] = notice
        return f"/articles/{quoted_slug}?{urlencode(query)}{anchor}"

    async def post_comment(self, slug: str, form: CommentForm, client_ip: str) -> Posted:
        """Post the form; the reader's next page (POST-redirect-GET) is the page that holds the
        comment, at its anchor; one held for moderation is not shown, so the reader goes back
        to the page that holds its parent (or page one), where the notice says so."""
        quoted = _require_segment(slug, "article")
        try:
            result = await self._post_as_reader(
                Upstream.COMMENTS, f"/api/articles/{quoted}/comments", form.payload(), client_ip
            )
        except UpstreamError as exc:
            raise CommentRejected(
                503, "Comments cannot be posted right now. Please try again."
            ) from exc
        if result.status == 201 and isinstance(result.data, dict):
            data = result.data
            comment_id = str(data.get("id", ""))
            expires = data.get("edit_token_expires_at")
            if data.get("status") == "approved":
                location = await self.comment_url(
                    quoted, comment_id, "approved", f"#comment-{comment_id}"
                )
            else:
                location = await self.comment_url(quoted, form.parent_id, "pending", "#respond")
            return Posted(
                location=location,
                comment_id=comment_id,
                edit_token=data.get("edit_token"),
                edit_token_expires_at=datetime.fromisoformat(expires) if expires else None,
            )
        if result.status == 404:
            raise CommentRejected(404, "Sorry, there is no such article.")
        detail, errors = _problem_message(result, "Your comment could not be posted.")
        code = _refusal_status(result)
        headers = {}
        if "retry-after" in result.headers:
            headers["Retry-After"] = result.headers["retry-after"]
        raise CommentRejected(code, detail, errors, headers)

    async def change_own_comment(
        self, slug: str, comment_id: str, token: str, body: str | None
    ) -> str:
        """Edit (``body``) or delete (None) the reader's own comment with its edit token; the
        comments service decides. Returns the reader's next page."""
        quoted = _require_segment(slug, "article")
        comment_id = _require_segment(comment_id, "comment")
        path = f"/api/articles/{quoted}/comments/{comment_id}"
        headers = [("x-edit-token", token)]
        try:
            if body is None:
                result = await self._apis.call(Upstream.COMMENTS, "DELETE", path, headers=headers)
            else:
                result = await self._apis.call(
                    Upstream.COMMENTS, "PATCH", path, json={"body": body}, headers=headers
                )
        except UpstreamError as exc:
            raise CommentRejected(
                503, "Your comment cannot be changed right now. Please try again."
            ) from exc
        if result.ok and body is None:
            return f"/articles/{quoted}?{urlencode({'notice': 'deleted'})}#comments"
        if result.ok:
            # An edit with links or suspect words goes back to moderation: not on any page.
            located = await self.comment(quoted, comment_id)
            if located is None:
                return await self.comment_url(quoted, None, "edit-pending", "#comments")
            return await self.comment_url(quoted, comment_id, "edited", f"#comment-{comment_id}")
        if result.status == 403:
            raise CommentRejected(
                403,
                "This comment can be changed only from the browser that posted it, for a "
                "short while after posting.",
            )
        if result.status in (404, 409):
            raise CommentRejected(result.status, "This comment can no longer be changed.")
        detail, errors = _problem_message(result, "Your comment could not be changed.")
        raise CommentRejected(_refusal_status(result), detail, errors)

    async def vote(self, slug: str, comment_id: str, voter: str, client_ip: str) -> Voted:
        """The reader's vote for a comment (the comments service counts one per reader)."""
        quoted = _require_segment(slug, "article")
        path = f"/api/articles/{quoted}/comments/{_require_segment(comment_id, 'comment')}/votes"
        try:
            result = await self._post_as_reader(
                Upstream.COMMENTS, path, {"voter": voter}, client_ip
            )
        except UpstreamError as exc:
            raise CommentRejected(
                503, "Votes cannot be counted right now. Please try again."
            ) from exc
        if result.status == 200 and isinstance(result.data, dict):
            return Voted(int(result.data.get("votes") or 0), bool(result.data.get("counted")))
        if result.status == 404:
            raise CommentRejected(404, "There is no such comment on this article.")
        if result.status == 409:
            raise CommentRejected(409, "Comments are closed on this article.")
        detail, errors = _problem_message(result, "Your vote could not be counted.")
        raise CommentRejected(_refusal_status(result), detail, errors)

    async def follow(self, slug: str, email: str, client_ip: str) -> str:
        quoted = _require_segment(slug, "article")
        try:
            result = await self._post_as_reader(
                Upstream.NOTIFICATIONS,
                f"/api/articles/{quoted}/followers",
                {"email": email},
                client_ip,
            )
        except UpstreamError as exc:
            raise PageError(503, "Following is unavailable right now. Please try again.") from exc
        if result.status in (200, 201, 202):
            return f"/articles/{quoted}/follow?{urlencode({'notice': 'following'})}"
        detail, errors = _problem_message(result, "That address cannot follow this article.")
        raise PageError(_refusal_status(result), " ".join([detail, *errors]))

    async def request_manage_link(self, email: str, client_ip: str) -> str:
        """Ask for a manage link by email; the reader's next page is the returned URL, the same
        whatever the address (the service answers every address alike)."""
        try:
            result = await self._post_as_reader(
                Upstream.NOTIFICATIONS, "/api/subscriptions/manage", {"email": email}, client_ip
            )
        except UpstreamError as exc:
            raise PageError(503, "This is unavailable right now. Please try again.") from exc
        if result.status in (200, 202):
            return f"/subscriptions/manage?{urlencode({'notice': 'manage_link_sent'})}"
        detail, errors = _problem_message(result, "We cannot email a link to that address.")
        raise PageError(_refusal_status(result), " ".join([detail, *errors]))

    async def manage_subscriptions(
        self, token: str, *, unsubscribe: bool = False, subscription_id: str | None = None
    ) -> ApiResult:
        """The manage page's data (GET), or unsubscribe from one subscription or, without
        ``subscription_id``, from all of them (POST)."""
        path = f"/api/subscriptions/manage/{_require_link(token)}"
        if subscription_id is not None:
            path += f"/subscriptions/{_require_segment(subscription_id, 'subscription')}"
        try:
            if unsubscribe:
                result = await self._apis.call(
                    Upstream.NOTIFICATIONS, "POST", f"{path}/unsubscribe"
                )
            else:
                result = await self._apis.get(Upstream.NOTIFICATIONS, path)
        except UpstreamError as exc:
            raise PageError(503, "This link cannot be used right now. Please try again.") from exc
        if result.status in (404, 410):
            raise PageError(404, "This link is not valid, or it has expired.")
        if not result.ok:
            detail, _ = _problem_message(result, "This link cannot be used.")
            raise PageError(_refusal_status(result), detail)
        return result

    async def request_data_link(self, email: str, client_ip: str) -> str:
        """Ask for a my-data link by email; the next page is the same whatever the address."""
        try:
            result = await self._post_as_reader(
                Upstream.NOTIFICATIONS, "/api/my-data", {"email": email}, client_ip
            )
        except UpstreamError as exc:
            raise PageError(503, "This is unavailable right now. Please try again.") from exc
        if result.status in (200, 202):
            return f"/my-data?{urlencode({'notice': 'data_link_sent'})}"
        detail, errors = _problem_message(result, "We cannot email a link to that address.")
        raise PageError(_refusal_status(result), " ".join([detail, *errors]))

    async def _data_link(self, token: str, *, erase: bool = False) -> ApiResult:
        path = f"/api/my-data/{_require_segment(token, 'link')}"
        try:
            if erase:
                result = await self._apis.call(Upstream.NOTIFICATIONS, "POST", f"{path}/erase")
            else:
                result = await self._apis.get(Upstream.NOTIFICATIONS, path)
        except UpstreamError as exc:
            raise PageError(503, "This link cannot be used right now. Please try again.") from exc
        if result.status in (404, 410):
            raise PageError(404, "This link is not valid, or it has expired.")
        if not result.ok or (not erase and not isinstance(result.data, dict)):
            detail, _ = _problem_message(result, "This link cannot be used.")
            raise PageError(_refusal_status(result), detail)
        return result

    async def check_data_link(self, token: str) -> None:
        """Refuse (404) a my-data link that is forged or expired before showing its page."""
        await self._data_link(token)

    async def my_data(self, token: str) -> dict[str, Any]:
        """Everything held about the link's address, gathered from each service: notifications
        checks the link and answers its own part with a grant, which the comments service
        honours for that address's comments."""
        export = dict((await self._data_link(token)).data)
        grant = str(export.pop("grant"))
        try:
            comments = await self._apis.call(
                Upstream.COMMENTS, "GET", "/api/my-data/comments", headers=[("x-data-grant", grant)]
            )
        except UpstreamError as exc:
            raise PageError(
                503, "Your data cannot be gathered right now. Please try again."
            ) from exc
        if not comments.ok or not isinstance(comments.data, dict):
            raise PageError(503, "Your data cannot be gathered right now. Please try again.")
        return {"comments": comments.data.get("comments", []), **export}

    async def erase_my_data(self, token: str) -> None:
        await self._data_link(token, erase=True)

    async def subscription(
        self, kind: str, token: str, method: str, body: bytes = b"", request_id: str | None = None
    ) -> ApiResult:
        quoted = _require_link(token)
        path = f"/api/subscriptions/{kind}/{quoted}"
        if request_id is not None:
            path += f"/requests/{_require_segment(request_id, 'request')}"
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
            raise PageError(_refusal_status(result), detail)
        return result
