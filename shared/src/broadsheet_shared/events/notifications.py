"""Events published by the notifications service on ``broadsheet.notifications``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from broadsheet_shared.events import topics
from broadsheet_shared.events.base import EventData, IntegrationEvent

# "manage" (a manage-subscriptions link, mailed on request) and "data" (a my-data link) were
# added later: additive values, so consumers must accept kinds they do not know.
NotificationKind = Literal["reply", "follow", "digest", "confirmation", "manage", "data"]
RecipientDigest = Annotated[
    str,
    Field(
        description="The recipient's address digest (HMAC-SHA256 of the normalized address "
        "under the platform's ADDRESS_DIGEST_KEY, hex)"
    ),
]


class NotificationSentData(EventData):
    delivery_id: str
    kind: NotificationKind
    article_id: str | None
    source_event_id: str | None
    recipient_hash: RecipientDigest
    sent_at: datetime


class NotificationFailedData(EventData):
    delivery_id: str
    kind: NotificationKind
    article_id: str | None
    source_event_id: str | None
    recipient_hash: RecipientDigest
    error: str
    attempts: int
    failed_at: datetime


class NotificationSentV1(IntegrationEvent):
    TOPIC: ClassVar[str] = topics.NOTIFICATIONS
    type: Literal["notification.sent"] = "notification.sent"
    version: Literal[1] = 1
    source: str = "notifications"
    data: NotificationSentData


class NotificationFailedV1(IntegrationEvent):
    TOPIC: ClassVar[str] = topics.NOTIFICATIONS
    type: Literal["notification.failed"] = "notification.failed"
    version: Literal[1] = 1
    source: str = "notifications"
    data: NotificationFailedData


class ReaderErasedData(EventData):
    address_digest: RecipientDigest
    erased_at: datetime


class ReaderErasedV1(IntegrationEvent):
    """A reader had everything Broadsheet held about their address erased (from the my-data
    page, by a link mailed to that address). Notifications has erased its own part already;
    every other service holding data about the address erases its own on this event and keeps
    the digest, so no later or replayed event brings the address back. It carries the keyed
    digest, never the address. The subject (and Kafka key) is the digest: it concerns no
    article, and one reader's erasures stay in order."""

    TOPIC: ClassVar[str] = topics.NOTIFICATIONS
    type: Literal["reader.erased"] = "reader.erased"
    version: Literal[1] = 1
    source: str = "notifications"
    data: ReaderErasedData
