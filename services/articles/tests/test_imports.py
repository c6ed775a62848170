from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from broadsheet_articles.domain import ArticleStatus, ImportedContent, ScheduleInPast
from broadsheet_articles.imports import EnsureSection, ImportArticle, Outcome
from broadsheet_articles.service import CreateArticle
from broadsheet_shared.errors import InvalidField, NotFound
from broadsheet_shared.events import ArticlePublishedV1, ArticleUnpublishedV2, ArticleUpdatedV1

pytestmark = pytest.mark.unit

SOURCE = "https://old.example"
THEN = datetime(2008, 10, 17, 4, 33, 51, tzinfo=UTC)


def content(**overrides: Any) -> ImportedContent:
    fields: dict[str, Any] = {
        "title": "Boat",
        "summary": "A boat.",
        "body": "",
        "tags": ["Sea", "sea", "ships"],
        "authors": ["Theme Buster"],
        "comments_open": True,
        "status": ArticleStatus.PUBLISHED,
        "published_at": THEN,
        "scheduled_at": None,
        "created_at": THEN,
        "updated_at": THEN + timedelta(days=1),
    }
    fields.update(overrides)
    return ImportedContent(**fields)


def command(wordpress_id: int = 19, fingerprint: str = "a" * 64, **overrides: Any) -> ImportArticle:
    fields: dict[str, Any] = {
        "source": SOURCE,
        "wordpress_id": wordpress_id,
        "slug": "boat",
        "section": "world",
        "content": content(),
        "link": "https://old.example/2008/10/17/boat/",
        "post_name": "boat",
        "fingerprint": fingerprint,
    }
    fields.update(overrides)
    return ImportArticle(**fields)


async def test_an_imported_post_keeps_its_dates_and_is_published_at_its_own_time(
    world: Any, editor: Any
) -> None:
    done = await world.import_service.import_article(command(), editor)
    article = done.article
    assert done.outcome is Outcome.CREATED
    assert (article.status, article.published_at) == (ArticleStatus.PUBLISHED, THEN)
    assert (article.created_at, article.updated_at) == (THEN, THEN + timedelta(days=1))
    assert (article.slug, article.revision, article.body_html) == ("boat", 1, "")
    assert article.tags == ["sea", "ships"]
    [event] = world.article_events()
    assert isinstance(event, ArticlePublishedV1)
    assert event.data.published_at == THEN
    [revision] = await world.service.revisions(article.id)
    assert (revision.reason, revision.editor) == ("import", "Ada Editor")


async def test_the_same_fingerprint_again_writes_nothing_and_emits_nothing(
    world: Any, editor: Any
) -> None:
    first = await world.import_service.import_article(command(), editor)
    again = await world.import_service.import_article(command(), editor)
    assert again.outcome is Outcome.UNCHANGED
    assert again.article.id == first.article.id
    assert again.article.revision == 1
    assert len(world.article_events()) == 1
    assert len(world.articles.articles) == 1


async def test_a_changed_post_updates_its_article_and_a_published_one_emits_updated(
    world: Any, editor: Any
) -> None:
    first = await world.import_service.import_article(command(), editor)
    changed = command(fingerprint="b" * 64, content=content(title="Boat, again"))
    again = await world.import_service.import_article(changed, editor)
    assert again.outcome is Outcome.UPDATED
    assert (again.article.id, again.article.title, again.article.revision) == (
        first.article.id,
        "Boat, again",
        2,
    )
    assert [type(e) for e in world.article_events()] == [ArticlePublishedV1, ArticleUpdatedV1]
    # Back to a draft on the old site: readers lose it here too.
    drafted = command(
        fingerprint="c" * 64, content=content(status=ArticleStatus.DRAFT, published_at=None)
    )
    await world.import_service.import_article(drafted, editor)
    assert isinstance(world.article_events()[-1], ArticleUnpublishedV2)


async def test_a_draft_emits_nothing_and_a_taken_slug_gets_a_suffix(
    world: Any, editor: Any
) -> None:
    await world.service.create(CreateArticle(title="Boat", body="x", section="World"), editor)
    draft = command(content=content(status=ArticleStatus.DRAFT, published_at=None))
    done = await world.import_service.import_article(draft, editor)
    assert done.article.slug == "boat-2"
    assert world.article_events() == []
    # Imported again with a change: the slug it got stays (no -3).
    again = await world.import_service.import_article(
        replace(draft, fingerprint="d" * 64, content=replace(draft.content, title="Boats")),
        editor,
    )
    assert again.article.slug == "boat-2"


