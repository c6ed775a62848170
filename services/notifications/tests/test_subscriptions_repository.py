"""Whom an approved comment concerns, asked of the real database in one query: among an article's
subscriptions, the active reply subscription to the comment's parent and the active followers."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from broadsheet_notifications.domain import Subscription
from broadsheet_notifications.repository import INDEXES, MongoSubscriptionRepository
from broadsheet_shared.mongo import ensure_indexes

pytestmark = pytest.mark.integration

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def subscriptions(infra: Any) -> AsyncIterator[MongoSubscriptionRepository]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    database = client[f"t{secrets.token_hex(4)}_notifications_subscriptions"]
    await ensure_indexes(database, INDEXES)
    yield MongoSubscriptionRepository(database)
    await client.drop_database(database.name)
    await client.close()


def active(sub: Subscription) -> Subscription:
    sub.confirm(NOW)
    return sub


async def test_a_new_comment_concerns_its_parents_reply_subscription_and_the_followers(
    subscriptions: MongoSubscriptionRepository,
) -> None:
    saved = {
        "reply to c2": active(Subscription.to_replies("c2", "a1", "bob", NOW)),
        "reply to c1": active(Subscription.to_replies("c1", "a1", "ada", NOW)),
        "follower": active(Subscription.to_article("a1", "cy", NOW)),
        "pending follower": Subscription.to_article("a1", "dee", NOW),
        "other article's follower": active(Subscription.to_article("a2", "eve", NOW)),
        "other article's reply to c1": active(Subscription.to_replies("c1", "a2", "fay", NOW)),
    }
    for sub in saved.values():
        await subscriptions.save(sub, None)
    reply, followers = await subscriptions.of_new_comment("a1", "c1", None)
    assert reply == saved["reply to c1"]
    assert followers == [saved["follower"]]
    # A comment that answers nobody concerns the followers only.
    assert await subscriptions.of_new_comment("a1", None, None) == (None, [saved["follower"]])
