"""Events published by the notifications service on ``broadsheet.notifications``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from broadsheet_shared.events import topics
from broadsheet_shared.events.base import EventData, IntegrationEvent

# "manage" (a manage-subscriptions link, mailed on request) was added later: an additive value,
# so consumers must accept kinds they do not know.
NotificationKind = Literal["reply", "follow", "digest", "confirmation", "manage"]
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
