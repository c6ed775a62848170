"""The articles projection as a rebuild sees it (:mod:`broadsheet_shared.rebuild`): the
planner's own article handlers, so a rebuilt row is what the change events would have left."""

from __future__ import annotations

from broadsheet_notifications.planner import Planner
from broadsheet_notifications.repository import ArticleRepository
from broadsheet_shared.events import ArticleStateData


class RestorableArticles:
    def __init__(self, planner: Planner, articles: ArticleRepository) -> None:
        self._planner = planner
        self._articles = articles

    async def is_empty(self) -> bool:
        return await self._articles.is_empty()

    async def article_ids(self) -> set[str]:
        # An article that is gone already needs no removal.
        return await self._articles.live_ids()

    async def restore(self, state: ArticleStateData) -> None:
        await self._planner.article_changed(state, live=state.public)

    async def forget(self, article_id: str) -> None:
        await self._planner.article_gone(article_id)
