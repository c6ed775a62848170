"""What moderators do for subscribers in the Newsroom, over the notifications service's staff
API: list the deliveries by state, retry a failed one, suppress an address. The service keeps
one email per (event, recipient): it retries only a failed delivery (a 409 otherwise), so a
second click or a second moderator cannot send it twice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from broadsheet_newsroom.service import NOTIFICATIONS, Staff
from broadsheet_newsroom.session import Session

DeliveryState = Literal["pending", "sending", "sent", "failed", "cancelled"]
STATES: tuple[DeliveryState, ...] = ("failed", "pending", "sending", "sent", "cancelled")


@dataclass(frozen=True)
class DeliveriesPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


class Subscribers:
    def __init__(self, staff: Staff, *, page_size: int) -> None:
        self._staff = staff
        self._page_size = page_size

    async def deliveries(
        self, session: Session, state: DeliveryState | None, cursor: str | None
    ) -> DeliveriesPage:
        answer = await self._staff.call(
            session,
            NOTIFICATIONS,
            "GET",
            "/api/editor/notifications/deliveries",
            params={"state": state, "cursor": cursor, "limit": self._page_size},
        )
        return DeliveriesPage(list(answer.body["items"]), answer.body.get("next_cursor"))

    async def retry(self, session: Session, delivery_id: str) -> dict[str, Any]:
        """Queue a failed delivery again; :class:`~broadsheet_newsroom.upstream.Refused` (409)
        when it is not failed (already retried, sent or cancelled)."""
        path = f"/api/editor/notifications/deliveries/{quote(delivery_id, safe='')}/retry"
        answer = await self._staff.call(session, NOTIFICATIONS, "POST", path)
        retried: dict[str, Any] = answer.body
        return retried

    async def suppress(self, session: Session, email: str) -> dict[str, Any]:
        """No more mail to this address, and what was waiting to go to it is cancelled."""
        answer = await self._staff.call(
            session,
            NOTIFICATIONS,
            "POST",
            "/api/editor/notifications/suppressions",
            json={"email": email},
        )
        suppressed: dict[str, Any] = answer.body
        return suppressed
