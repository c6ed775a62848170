from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import pytest

from broadsheet_articles.commands import CreateArticle, PublishArticle
from broadsheet_articles.feeds import Feeds
from broadsheet_shared.errors import NotFound

pytestmark = pytest.mark.unit

ATOM = "{http://www.w3.org/2005/Atom}"


def feeds(world: Any, size: int = 20) -> Feeds:
    return Feeds(world.service, world.section_service, size=size, base_url="https://news.example/")


async def publish(world: Any, editor: Any, title: str, section: str, summary: str = "") -> None:
    article = await world.service.create(
        CreateArticle(title=title, body="Body", section=section, summary=summary), editor
    )
    await world.service.publish(PublishArticle(article.id), editor)
    world.clock.advance(minutes=1)


async def test_the_site_feed_lists_the_latest_published_articles(world: Any, editor: Any) -> None:
    await publish(world, editor, "Older", "World", summary="First")
    await publish(world, editor, "Newer", "Politics")
    await world.service.create(CreateArticle(title="Draft", body="B", section="World"), editor)

    feed = ElementTree.fromstring(await feeds(world).site())

    assert feed.findtext(f"{ATOM}title") == "Broadsheet"
    assert feed.find(f"{ATOM}link[@rel='self']").attrib["href"] == (  # type: ignore[union-attr]
        "https://news.example/feed.xml"
    )
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == ["Newer", "Older"]
    older = entries[1]
    assert older.find(f"{ATOM}link").attrib["href"] == (  # type: ignore[union-attr]
        "https://news.example/articles/older"
    )
    assert older.findtext(f"{ATOM}summary") == "First"
    assert older.findtext(f"{ATOM}author/{ATOM}name") == "Ada Editor"
    assert older.find(f"{ATOM}category").attrib == {"term": "world", "label": "World"}  # type: ignore[union-attr]
    assert (
        len(ElementTree.fromstring(await feeds(world, size=1).site()).findall(f"{ATOM}entry")) == 1
    )


async def test_a_section_feed_holds_only_that_section(world: Any, editor: Any) -> None:
    await publish(world, editor, "Abroad", "World")
    await publish(world, editor, "At home", "Politics")

    feed = ElementTree.fromstring(await feeds(world).section("politics"))

    assert feed.findtext(f"{ATOM}title") == "Broadsheet: Politics"
    assert [e.findtext(f"{ATOM}title") for e in feed.findall(f"{ATOM}entry")] == ["At home"]
    with pytest.raises(NotFound):
        await feeds(world).section("sport")


async def test_a_tag_feed_holds_only_that_tag_s_articles(world: Any, editor: Any) -> None:
    article = await world.service.create(
        CreateArticle(title="Tagged", body="Body", section="World", tags=["Geneva"]), editor
    )
    await world.service.publish(PublishArticle(article.id), editor)
    await publish(world, editor, "Untagged", "World")

    feed = ElementTree.fromstring(await feeds(world).tag("geneva"))

    assert feed.findtext(f"{ATOM}title") == "Broadsheet: geneva"
    assert [e.findtext(f"{ATOM}title") for e in feed.findall(f"{ATOM}entry")] == ["Tagged"]
    with pytest.raises(NotFound):
        await feeds(world).tag("unused")


async def test_an_author_s_feed_holds_only_their_articles(world: Any, editor: Any) -> None:
    for title, authors in [("Hers", ["Zoë Writer"]), ("Theirs", ["Zoë Writer", "Ben"])]:
        article = await world.service.create(
            CreateArticle(title=title, body="Body", section="World", authors=authors), editor
        )
        await world.service.publish(PublishArticle(article.id), editor)
        world.clock.advance(minutes=1)
    await publish(world, editor, "Not hers", "World")

    feed = ElementTree.fromstring(await feeds(world).author("zoe-writer"))

    assert feed.findtext(f"{ATOM}title") == "Broadsheet: Zoë Writer"
    titles = [e.findtext(f"{ATOM}title") for e in feed.findall(f"{ATOM}entry")]
    assert titles == ["Theirs", "Hers"]
    with pytest.raises(NotFound):
        await feeds(world).author("nobody")
