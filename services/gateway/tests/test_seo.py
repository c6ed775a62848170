from __future__ import annotations

import pytest

from broadsheet_gateway.seo import article_meta, describe, front_meta

pytestmark = pytest.mark.unit

BASE = "https://news.example/"
ARTICLE = {
    "slug": "talks-resume",
    "title": "Talks resume in Geneva",
    "summary": "",
    "body_html": "<p>The talks <b>resumed</b> on Monday &amp; both sides were hopeful.</p>",
    "section": {"slug": "foreign-affairs", "name": "Foreign Affairs"},
    "tags": ["diplomacy"],
    "authors": ["Ada Reporter"],
    "author_slugs": ["ada-reporter"],
    "hero_image_url": None,
    "published_at": "2025-03-01T09:30:00.123456+00:00",
    "updated_at": "2025-03-02T10:00:00+00:00",
}


def test_an_article_is_a_news_article_with_its_facts_and_absolute_links() -> None:
    meta = article_meta(BASE, ARTICLE, 7, "/articles/talks-resume")
    assert meta.canonical == "https://news.example/articles/talks-resume"
    assert meta.og_type == "article"
    (news,) = meta.jsonld
    assert news["@type"] == "NewsArticle"
    assert news["headline"] == "Talks resume in Geneva"
    assert news["datePublished"] == ARTICLE["published_at"]
    assert news["dateModified"] == "2025-03-02T10:00:00+00:00"
    assert news["author"] == [
        {
            "@type": "Person",
            "name": "Ada Reporter",
            "url": "https://news.example/authors/ada-reporter",
        }
    ]
    assert news["articleSection"] == "Foreign Affairs"
    assert news["commentCount"] == 7
    assert news["publisher"]["@type"] == "Organization"
    assert "image" not in news


def test_the_description_is_the_summary_or_the_body_s_plain_text_cut_at_a_word() -> None:
    assert describe(ARTICLE["body_html"]) == (
        "The talks resumed on Monday & both sides were hopeful."
    )
    long = describe("<p>" + "word " * 100 + "</p>")
    assert len(long) <= 160
    assert long.endswith("word…")
    with_summary = article_meta(BASE, {**ARTICLE, "summary": "Diplomats return."}, 0, "/x")
    assert with_summary.description == "Diplomats return."


def test_the_front_page_is_an_organization_and_a_website() -> None:
    meta = front_meta(BASE)
    assert [item["@type"] for item in meta.jsonld] == ["Organization", "WebSite"]
    assert meta.canonical == "https://news.example/"
