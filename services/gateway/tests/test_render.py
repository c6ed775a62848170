"""The reader site's renderer: the Newsroom's Preview goes through its article page; each comment is
rendered once per what it shows (its cache key)."""

from __future__ import annotations

import pytest

from broadsheet_gateway.render import CommentRenderer, build_templates, preview_html

pytestmark = pytest.mark.unit


def test_a_preview_is_the_reader_sites_article_page_with_its_body_cleaned() -> None:
    templates = build_templates()
    article = {
        "slug": "talks-resume",
        "title": "Talks resume",
        "section": {"slug": "foreign-affairs", "name": "Foreign Affairs"},
        "authors": ["Ada"],
        "published_at": "2026-11-30T18:00:00Z",
        "body_html": "<p>They <em>met</em>.</p><script>alert(1)</script>",
        "comments_open": True,
    }
    page = preview_html(templates, CommentRenderer(templates), article)
    assert '<article class="story" data-live-url="/articles/talks-resume/live">' in page
    assert "<h1>Talks resume</h1>" in page
    assert "<p>They <em>met</em>.</p>" in page
    assert "<script>alert" not in page  # the reader site's cleaning applies
    assert "November 30, 2026" in page
    assert '<form method="post" action="/articles/talks-resume/comments"' in page


def test_the_hero_image_carries_its_alt_text() -> None:
    templates = build_templates()
    article = {
        "slug": "talks-resume",
        "title": "Talks resume",
        "body_html": "<p>They met.</p>",
        "hero_image_url": "https://img.example.org/talks.jpg",
        "hero_image_alt": 'Delegates at the "round" table',
    }
    page = preview_html(templates, CommentRenderer(templates), article)
    assert (
        '<img class="hero" src="https://img.example.org/talks.jpg"'
        ' alt="Delegates at the &#34;round&#34; table">'
    ) in page


def test_a_comment_s_votes_and_its_page_are_part_of_what_is_cached() -> None:
    renderer = CommentRenderer(build_templates())
    comment = {
        "id": "c1",
        "depth": 0,
        "author_name": "Ann",
        "created_at": "2026-11-30T18:00:00Z",
        "body_html": "<p>Hi</p>",
        "votes": 0,
    }
    assert "0 votes" in renderer.item(comment, "talks", can_reply=True)
    assert "1 vote<" in renderer.item({**comment, "votes": 1}, "talks", can_reply=True)
    on_best = renderer.item(comment, "talks", can_reply=True, back="?sort=best")
    assert 'action="/articles/talks/comments/c1/vote?sort=best"' in on_best
    # Closed to new comments: no form, and a count only where there is one.
    assert "vote" not in renderer.item(comment, "talks", can_reply=False)
    assert "3 votes" in renderer.item({**comment, "votes": 3}, "talks", can_reply=False)


def test_a_page_never_carries_a_code_point_html_forbids() -> None:
    # A section name as a fuzzed staff API stored it: every reader page shows it in its navigation.
    templates = build_templates()
    article = {
        "slug": "talks-resume",
        "title": "Talks\x9d resume\ufdd0",
        "section": {"slug": "ygyq02ky", "name": "ÇÈ\x9dČ"},
        "body_html": "<p>They\x07 met.</p>",
        "comments_open": True,
    }
    page = preview_html(templates, CommentRenderer(templates), article)
    assert "<h1>Talks resume</h1>" in page
    assert "ÇÈČ" in page
    assert not any(char in page for char in "\x9d\ufdd0\x07")
