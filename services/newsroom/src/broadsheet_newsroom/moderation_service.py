"""What moderators do in the Newsroom, over the comments service's staff API: read the queue
(each held comment with its article and parent, newest or oldest first), decide on one or
several comments at once, find an author's comments, and ban or lift bans. Every call goes
through :meth:`Staff.call` with the person's token."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from broadsheet_newsroom.service import COMMENTS, Staff
from broadsheet_newsroom.session import Session

Action = Literal["approve", "reject", "spam", "delete"]
ACTIONS: tuple[Action, ...] = ("approve", "reject", "spam", "delete")
# What a moderator reads after an action: "2 approved", "1 marked as spam".
DONE = {"approve": "approved", "reject": "rejected", "spam": "marked as spam", "delete": "deleted"}
BanKind = Literal["email", "client"]
BAN_KINDS: tuple[BanKind, ...] = ("email", "client")
Order = Literal["newest", "oldest"]
ORDERS: tuple[Order, ...] = ("newest", "oldest")


@dataclass(frozen=True)
class QueuePage:
    items: list[dict[str, Any]]
    next_cursor: str | None


class Moderation:
    def __init__(self, staff: Staff, *, page_size: int) -> None:
        self._staff = staff
        self._page_size = page_size

    async def queue(self, session: Session, cursor: str | None, order: Order) -> QueuePage:
        answer = await self._staff.call(
            session,
            COMMENTS,
            "GET",
            "/api/editor/comments",
            params={
                "status": "pending",
                "order": order,
                "cursor": cursor,
                "limit": self._page_size,
            },
        )
        return QueuePage(list(answer.body["items"]), answer.body.get("next_cursor"))

    async def find(
        self, session: Session, kind: BanKind, value: str, cursor: str | None
    ) -> QueuePage:
        """An author's comments across articles (any status), newest first, by email or by
        client address."""
        answer = await self._staff.call(
            session,
            COMMENTS,
            "GET",
            "/api/editor/comments/search",
            params={"kind": kind, "value": value, "cursor": cursor, "limit": self._page_size},
        )
        return QueuePage(list(answer.body["items"]), answer.body.get("next_cursor"))

    async def decide(self, session: Session, action: Action, ids: Sequence[str]) -> list[str]:
        """Apply ``action`` to every comment of ``ids``; the sentences saying what happened
        (how many were changed, and each refusal with its reason)."""
        answer = await self._staff.call(
            session,
            COMMENTS,
            "POST",
            "/api/editor/comments/moderate",
            json={"ids": list(dict.fromkeys(ids)), "action": action},
        )
        outcomes = answer.body["items"]
        done = sum(1 for outcome in outcomes if outcome["refused"] is None)
        said = [f"{done} comment{'' if done == 1 else 's'} {DONE[action]}."] if done else []
        refusals = Counter(o["refused"] for o in outcomes if o["refused"] is not None)
        said += [
            f"{count} not {DONE[action]}: {reason}" for reason, count in sorted(refusals.items())
        ]
        return said

    async def bans(self, session: Session) -> list[dict[str, Any]]:
        answer = await self._staff.call(session, COMMENTS, "GET", "/api/editor/comments/bans")
        items: list[dict[str, Any]] = answer.body["items"]
        return items

    async def ban(
        self, session: Session, *, kind: str, value: str, minutes: int, reason: str
    ) -> dict[str, Any]:
        answer = await self._staff.call(
            session,
            COMMENTS,
            "POST",
            "/api/editor/comments/bans",
            json={"kind": kind, "value": value, "duration_minutes": minutes, "reason": reason},
        )
        created: dict[str, Any] = answer.body
        return created

    async def lift(self, session: Session, ban_id: str) -> None:
        await self._staff.call(
            session, COMMENTS, "DELETE", f"/api/editor/comments/bans/{quote(ban_id, safe='')}"
        )
