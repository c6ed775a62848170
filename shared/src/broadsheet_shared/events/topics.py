"""Kafka topic names: one per producing service, and one for staff events (accounts, audit).

Every event is keyed by the id of the article it concerns, so that one article's events stay in
order within a partition; staff events, which concern a person, by the staff account's id.
"""

from typing import Final

ARTICLES: Final = "broadsheet.articles"
COMMENTS: Final = "broadsheet.comments"
NOTIFICATIONS: Final = "broadsheet.notifications"
STAFF: Final = "broadsheet.staff"

ALL: Final = (ARTICLES, COMMENTS, NOTIFICATIONS, STAFF)

PARTITIONS: Final = 3


def dead_letter_topic(consumer_group: str) -> str:
    """Where a consumer group parks the messages it could not handle."""
    return f"{consumer_group}.dlq"
