"""What the articles service tells the other services, in a use case's transaction: a change
event on ``broadsheet.articles`` and, beside it, the article's state on the compacted
``broadsheet.article-states`` (a tombstone once it is deleted). Both reach the outbox with the
article's own write, so the state record never disagrees with the committed article."""

from __future__ import annotations

from broadsheet_articles.domain import Article
from broadsheet_shared.events import (
    ArticleDeletedV2,
    ArticlePublishedV1,
    ArticleStateV1,
    ArticleUnpublishedV2,
    ArticleUpdatedV1,
    Tombstone,
    topics,
)
from broadsheet_shared.unit_of_work import Transaction


def emit_public(
    tx: Transaction, article: Article, change: type[ArticlePublishedV1 | ArticleUpdatedV1]
) -> None:
    """The article became or stayed public (``article.published`` or ``article.updated``)."""
    tx.emit(change(subject=article.id, data=article.event_data()))
    emit_state(tx, article)


def emit_unpublished(tx: Transaction, article: Article) -> None:
    """After the unpublication's new revision: the event carries it."""
    tx.emit(ArticleUnpublishedV2(subject=article.id, data=article.gone_ref(article.revision)))
    emit_state(tx, article)


def emit_state(tx: Transaction, article: Article) -> None:
    """The state alone: with a change above, or for an article that predates the topic."""
    tx.emit(ArticleStateV1(subject=article.id, data=article.state_data()))


def emit_deleted(tx: Transaction, article: Article) -> None:
    """A deletion stores no revision (the article is gone), but orders after every change of the
    article all the same: its event carries the revision after the article's last."""
    tx.emit(ArticleDeletedV2(subject=article.id, data=article.gone_ref(article.revision + 1)))
    tx.emit(Tombstone(topics.ARTICLE_STATES, article.id))