async def test_a_scheduled_post_must_be_in_the_future_and_the_section_must_exist(
    world: Any, editor: Any
) -> None:
    past = content(status=ArticleStatus.SCHEDULED, published_at=None, scheduled_at=THEN)
    with pytest.raises(ScheduleInPast):
        await world.import_service.import_article(command(content=past), editor)
    future = replace(past, scheduled_at=world.clock() + timedelta(days=1))
    done = await world.import_service.import_article(command(content=future), editor)
    assert done.article.status is ArticleStatus.SCHEDULED
    with pytest.raises(InvalidField):
        await world.import_service.import_article(
            command(wordpress_id=20, section="nowhere"), editor
        )


async def test_sections_are_found_by_nicename_or_name_and_created_once(world: Any) -> None:
    news = await world.import_service.ensure_section(EnsureSection("News", "news"))
    again = await world.import_service.ensure_section(EnsureSection("Renamed", "news"))
    assert (news.slug, again.slug, news.wordpress_slug) == ("news", "news", "news")
    world_section = await world.import_service.ensure_section(EnsureSection("world", "wereld"))
    assert world_section.slug == "world"
    assert world.sections.sections["world"].wordpress_slug == "wereld"
    arabic = await world.import_service.ensure_section(
        EnsureSection("أخبار", "%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1")
    )
    assert arabic.wordpress_slug == "أخبار"
    assert len(world.sections.sections) == 5


async def test_imported_lists_what_a_source_has_in_wordpress_id_order(
    world: Any, editor: Any
) -> None:
    for wordpress_id in (30, 10, 20):
        await world.import_service.import_article(
            command(wordpress_id=wordpress_id, slug=f"p{wordpress_id}"), editor
        )
    await world.import_service.import_article(
        command(source="https://other.example", wordpress_id=5, slug="other"), editor
    )
    page = await world.import_service.imported(SOURCE, after=10, limit=5)
    assert [r.wordpress_id for r in page] == [20, 30]
    assert page[0].fingerprint == "a" * 64


async def test_old_links_lead_to_the_article_its_section_its_tag_and_the_feed(
    world: Any, editor: Any
) -> None:
    await world.import_service.ensure_section(EnsureSection("World", "world-news"))
    done = await world.import_service.import_article(
        command(link="https://old.example/archives/19?x=1"), editor
    )
    here = f"/articles/{done.article.slug}"
    links = world.old_links
    for old in (
        "/archives/19",
        "/2008/10/17/boat/",
        "/2008/10/boat",
        "/2008/boat/",
        "/BOAT/",
        "/%62oat",
    ):
        assert await links.location(old) == here, old
    assert await links.location("/", "p=19") == here
    assert await links.location("/category/world-news/") == "/sections/world"
    assert await links.location("/category/parent/world-news/feed/") == ("/sections/world/feed.xml")
    assert await links.location("/tag/ships/") == "/tags/ships"
    assert await links.location("/feed/atom/") == "/feed.xml"
    for unknown in ("/2008/10/18/boat/", "/2009/boat/", "/tag/rivers/", "/category/x/", "/"):
        with pytest.raises(NotFound):
            await links.location(unknown)
    with pytest.raises(NotFound):
        await links.location("/", "p=20")


async def test_a_query_permalink_is_no_path_and_a_deleted_draft_is_imported_again(
    world: Any, editor: Any
) -> None:
    draft = command(
        link="https://old.example/?p=19",
        content=content(status=ArticleStatus.DRAFT, published_at=None),
    )
    first = await world.import_service.import_article(draft, editor)
    assert world.imports.records[(SOURCE, 19)].path == ""
    await world.service.delete(first.article.id, editor)
    again = await world.import_service.import_article(draft, editor)
    assert again.outcome is Outcome.CREATED
    assert again.article.id != first.article.id


async def test_old_links_never_lead_to_an_article_readers_cannot_see(
    world: Any, editor: Any
) -> None:
    draft = command(content=content(status=ArticleStatus.DRAFT, published_at=None))
    await world.import_service.import_article(draft, editor)
    with pytest.raises(NotFound):
        await world.old_links.location("/boat/")
    with pytest.raises(NotFound):
        await world.old_links.location("/", "p=19")
