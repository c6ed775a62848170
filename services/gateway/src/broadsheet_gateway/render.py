"""The reader site's HTML: the Jinja environment with its filters, and comment threads rendered
once per comment, not once per page view.

The article page used to walk the thread with a recursive Jinja macro (a ``{% call %}`` per
comment), running nh3 and the date filter for every comment on every view: 200 comments cost
~20 ms a page. Here each comment is rendered by the same ``comment_item`` macro (so the markup
is the one the live updates use) and kept by content: the key holds every field the macro
reads, so an edited or newly approved comment renders afresh. Nesting is plain string work.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import nh3
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from broadsheet_gateway.assets import StaticAssets
from broadsheet_gateway.avatars import identicon
from broadsheet_gateway.seo import PageMeta
from broadsheet_gateway.service import ArticlePage, CommentForm
from broadsheet_gateway.texts import comments_heading, notice_for
from broadsheet_gateway.thread import CommentNode
from broadsheet_shared.http.html import without_forbidden_code_points

TEMPLATES = Path(__file__).parent / "templates"
_LEAF_END = "</li>"


class BoundedCache:
    """A dict that forgets everything when full: simple, and fine for a warm working set."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._data: dict[Hashable, Any] = {}

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        try:
            return self._data[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value in the key: no caching
            return make()
        value = make()
        if len(self._data) >= self._max:
            self._data.clear()
        self._data[key] = value
        return value


def _nicedate(value: Any, with_time: bool = False) -> str:
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    day = f"{moment.strftime('%B')} {moment.day}, {moment.year}"
    return f"{day} at {moment.strftime('%H:%M')}" if with_time else day


def _isotime(value: Any) -> str:
    """A ``datetime`` attribute: HTML allows at most three digits of a second's fraction (the
    services answer six)."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return ""
    return moment.isoformat(timespec="milliseconds")


_CLEANED = BoundedCache(2_000)


def clean(value: Any) -> Markup:
    # The services sanitise what they store; cleaning again here means a bug there cannot
    # become script on the reader site. Same input, same output: kept by content.
    text = str(value or "")
    cleaned: str = _CLEANED.get_or_make(
        text, lambda: nh3.clean(text, link_rel="nofollow ugc noopener")
    )
    return Markup(cleaned)  # noqa: S704


def build_templates(assets: StaticAssets | None = None) -> Environment:
    """The reader site's templates; pages link static files by ``static_url`` (fingerprinted)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        finalize=without_forbidden_code_points,
    )
    env.filters["nicedate"] = _nicedate
    env.filters["isotime"] = _isotime
    env.filters["clean"] = clean
    env.filters["identicon"] = identicon
    env.globals["static_url"] = (assets or StaticAssets()).url
    return env


class CommentRenderer:
    def __init__(self, templates: Environment, max_entries: int = 20_000) -> None:
        self._macro = templates.get_template("_macros.html").module.comment_item  # type: ignore[attr-defined]
        self._cache = BoundedCache(max_entries)

    def item(
        self, comment: Any, slug: str, can_reply: bool, editable: bool = False, back: str = ""
    ) -> str:
        """One comment as a leaf ``<li>``, as ``comment_item`` renders it (``editable``: with
        the Edit and Delete links of the reader who posted it; ``back``: the query of the page
        it is on, where its vote form brings the reader back)."""
        if isinstance(comment, dict):
            get = comment.get
            # Every field comment_item reads (keep the two in step).
            key = (
                slug,
                can_reply,
                editable,
                get("id"),
                get("depth"),
                get("author_name"),
                get("in_reply_to"),
                get("created_at"),
                get("edited"),
                get("body_html"),
                get("wordpress_id"),
                get("avatar"),
                get("votes"),
                back,
            )
            return str(
                self._cache.get_or_make(
                    key, lambda: str(self._macro(comment, slug, can_reply, editable, back))
                )
            )
        return str(self._macro(comment, slug, can_reply, editable, back))

    def thread(
        self,
        nodes: Sequence[CommentNode],
        slug: str,
        can_reply: bool,
        back: str = "",
    ) -> Markup:
        """The thread's HTML as every reader sees it (a reader's own comments are composed in
        by ``page_cache.PageCache.personal``); ``back``: the page's query (its order and
        cursor), kept by the vote forms."""
        parts: list[str] = []
        self._append(parts, nodes, slug, can_reply, back)
        return Markup("".join(parts))  # noqa: S704 - every piece is the autoescaped macro's output

    def _append(
        self,
        parts: list[str],
        nodes: Sequence[CommentNode],
        slug: str,
        can_reply: bool,
        back: str,
    ) -> None:
        for node in nodes:
            leaf = self.item(node.comment, slug, can_reply, False, back)
            if not node.children:
                parts.append(leaf)
                continue
            # The macro's caller (the replies) goes just before the closing </li>.
            parts.append(leaf[: -len(_LEAF_END)])
            parts.append('<ol class="children">')
            self._append(parts, node.children, slug, can_reply, back)
            parts.append("</ol>" + _LEAF_END)


def page_query(sort: str, cursor: str | None, **extra: str) -> str:
    """The query of a thread page (its order, unless the default, and its cursor) with
    ``extra`` parameters, or ""."""
    query = {"sort": sort} if sort != "oldest" else {}
    if cursor:
        query["cpage"] = cursor
    query.update(extra)
    return f"?{urlencode(query)}" if query else ""


def article_page_html(
    templates: Environment,
    comments: CommentRenderer,
    page: ArticlePage,
    *,
    cursor: str | None = None,
    notice: str | None = None,
    form: CommentForm | None = None,
    error: str | None = None,
    errors: list[str] | None = None,
    sections: Sequence[Mapping[str, Any]] = (),
    meta: PageMeta,
) -> str:
    """The reader site's article page: the one renderer of ``article.html``, for readers and for
    the Newsroom's Preview alike, as every reader sees it."""
    return templates.get_template("article.html").render(
        article=page.article,
        page=page,
        thread_html=comments.thread(
            page.thread,
            str(page.article.get("slug", "")),
            page.comments_open,
            back=page_query(page.sort, cursor),
        ),
        cursor=cursor,
        notice=notice_for(notice),
        form=form or CommentForm(),
        error=error,
        errors=errors or [],
        sections=sections,
        current_section=(page.article.get("section") or {}).get("slug"),
        meta=meta,
    )


def preview_html(
    templates: Environment, comments: CommentRenderer, article: Mapping[str, Any]
) -> str:
    """An article not yet saved (or published) as readers will see it: no comments yet."""
    page = ArticlePage(
        article=dict(article),
        comments_available=True,
        total=0,
        heading=comments_heading(0),
        thread=[],
        next_cursor=None,
        comments_open=bool(article.get("comments_open", True)),
    )
    # A preview is for its editor only: no canonical address, not for search engines.
    meta = PageMeta(
        title=f"Preview: {article.get('title', '')} · Broadsheet",
        description=str(article.get("summary") or ""),
        canonical=None,
    )
    return article_page_html(templates, comments, page, meta=meta)
