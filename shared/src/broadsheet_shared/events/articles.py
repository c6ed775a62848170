"""Events published by the articles service: changes on the ``broadsheet.articles`` topic, and
each article's current state on the compacted ``broadsheet.article-states`` topic."""

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


class ArticleRevisionRef(ArticleRef):
    """An article taken off the site, at the revision that change made: greater than that of
    any earlier change of the article, so a consumer can tell a late event from a current one."""

    revision: int


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


class ArticleUnpublishedV2(IntegrationEvent):
    """``article.unpublished`` with the revision of the unpublication: a consumer ignores it
    when it already holds a later revision (the article republished since)."""

    TOPIC: ClassVar[str] = topics.ARTICLES
    type: Literal["article.unpublished"] = "article.unpublished"
    version: Literal[2] = 2
    source: str = "articles"
    data: ArticleRevisionRef


class ArticleDeletedV2(IntegrationEvent):
    """``article.deleted`` with the revision of the deletion (the article's last revision plus
    one): an earlier change of the article arriving after it changes nothing."""

    TOPIC: ClassVar[str] = topics.ARTICLES
    type: Literal["article.deleted"] = "article.deleted"
    version: Literal[2] = 2
    source: str = "articles"
    data: ArticleRevisionRef


class ArticleStateData(ArticleData):
    """An article as the other services know it: its latest public data, and whether readers
    see it now (``public`` false once unpublished; a deleted article has a tombstone instead)."""

    public: bool


class ArticleStateV1(IntegrationEvent):
    """The current state of one article, published with every change event of the article.

    The topic is compacted: the latest record of a key is the article as it is now, and a
    tombstone (a null value with the same key) follows its deletion. Consumers rebuild their
    projections from it; the change events on ``broadsheet.articles`` remain the feed to follow.
    """

    TOPIC: ClassVar[str] = topics.ARTICLE_STATES
    type: Literal["article.state"] = "article.state"
    version: Literal[1] = 1
    source: str = "articles"
    data: ArticleStateData
