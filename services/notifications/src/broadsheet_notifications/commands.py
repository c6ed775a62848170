"""What readers and staff ask the service to do, as values the use cases take."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FollowArticle:
    slug: str
    email: str
    client: str  # the reader's address, for the per-client rate limit


@dataclass(frozen=True)
class ConfirmAddress:
    token: str


@dataclass(frozen=True)
class ConfirmRequest:
    """Confirm one pending request of the confirmation link's address, chosen on its page."""

    token: str
    subscription_id: str


@dataclass(frozen=True)
class Unsubscribe:
    token: str


@dataclass(frozen=True)
class RequestManageLink:
    """Mail the address a link to the page that manages its subscriptions."""

    email: str
    client: str  # the reader's address, for the per-client rate limit


@dataclass(frozen=True)
class RequestDataLink:
    """Mail the address a link to the page that downloads or erases its data."""

    email: str
    client: str  # the reader's address, for the per-client rate limit


@dataclass(frozen=True)
class EraseData:
    """Erase everything held about a my-data link's address, here and (by event) elsewhere."""

    token: str


@dataclass(frozen=True)
class EndSubscription:
    """End one subscription of a manage link's address, or all of them (``subscription_id``
    None), from the manage page."""

    token: str
    subscription_id: str | None


@dataclass(frozen=True)
class RetryDelivery:
    delivery_id: str


@dataclass(frozen=True)
class SuppressAddress:
    email: str
