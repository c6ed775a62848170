from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from broadsheet_comments.projection import RestorableArticles
from broadsheet_shared.events import (
    ArticleData,
    ArticleDeletedV1,
    ArticleDeletedV2,
    ArticlePublishedV1,
    ArticleRef,
    ArticleRevisionRef,
    ArticleStateData,
    ArticleUnpublishedV1,
    ArticleUnpublishedV2,
    ArticleUpdatedV1,
    SectionRef,
)
from broadsheet_shared.events.staff import StaffAccountChangedV1, StaffAccountData

pytestmark = pytest.mark.unit


def data(slug: str = "hello", revision: int = 1, **changes: Any) -> ArticleData:
    fields: dict[str, Any] = {
        "article_id": "a1",
        "slug": slug,
        "title": "Hello",
        "section": SectionRef(slug="foreign-affairs", name="Foreign Affairs"),
        "url_path": f"/articles/{slug}",
        "comments_open": True,
        "published_at": datetime(2025, 1, 1, tzinfo=UTC),
        "revision": revision,
    }
    fields.update(changes)
    return ArticleData(**fields)


async def test_published_article_accepts_comments(world: Any) -> None:
    await world.router.dispatch(ArticlePublishedV1(subject="a1", data=data()))
    article = await world.articles.by_slug("hello")
    assert article.accepts_comments
    assert article.section_slug == "foreign-affairs"


async def test_renamed_article_keeps_old_slugs(world: Any) -> None:
    await world.router.dispatch(ArticlePublishedV1(subject="a1", data=data()))
    await world.router.dispatch(ArticleUpdatedV1(subject="a1", data=data("hi", 2)))
    old = await world.articles.by_slug("hello")
    assert old is not None
    assert old.slug == "hi"
    assert "hello" in old.previous_slugs


async def test_late_older_revision_changes_nothing(world: Any) -> None:
    await world.router.dispatch(ArticleUpdatedV1(subject="a1", data=data("new", 3)))
    await world.router.dispatch(ArticleUpdatedV1(subject="a1", data=data("old", 2)))
    assert (await world.articles.by_id("a1")).slug == "new"


async def test_unpublish_hides_and_delete_forgets(world: Any) -> None:
    ref = ArticleRef(article_id="a1", slug="hello", url_path="/articles/hello")
    await world.router.dispatch(ArticlePublishedV1(subject="a1", data=data()))
    await world.router.dispatch(ArticleUnpublishedV1(subject="a1", data=ref))
    assert not (await world.articles.by_id("a1")).published
    await world.router.dispatch(ArticleDeletedV1(subject="a1", data=ref))
    assert await world.articles.by_id("a1") is None


def gone(revision: int) -> ArticleRevisionRef:
    return ArticleRevisionRef(
        article_id="a1", slug="hello", url_path="/articles/hello", revision=revision
    )


async def test_an_unpublish_v2_hides_and_a_late_one_after_a_republish_is_ignored(
    world: Any,
) -> None:
    await world.router.dispatch(ArticlePublishedV1(subject="a1", data=data(revision=3)))
    await world.router.dispatch(ArticleUnpublishedV2(subject="a1", data=gone(4)))
    assert not (await world.articles.by_id("a1")).accepts_comments
    # Republished at 6, unpublished at 5 delivered after it: readers still see revision 6.
    await world.router.dispatch(ArticlePublishedV1(subject="a1", data=data(revision=6)))
    await world.router.dispatch(ArticleUnpublishedV2(subject="a1", data=gone(5)))
    article = await world.articles.by_id("a1")
    assert (article.accepts_comments, article.revision, article.title) == (True, 6, "Hello")


async def test_a_late_publication_after_a_delete_v2_stays_deleted(world: Any) -> None:
    # Deleted at 3 (delivered first, before the projection knew the article), then the
    # publication at 1 and the unpublication at 2 arrive late: the article stays hidden.
    await world.router.dispatch(ArticleDeletedV2(subject="a1", data=gone(3)))
    await world.router.dispatch(ArticlePublishedV1(subject="a1", data=data(revision=1)))
    await world.router.dispatch(ArticleUnpublishedV2(subject="a1", data=gone(2)))
    article = await world.articles.by_id("a1")
    assert (article.published, article.revision) == (False, 3)
    # Its slug is free for another article: no address finds the deleted one.
    assert await world.articles.by_slug("hello") is None


async def test_a_redelivered_event_is_handled_once(world: Any) -> None:
    event = ArticlePublishedV1(subject="a1", data=data())
    await world.router.dispatch(event)
    world.articles.rows["a1"] = world.articles.rows["a1"].__class__(
        **{**world.articles.rows["a1"].__dict__, "title": "changed locally"}
    )
    await world.router.dispatch(event)
    assert (await world.articles.by_id("a1")).title == "changed locally"


def account_changed(at: datetime, *, disabled: bool = True) -> StaffAccountChangedV1:
    data = StaffAccountData(staff_id="ed", role="editor", disabled=disabled, changed_at=at)
    return StaffAccountChangedV1(subject="ed", data=data)


async def test_a_staff_account_change_reaches_the_staff_access_projection(world: Any) -> None:
    later = datetime(2025, 1, 2, tzinfo=UTC)
    await world.router.dispatch(account_changed(later))
    # An older change arriving late does not move the mark back.
    await world.router.dispatch(account_changed(datetime(2025, 1, 1, tzinfo=UTC)))
    assert await world.staff_access.changed_at("ed") == later
    assert await world.staff_access.changed_at("someone-else") is None


def state(revision: int, *, public: bool = True, **changes: Any) -> ArticleStateData:
    return ArticleStateData(**dict(data(revision=revision, **changes)), public=public)


async def test_a_rebuild_restores_articles_under_the_change_events_rules(world: Any) -> None:
    restorable = RestorableArticles(world.projection, world.articles, world.uow)
    assert await restorable.is_empty()
    await world.router.dispatch(ArticleUpdatedV1(subject="a1", data=data("newer", 5)))
    world.articles.comment_roots["a2"] = 7  # a2's row was lost, its comments were not

    await restorable.restore(state(4, slug="older"))  # older than the stored row
    await restorable.restore(state(2, article_id="a2", slug="gone", public=False))

    assert (await world.articles.by_id("a1")).slug == "newer"
    restored = await world.articles.by_id("a2")
    assert not restored.published
    assert restored.root_seq == 7  # numbering goes on after its comments
    assert await restorable.article_ids() == {"a1", "a2"}
    await restorable.forget("a2")
    assert await restorable.article_ids() == {"a1"}
