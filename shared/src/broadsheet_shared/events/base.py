"""The envelope every integration event shares (eShop's IntegrationEvent: id + time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from broadsheet_shared.clock import utcnow


class EventData(BaseModel):
    # Consumers tolerate fields they do not know yet, so adding an optional field to a
    # version is not a breaking change.
    model_config = ConfigDict(frozen=True, extra="ignore")


class IntegrationEvent(BaseModel):
    """id, type, version, source, time, subject and data; subclasses pin type and version.

    ``subject`` is the aggregate the event is about (an article id, a comment id). The Kafka key
    is always the id of the article concerned, see :meth:`article_key`.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    TOPIC: ClassVar[str]

    id: UUID = Field(default_factory=uuid4)
    type: str
    version: int
    source: str
    time: datetime = Field(default_factory=utcnow)
    subject: str
    data: EventData

    def article_key(self) -> str:
        """The article id this event belongs to; used as the Kafka key to keep order per article."""
        return self.subject


@dataclass(frozen=True)
class Tombstone:
    """The end of a key on a compacted topic: a record with that key and a null value. Kafka's
    compaction then drops the key's earlier records, and, after the topic's
    ``delete.retention.ms``, the tombstone itself. ``topic`` is a base name from
    :mod:`broadsheet_shared.events.topics`."""

    topic: str
    key: str


# What a use case emits into the outbox.
Emitted = IntegrationEvent | Tombstone
