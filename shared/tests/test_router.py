from __future__ import annotations

import pytest

from broadsheet_shared.events import ArticlePublishedV1, ArticleUnpublishedV1
from broadsheet_shared.events.articles import ArticleRef
from broadsheet_shared.kafka.consumer import RetryPolicy
from broadsheet_shared.kafka.router import EventRouter

pytestmark = pytest.mark.unit


async def test_dispatch_reaches_only_handlers_of_that_type() -> None:
    router = EventRouter()
    seen: list[str] = []

    @router.subscribe(ArticleUnpublishedV1)
    async def on_unpublished(event: ArticleUnpublishedV1) -> None:
        seen.append(event.data.slug)

    event = ArticleUnpublishedV1(
        subject="a1", data=ArticleRef(article_id="a1", slug="s", url_path="/articles/s")
    )
    await router.dispatch(event)
    assert seen == ["s"]
    assert router.handles(event)
    assert router.topics == {"broadsheet.articles"}
    assert ArticlePublishedV1 not in router._handlers


def test_backoff_grows_exponentially_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=5, initial_backoff=0.5, max_backoff=3.0)
    assert [policy.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
