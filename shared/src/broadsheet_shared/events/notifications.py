"""Events published by the notifications service on ``broadsheet.notifications``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from broadsheet_shared.events import topics
from broadsheet_shared.events.base import EventData, IntegrationEvent

# Version 1's kinds, as first published: a closed set, so version 1 carries no other.
NotificationKind = Literal["reply", "follow", "digest", "confirmation"]
# Version 2's kind is an open set: mails of new kinds came (a manage-subscriptions link, a
# my-data link, a staff set-password link) and more will, without a version each time.
OpenNotificationKind = Annotated[
    str,
    Field(
        description="What the mail was: reply, follow, digest, confirmation, manage, data, "
        "staff_password, or a kind added later — consumers must accept kinds they do not know",
        min_length=1,
    ),
]
RecipientDigest = Annotated[
    str,
    Field(
        description="The recipient's address digest (HMAC-SHA256 of the normalized address "
        "under the platform's ADDRESS_DIGEST_KEY, hex)"
    ),
]


class _DeliveryFacts(EventData):
    """What every version of ``notification.sent`` and ``notification.failed`` says."""

    delivery_id: str
    article_id: str | None
    source_event_id: str | None
    recipient_hash: RecipientDigest


class NotificationSentData(_DeliveryFacts):
    kind: NotificationKind
    sent_at: datetime


class NotificationFailedData(_DeliveryFacts):
    kind: NotificationKind
    error: str
    attempts: int
    failed_at: datetime


class NotificationSentDataV2(_DeliveryFacts):
    kind: OpenNotificationKind
    sent_at: datetime


class NotificationFailedDataV2(_DeliveryFacts):
    kind: OpenNotificationKind
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


class NotificationSentV2(IntegrationEvent):
    """Version 2: the same facts, with ``kind`` an open set (see ``OpenNotificationKind``)."""

    TOPIC: ClassVar[str] = topics.NOTIFICATIONS
    type: Literal["notification.sent"] = "notification.sent"
    version: Literal[2] = 2
    source: str = "notifications"
    data: NotificationSentDataV2


class NotificationFailedV2(IntegrationEvent):
    """Version 2: the same facts, with ``kind`` an open set (see ``OpenNotificationKind``)."""

    TOPIC: ClassVar[str] = topics.NOTIFICATIONS
    type: Literal["notification.failed"] = "notification.failed"
    version: Literal[2] = 2
    source: str = "notifications"
    data: NotificationFailedDataV2


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
