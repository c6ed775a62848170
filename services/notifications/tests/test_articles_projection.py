"""The articles projection on the real database keeps the newest revision: an older
``article.updated`` arriving after a newer one (a redelivery, a replay) changes nothing, as in
the comments service's projection; nor does one arriving after a later unpublication or
deletion (v2 events, which carry their revision)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from broadsheet_notifications.planner import Planner
from broadsheet_notifications.repository import ArticleView, MongoArticleRepository
from broadsheet_notifications.repository.articles import ARTICLES
from broadsheet_shared.events import ArticleData, ArticleRevisionRef

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(infra: Any) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    database = client[f"t{secrets.token_hex(4)}_notifications_articles"]
    yield database
    await client.drop_database(database.name)
    await client.close()


def planner_on(db: Any) -> Planner:
    # article_changed touches the articles projection only.
    unused: Any = None
    return Planner(
        MongoArticleRepository(db), unused, unused, unused, unused, unused, unused, unused
    )


async def test_an_older_revision_arriving_late_does_not_overwrite_a_newer_one(
    db: Any, ev: Any
) -> None:
    planner = planner_on(db)
    articles = MongoArticleRepository(db)
    base: ArticleData = ev.article().data

    def revision(number: int, title: str) -> ArticleData:
        return base.model_copy(update={"revision": number, "title": title})

    await planner.article_changed(revision(3, "Third"))
    await planner.article_changed(revision(2, "Second, late"))
    stored = await articles.live_by_slug(base.slug)
    assert stored is not None
    assert (stored.title, stored.revision) == ("Third", 3)

    await planner.article_changed(revision(3, "Third, redelivered"))  # the same revision: fine
    await planner.article_changed(revision(4, "Fourth"))
    stored = await articles.live_by_slug(base.slug)
    assert stored is not None
    assert (stored.title, stored.revision) == ("Fourth", 4)


async def test_a_row_stored_before_revisions_were_kept_takes_any_revision(db: Any, ev: Any) -> None:
    base: ArticleData = ev.article().data
    await db[ARTICLES].insert_one(
        {
            "_id": base.article_id,
            "slug": base.slug,
            "slugs": [base.slug],
            "title": "Old",
            "url_path": base.url_path,
            "live": True,
        }
    )
    await planner_on(db).article_changed(base.model_copy(update={"revision": 1, "title": "New"}))
    stored = await MongoArticleRepository(db).live_by_slug(base.slug)
    assert stored is not None
    assert stored.title == "New"


async def test_a_withdrawal_orders_by_revision_with_the_publications(db: Any, ev: Any) -> None:
    planner = planner_on(db)
    articles = MongoArticleRepository(db)
    base: ArticleData = ev.article().data

    def gone(number: int) -> ArticleRevisionRef:
        return ArticleRevisionRef(
            article_id=base.article_id, slug=base.slug, url_path=base.url_path, revision=number
        )

    # Deleted at 3, delivered before the article was known; the publication at 1 comes late.
    await planner.article_withdrawn(gone(3))
    await planner.article_changed(base.model_copy(update={"revision": 1}))
    assert await articles.by_ids([base.article_id], None) == {
        base.article_id: ArticleView(
            base.article_id, base.slug, [base.slug], "", base.url_path, 3, live=False
        )
    }
    # Republished at 5; the unpublication at 4 arrives after it and changes nothing.
    await planner.article_changed(base.model_copy(update={"revision": 5}))
    await planner.article_withdrawn(gone(4))
    stored = await articles.live_by_slug(base.slug)
    assert stored is not None
    assert (stored.title, stored.revision) == (base.title, 5)
    # Unpublished at 6: the row keeps what readers knew of it, not live.
    await planner.article_withdrawn(gone(6))
    kept = (await articles.by_ids([base.article_id], None))[base.article_id]
    assert (kept.title, kept.revision, kept.live) == (base.title, 6, False)
