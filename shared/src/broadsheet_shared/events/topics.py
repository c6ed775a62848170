"""Kafka topic names: one per producing service, one for staff events (accounts, audit), and the
compacted topic of article states.

Every event is keyed by the id of the article it concerns, so that one article's events stay in
order within a partition; staff events, which concern a person, by the staff account's id.

The change topics keep the broker's retention (7 days by default). ``ARTICLE_STATES`` is
compacted instead: Kafka keeps at least the latest record of every key, so the topic holds the
current state of every article for as long as the article exists, and a projection lost or new
can be rebuilt from it (``broadsheet-admin rebuild-projection``).
"""

from collections.abc import Mapping
from typing import Final

ARTICLES: Final = "broadsheet.articles"
COMMENTS: Final = "broadsheet.comments"
NOTIFICATIONS: Final = "broadsheet.notifications"
STAFF: Final = "broadsheet.staff"
ARTICLE_STATES: Final = "broadsheet.article-states"

ALL: Final = (ARTICLES, COMMENTS, NOTIFICATIONS, STAFF, ARTICLE_STATES)

# Topic settings that differ from the broker's defaults, by base topic name.
CONFIGS: Final[Mapping[str, Mapping[str, str]]] = {
    ARTICLE_STATES: {"cleanup.policy": "compact"},
}

PARTITIONS: Final = 3


def dead_letter_topic(consumer_group: str) -> str:
    """Where a consumer group parks the messages it could not handle."""
    return f"{consumer_group}.dlq"
