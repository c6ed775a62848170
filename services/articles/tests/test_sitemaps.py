from __future__ import annotations

from datetime import timedelta
from typing import Any
from xml.etree import ElementTree

import pytest

from broadsheet_articles import sitemaps as sitemaps_module
from broadsheet_articles.commands import CreateArticle, PublishArticle
from broadsheet_articles.sitemaps import Sitemaps
from broadsheet_shared.errors import NotFound

pytestmark = pytest.mark.unit

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"


def sitemaps(world: Any, cache_seconds: float = 0) -> Sitemaps:
    return Sitemaps(
        world.service,
        world.section_service,
        base_url="https://news.example/",
        cache_seconds=cache_seconds,
        now=lambda: world.clock.now,
    )


async def publish(world: Any, editor: Any, title: str, section: str, tags: list[str]) -> None:
    article = await world.service.create(
        CreateArticle(title=title, body="Body", section=section, tags=tags), editor
    )
    await world.service.publish(PublishArticle(article.id), editor)
    world.clock.advance(minutes=1)


def locs(xml: bytes) -> dict[str, str]:
    root = ElementTree.fromstring(xml)
    return {
        str(url.findtext(f"{SM}loc")): str(url.findtext(f"{SM}lastmod"))
        for url in root.findall(f"{SM}url") + root.findall(f"{SM}sitemap")
    }


async def test_the_sitemaps_list_every_published_article_section_and_tag_page(
    world: Any, editor: Any
) -> None:
    await publish(world, editor, "Abroad", "World", ["talks", "geneva"])
    await publish(world, editor, "At home", "Politics", ["talks"])
    await world.service.create(
        CreateArticle(title="Draft", body="B", section="World", tags=["secret"]), editor
    )
    maps = sitemaps(world)

    index = locs(await maps.index())
    assert set(index) == {
        "https://news.example/sitemaps/articles-1.xml",
        "https://news.example/sitemaps/pages.xml",
    }
    articles = locs(await maps.articles(1))
    assert set(articles) == {
        "https://news.example/articles/abroad",
        "https://news.example/articles/at-home",
    }
    pages = locs(await maps.pages())
    assert set(pages) == {
        "https://news.example/sections/world",
        "https://news.example/sections/politics",
        "https://news.example/tags/talks",
        "https://news.example/tags/geneva",
    }
    # A page changed when its newest article did.
    assert (
        pages["https://news.example/tags/talks"]
        == articles["https://news.example/articles/at-home"]
    )
    assert (
        pages["https://news.example/tags/geneva"]
        == articles["https://news.example/articles/abroad"]
    )
    with pytest.raises(NotFound):
        await maps.articles(2)


async def test_past_the_protocol_s_limit_the_articles_are_split_over_files(
    world: Any, editor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sitemaps_module, "URLS_PER_SITEMAP", 2)
    for n in range(5):
        await publish(world, editor, f"Story {n}", "World", [])
    maps = sitemaps(world)
    assert "https://news.example/sitemaps/articles-3.xml" in locs(await maps.index())
    assert [len(locs(await maps.articles(n))) for n in (1, 2, 3)] == [2, 2, 1]


async def test_the_news_sitemap_holds_the_last_two_days(world: Any, editor: Any) -> None:
    await publish(world, editor, "Old news", "World", [])
    world.clock.advance(timedelta(hours=49))
    await publish(world, editor, "Fresh news", "World", [])

    root = ElementTree.fromstring(await sitemaps(world).news())
    (url,) = root.findall(f"{SM}url")
    assert url.findtext(f"{SM}loc") == "https://news.example/articles/fresh-news"
    assert url.findtext(f"{NEWS}news/{NEWS}title") == "Fresh news"
    assert url.findtext(f"{NEWS}news/{NEWS}publication/{NEWS}name") == "Broadsheet"
    assert url.findtext(f"{NEWS}news/{NEWS}publication/{NEWS}language") == "en"
    assert url.findtext(f"{NEWS}news/{NEWS}publication_date")


async def test_the_site_s_list_is_kept_for_a_while(world: Any, editor: Any) -> None:
    maps = sitemaps(world, cache_seconds=60)
    await publish(world, editor, "First", "World", [])
    assert len(locs(await maps.articles(1))) == 1
    await publish(world, editor, "Second", "World", [])
    assert len(locs(await maps.articles(1))) == 1  # the index and its files agree meanwhile
    assert len(locs(await sitemaps(world).articles(1))) == 2
