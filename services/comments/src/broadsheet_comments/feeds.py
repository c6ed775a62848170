"""An article's comments as an Atom feed: its latest public (approved, not hidden) comments,
newest first, each linking to its place on the reader site (``#comment-ID``)."""

from __future__ import annotations

from collections.abc import Sequence

from feedgen.feed import FeedGenerator  # type: ignore[import-untyped]

from broadsheet_comments.domain import Article, Comment
from broadsheet_shared.clock import utcnow

# Feed readers poll: the latest this many are enough to catch up between two polls.
FEED_SIZE = 50


def comments_feed(article: Article, comments: Sequence[Comment], base_url: str) -> bytes:
    base = base_url.rstrip("/")
    page = f"{base}{article.url_path}"
    feed = FeedGenerator()
    feed.id(f"{page}/comments/feed.xml")
    feed.title(f"Comments on {article.title}")
    feed.link(href=f"{page}/comments/feed.xml", rel="self")
    feed.link(href=f"{page}#comments", rel="alternate")
    feed.language("en")
    # Atom needs a date: with no comment yet, the feed is as of now.
    feed.updated(max((c.edited_at or c.created_at for c in comments), default=utcnow()))
    for comment in comments:
        entry = feed.add_entry(order="append")
        entry.id(f"urn:broadsheet:comment:{comment.id}")
        entry.title(f"{comment.author_name} on {article.title}")
        entry.link(href=f"{page}#comment-{comment.id}")
        entry.author({"name": comment.author_name})
        entry.published(comment.created_at)
        entry.updated(comment.edited_at or comment.created_at)
        entry.content(comment.body_html, type="html")
    xml: bytes = feed.atom_str(pretty=False)
    return xml
