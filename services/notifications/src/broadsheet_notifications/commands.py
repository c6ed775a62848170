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
class RetryDelivery:
    delivery_id: str


@dataclass(frozen=True)
class SuppressAddress:
    email: str
