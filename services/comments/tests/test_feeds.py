from __future__ import annotations

from typing import Any

import feedparser
import pytest

from broadsheet_comments.feeds import comments_feed
from broadsheet_shared.errors import NotFound

pytestmark = pytest.mark.unit


async def test_an_article_s_comments_feed_holds_its_latest_public_comments(world: Any) -> None:
    world.add_article("one")
    world.add_article("two")
    first = await world.post("one", client="a", body="First.")
    second = await world.post("one", client="b", body="Second.")
    await world.post("two", client="c")

    article, comments = await world.queries.article_recent("one", 10)
    assert [c.id for c in comments] == [second.comment.id, first.comment.id]

    parsed = feedparser.parse(comments_feed(article, comments, "https://news.example/"))
    assert not parsed.bozo
    assert parsed.feed.title == f"Comments on {article.title}"
    assert [e.link for e in parsed.entries] == [
        f"https://news.example{article.url_path}#comment-{second.comment.id}",
        f"https://news.example{article.url_path}#comment-{first.comment.id}",
    ]
    assert len((await world.queries.article_recent("one", 1))[1]) == 1
    with pytest.raises(NotFound):
        await world.queries.article_recent("missing", 10)


async def test_a_feed_without_comments_is_still_a_feed(world: Any) -> None:
    world.add_article("quiet")
    article, comments = await world.queries.article_recent("quiet", 10)
    parsed = feedparser.parse(comments_feed(article, comments, "https://news.example"))
    assert not parsed.bozo
    assert parsed.entries == []
