"""Rebuilding a service's article projection from the compacted topic of article states.

The projection is rebuilt in place, while the service keeps serving and its change consumer
keeps running: never dropped, so there is no moment when it is empty or half old.

1. Read the topic from the beginning to its end: the latest record of each article.
2. Upsert every article the topic holds, each under the projection's own version guard (a
   stored newer revision, written meanwhile by the change consumer, is kept).
3. Remove what the projection holds and the topic does not (deleted articles; anything the
   projection kept by mistake). Articles published while steps 1 and 2 ran are on the topic's
   tail: it is read again first, and what it names is left to the change consumer.

Running it twice, or beside the consumer, or on two replicas at once, comes to the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from broadsheet_shared.events import ArticleStateData, ArticleStateV1, EventDecodeError, topics
from broadsheet_shared.events.codec import decode_event
from broadsheet_shared.kafka.compacted import CompactedTopicReader
from broadsheet_shared.settings import ServiceSettings

log = structlog.get_logger(__name__)

# An article id and its latest state; None: a tombstone (the article was deleted).
StateRecord = tuple[str, ArticleStateData | None]


class ArticleStates(Protocol):
    async def read(self) -> list[StateRecord]:
        """The records from where the previous read stopped (the beginning, at first) to the
        topic's end as it is now."""
        ...


class RestorableProjection(Protocol):
    """What a service's article projection offers a rebuild."""

    async def is_empty(self) -> bool: ...

    async def article_ids(self) -> set[str]:
        """The articles the projection holds as present: those a rebuild may remove."""
        ...

    async def restore(self, state: ArticleStateData) -> None:
        """Store ``state`` unless a newer revision of the article is stored."""
        ...

    async def forget(self, article_id: str) -> None:
        """What the change consumer does when the article is deleted."""
        ...


@dataclass
class RebuildProgress:
    read: int = 0
    upserted: int = 0
    removed: int = 0

    def __str__(self) -> str:
        return f"records read: {self.read}, upserted: {self.upserted}, removed: {self.removed}"


def _ignore(progress: RebuildProgress) -> None:
    pass


async def rebuild_projection(
    states: ArticleStates,
    projection: RestorableProjection,
    *,
    on_progress: Callable[[RebuildProgress], None] = _ignore,
    every: int = 500,
) -> RebuildProgress:
    """Rebuild ``projection`` from ``states``; ``on_progress`` hears every ``every`` upserts
    or removals, and once at the end."""
    progress = RebuildProgress()
    latest: dict[str, ArticleStateData | None] = {}
    for article_id, state in await states.read():
        latest[article_id] = state  # in order per key: the last one wins
        progress.read += 1
    on_progress(progress)
    for state in latest.values():
        if state is not None:
            await projection.restore(state)
            progress.upserted += 1
            if progress.upserted % every == 0:
                on_progress(progress)
    held = {article_id for article_id, state in latest.items() if state is not None}
    stale = await projection.article_ids() - held
    if stale:
        # Published since the first read: in the projection through the change consumer,
        # and on the topic's tail. Not stale.
        for article_id, _ in await states.read():
            progress.read += 1
            stale.discard(article_id)
    for article_id in sorted(stale):
        await projection.forget(article_id)
        progress.removed += 1
        if progress.removed % every == 0:
            on_progress(progress)
    on_progress(progress)
    return progress


class KafkaArticleStates:
    """:class:`ArticleStates` on the broker: the values decoded, an undecodable one skipped
    (logged) rather than stopping the rebuild, since compaction keeps it until its article
    changes again."""

    def __init__(self, reader: CompactedTopicReader) -> None:
        self._reader = reader

    async def read(self) -> list[StateRecord]:
        records: list[StateRecord] = []
        for key, value in await self._reader.read():
            article_id = key.decode("utf-8", errors="replace")
            if value is None:
                records.append((article_id, None))
                continue
            try:
                event = decode_event(value, [])
            except EventDecodeError as exc:
                log.warning("unreadable article state skipped", key=article_id, error=str(exc))
                continue
            if isinstance(event, ArticleStateV1):
                records.append((article_id, event.data))
        return records


async def rebuild_from_kafka(
    settings: ServiceSettings,
    projection: RestorableProjection,
    *,
    on_progress: Callable[[RebuildProgress], None] = _ignore,
) -> RebuildProgress:
    """Rebuild ``projection`` from the broker and topic ``settings`` name."""
    reader = CompactedTopicReader(
        settings.kafka_bootstrap_servers,
        settings.topic(topics.ARTICLE_STATES),
        client_id=f"{settings.service_name}-rebuild",
    )
    async with reader:
        return await rebuild_projection(
            KafkaArticleStates(reader), projection, on_progress=on_progress
        )


async def rebuild_if_empty(
    settings: ServiceSettings, projection: RestorableProjection
) -> RebuildProgress | None:
    """At start-up: a service whose projection is empty (a new service, a lost database)
    rebuilds it before it serves; its change consumer, already running, writes beside it
    under the same version guard. None when there was nothing to do."""
    if not await projection.is_empty():
        return None
    log.info("article projection empty: rebuilding it from the article states")
    progress = await rebuild_from_kafka(settings, projection)
    log.info(
        "article projection rebuilt",
        read=progress.read,
        upserted=progress.upserted,
        removed=progress.removed,
    )
    return progress
