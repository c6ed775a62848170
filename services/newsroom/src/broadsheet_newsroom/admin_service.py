"""What admins do in the Newsroom, over the articles service's admin API: staff accounts (add
one, whose owner is mailed a set-password link; change a role; disable or enable), sections
(add, rename, move up or down) and the audit log. Every call goes through :meth:`Staff.call`
with the admin's token; the articles service decides and records. Setting a password with a
link needs no session: the link's token is the proof."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from broadsheet_newsroom.service import ARTICLES, Staff
from broadsheet_newsroom.session import Session
from broadsheet_newsroom.upstream import Refused


@dataclass(frozen=True)
class AuditQuery:
    actor: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None
    cursor: str = ""


class Admin:
    def __init__(self, staff: Staff, *, page_size: int) -> None:
        self._staff = staff
        self._page_size = page_size

    # -- staff accounts ------------------------------------------------------------------------

    async def accounts(self, session: Session) -> list[dict[str, Any]]:
        answer = await self._staff.call(session, ARTICLES, "GET", "/api/editor/users")
        items: list[dict[str, Any]] = answer.body["items"]
        return items

    async def add_account(self, session: Session, *, email: str, name: str, role: str) -> None:
        # No password: the articles service mails its owner a one-time set-password link.
        await self._staff.call(
            session,
            ARTICLES,
            "POST",
            "/api/editor/users",
            json={"email": email, "name": name, "role": role},
        )

    async def change_account(
        self, session: Session, account_id: str, *, role: str | None, disabled: bool | None
    ) -> dict[str, Any]:
        changes = {k: v for k, v in (("role", role), ("disabled", disabled)) if v is not None}
        answer = await self._staff.call(
            session, ARTICLES, "PATCH", f"/api/editor/users/{quote(account_id)}", json=changes
        )
        changed: dict[str, Any] = answer.body
        return changed

    async def send_password_link(self, session: Session, account_id: str) -> None:
        # A new one-time link, mailed to the account's owner by the articles service.
        path = f"/api/editor/users/{quote(account_id)}/password-link"
        await self._staff.call(session, ARTICLES, "POST", path)

    async def set_password(self, token: str, password: str, *, client_ip: str) -> None:
        await self._staff.upstream.call(
            ARTICLES,
            "POST",
            "/api/auth/password",
            json={"token": token, "password": password},
            # Throttled by client like sign-in: the articles service trusts the gateway's word.
            headers={"X-Forwarded-For": client_ip},
        )

    # -- sections ------------------------------------------------------------------------------

    async def sections(self, session: Session) -> list[dict[str, Any]]:
        answer = await self._staff.call(session, ARTICLES, "GET", "/api/editor/sections")
        items: list[dict[str, Any]] = answer.body["items"]
        return items

    async def add_section(self, session: Session, name: str) -> None:
        await self._staff.call(
            session, ARTICLES, "POST", "/api/editor/sections", json={"name": name}
        )

    async def rename_section(self, session: Session, slug: str, name: str) -> None:
        await self._staff.call(
            session, ARTICLES, "PATCH", f"/api/editor/sections/{quote(slug)}", json={"name": name}
        )

    async def move_section(self, session: Session, slug: str, step: int) -> None:
        """Move a section one place up (-1) or down (+1) in the order readers see."""
        slugs = [s["slug"] for s in await self.sections(session)]
        if slug not in slugs:
            raise Refused("There is no such section; reload the page.")
        at = slugs.index(slug)
        to = at + step
        if not 0 <= to < len(slugs):
            return
        slugs[at], slugs[to] = slugs[to], slugs[at]
        # The whole order, as read: the service refuses it if a section came or went meanwhile.
        await self._staff.call(
            session, ARTICLES, "PUT", "/api/editor/sections", json={"slugs": slugs}
        )

    # -- the audit log -------------------------------------------------------------------------

    async def audit(self, session: Session, query: AuditQuery) -> dict[str, Any]:
        params = {
            "actor": query.actor,
            "action": query.action,
            "since": query.since.isoformat() if query.since else None,
            "until": query.until.isoformat() if query.until else None,
            "cursor": query.cursor,
            "limit": self._page_size,
        }
        answer = await self._staff.call(
            session, ARTICLES, "GET", "/api/editor/audit", params=params
        )
        page: dict[str, Any] = answer.body
        return page
