"""API request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from broadsheet_notifications.domain import Delivery, DeliveryState, mask_email
from broadsheet_shared.addresses import Email


class FollowRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    email: Email


class FollowResponse(BaseModel):
    status: Literal["confirmation_sent", "subscribed"]


class ConfirmationView(BaseModel):
    email: str
    status: str


class UnsubscribeView(BaseModel):
    scope: Literal["subscription", "all"]
    email: str
    kind: Literal["reply", "follow"] | None
    active: bool


class UnsubscribeResult(BaseModel):
    status: Literal["unsubscribed"]
    scope: Literal["subscription", "all"]


class DeliveryView(BaseModel):
    id: str
    kind: str
    state: DeliveryState
    recipient: str
    article_id: str | None
    source_event_id: str | None
    comment_ids: list[str]
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None

    @classmethod
    def of(cls, d: Delivery) -> DeliveryView:
        return cls(
            id=d.id,
            kind=d.kind,
            state=d.state,
            recipient=mask_email(d.email),
            article_id=d.article_id,
            source_event_id=d.source_event_id,
            comment_ids=d.comment_ids,
            attempts=d.attempts,
            created_at=d.created_at,
            next_attempt_at=d.next_attempt_at,
            sent_at=d.sent_at,
            last_error=d.last_error,
        )


class DeliveryPage(BaseModel):
    items: list[DeliveryView]
    next_cursor: str | None


class SuppressRequest(BaseModel):
    email: Email


class SuppressResult(BaseModel):
    email: str
    state: str
