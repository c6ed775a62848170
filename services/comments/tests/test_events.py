"""The events this service emits."""

from __future__ import annotations

from typing import Any

import pytest

from broadsheet_comments.domain import Article
from broadsheet_comments.events import approved_event

pytestmark = pytest.mark.unit

ARTICLE = Article(
    article_id="a1",
    slug="hello",
    title="Hello",
    url_path="/articles/hello",
    section_slug="news",
    comments_open=True,
    published=True,
    revision=1,
)


def test_comment_approved_carries_the_display_depth_and_whom_a_deep_reply_answers(
    make_comment: Any,
) -> None:
    # A top-level comment by N0, then one reply per level to the comment above, by N1 … N7.
    comments = [make_comment("c0", author_name="N0")]
    for depth in range(1, 8):
        comments.append(make_comment(f"c{depth}", comments[-1], author_name=f"N{depth}"))
    deep = approved_event(ARTICLE, comments[7], "0123456789abcdef").data
    assert deep.depth == 4
    assert deep.in_reply_to == "N6"
    for depth in (1, 4):
        shown = approved_event(ARTICLE, comments[depth], "0123456789abcdef").data
        assert shown.depth == depth
        assert shown.in_reply_to is None
