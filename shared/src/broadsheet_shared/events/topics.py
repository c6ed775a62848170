"""Kafka topic names: one per producing service. Prefix them with ``settings.topic(...)``.

Every event is keyed by the id of the article it concerns, so that one article's events stay in
order within a partition.
"""

from typing import Final

ARTICLES: Final = "broadsheet.articles"
COMMENTS: Final = "broadsheet.comments"
NOTIFICATIONS: Final = "broadsheet.notifications"

ALL: Final = (ARTICLES, COMMENTS, NOTIFICATIONS)

PARTITIONS: Final = 3


def dead_letter_topic(consumer_group: str) -> str:
    """Where a consumer group parks the messages it could not handle."""
    return f"{consumer_group}.dlq"
