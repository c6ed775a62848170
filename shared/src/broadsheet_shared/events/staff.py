"""Events about staff on the ``broadsheet.staff`` topic: account changes and the audit trail.

Staff events concern a person, not an article: they are keyed by the staff account's id (the
``subject``), so one account's events stay in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from broadsheet_shared.auth import Role
from broadsheet_shared.events import topics
from broadsheet_shared.events.base import EventData, IntegrationEvent


class StaffAccountData(EventData):
    staff_id: str
    role: Role
    disabled: bool
    changed_at: datetime


class StaffAccountChangedV1(IntegrationEvent):
    """A staff account's role or access changed (published by articles, which owns accounts).

    Every service that accepts staff tokens consumes it and refuses tokens issued to this
    account before ``changed_at``, so disabling or demoting someone takes effect in seconds
    rather than at token expiry.
    """

    TOPIC: ClassVar[str] = topics.STAFF
    type: Literal["staff.account_changed"] = "staff.account_changed"
    version: Literal[1] = 1
    source: str = "articles"
    data: StaffAccountData


class StaffPasswordLinkData(EventData):
    staff_id: str
    email: str
    name: str
    # The one-time secret of the set-password link, in clear: the mail must carry it. Articles
    # keeps only its SHA-256; it expires at ``expires_at`` and works once.
    token: str
    expires_at: datetime


class StaffPasswordLinkIssuedV1(IntegrationEvent):
    """An admin added a staff account without a password: its owner is to be mailed a
    one-time link to set one (published by articles; notifications sends one mail per event)."""

    TOPIC: ClassVar[str] = topics.STAFF
    type: Literal["staff.password_link_issued"] = "staff.password_link_issued"
    version: Literal[1] = 1
    source: str = "articles"
    data: StaffPasswordLinkData


class StaffActionData(EventData):
    """Who did what, when and from where. ``actor_id`` is None for a failed sign-in."""

    actor_id: str | None
    actor_name: str
    actor_role: Role | None
    action: str
    target: str
    details: dict[str, str] = {}
    client: str
    at: datetime


class StaffActionRecordedV1(IntegrationEvent):
    """One entry of the audit log, written by the service that owns the action in the same
    transaction as the action (its outbox); the articles service keeps the readable log."""

    TOPIC: ClassVar[str] = topics.STAFF
    type: Literal["staff.action_recorded"] = "staff.action_recorded"
    version: Literal[1] = 1
    source: str
    data: StaffActionData
