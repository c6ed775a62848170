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
    # One answer whatever the address's state: it must tell nobody anything about the address.
    status: Literal["confirmation_sent"]


class RequestView(BaseModel):
    """A subscription request, as the reader is asked to confirm it."""

    id: str
    kind: Literal["reply", "follow"]
    article_title: str
    article_url_path: str


class ConfirmationView(BaseModel):
    email: str
    status: Literal["pending", "confirmed", "suppressed", "unsubscribed"]
    # GET: what the link confirms (the requests its mail listed); POST: what was confirmed now.
    requests: list[RequestView]
    # Pending requests made after the link's mail was written: each needs its own click.
    later_requests: list[RequestView]


class ManageLinkRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    email: Email


class ManageLinkResponse(BaseModel):
    # One answer whatever the address: known, unknown, suppressed or over its allowance.
    status: Literal["link_sent"]


class SubscriptionView(RequestView):
    """A subscription as its owner manages it: pending (not confirmed yet) or active."""

    state: Literal["pending", "active"]


class ManageView(BaseModel):
    email: str
    status: Literal["pending", "confirmed", "suppressed", "unsubscribed"]
    subscriptions: list[SubscriptionView]


class DataLinkRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    email: Email


class DataLinkResponse(BaseModel):
    # One answer whatever the address: known, unknown, suppressed or over its allowance.
    status: Literal["link_sent"]


class AddressExport(BaseModel):
    email: str
    state: Literal["pending", "confirmed", "suppressed", "unsubscribed"]
    created_at: datetime | None
    confirmed_at: datetime | None


class SubscriptionExport(BaseModel):
    kind: Literal["reply", "follow"]
    state: Literal["pending", "active", "ended"]
    article_title: str
    article_url_path: str
    comment_id: str | None
    requested_at: datetime | None
    confirmed_at: datetime | None


class DeliveryExport(BaseModel):
    kind: str
    state: DeliveryState
    email: str
    article_title: str
    created_at: datetime
    sent_at: datetime | None


class DataExport(BaseModel):
    """What notifications holds about a my-data link's address."""

    # Five minutes' leave to fetch the address's data from the comments service (the gateway
    # gathers the download with it); not part of the reader's data.
    grant: str
    address: AddressExport | None
    subscriptions: list[SubscriptionExport]
    deliveries: list[DeliveryExport]


class ErasureResult(BaseModel):
    status: Literal["erased"]


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


class DeliveryCount(BaseModel):
    state: DeliveryState
    count: int


class DeliveryPage(BaseModel):
    items: list[DeliveryView]
    next_cursor: str | None


class SuppressRequest(BaseModel):
    email: Email


class SuppressResult(BaseModel):
    email: str
    state: str
