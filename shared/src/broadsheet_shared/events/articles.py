"""Events published by the articles service on the ``broadsheet.articles`` topic."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from broadsheet_shared.events import topics
from broadsheet_shared.events.base import EventData, IntegrationEvent


class SectionRef(EventData):
    slug: str
    name: str


class ArticleData(EventData):
    """What other services need to know about a published article. Never editor emails."""

    article_id: str
    slug: str
    previous_slugs: list[str] = []
    title: str
    summary: str = ""
    section: SectionRef
    tags: list[str] = []
    authors: list[str] = []
    url_path: str
    comments_open: bool
    published_at: datetime | None
    revision: int


class ArticleRef(EventData):
    article_id: str
    slug: str
    url_path: str


class ArticlePublishedV1(IntegrationEvent):
    TOPIC: ClassVar[str] = topics.ARTICLES
    type: Literal["article.published"] = "article.published"
    version: Literal[1] = 1
    source: str = "articles"
    data: ArticleData


class ArticleUpdatedV1(IntegrationEvent):
    """A published article changed (new revision, slug, title, comments_open …)."""

    TOPIC: ClassVar[str] = topics.ARTICLES
    type: Literal["article.updated"] = "article.updated"
    version: Literal[1] = 1
    source: str = "articles"
    data: ArticleData


class ArticleUnpublishedV1(IntegrationEvent):
    TOPIC: ClassVar[str] = topics.ARTICLES
    type: Literal["article.unpublished"] = "article.unpublished"
    version: Literal[1] = 1
    source: str = "articles"
    data: ArticleRef


class ArticleDeletedV1(IntegrationEvent):
    TOPIC: ClassVar[str] = topics.ARTICLES
    type: Literal["article.deleted"] = "article.deleted"
    version: Literal[1] = 1
    source: str = "articles"
    data: ArticleRef
