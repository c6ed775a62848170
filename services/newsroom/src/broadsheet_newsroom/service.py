"""The Newsroom's use cases: sign-in and the session's tokens (:class:`Staff`), and what editors
do with articles (:class:`Desk`). Every call to a service goes through :class:`Staff.call`, with
the signed-in person's token, refreshed on the server when it is about to expire."""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from broadsheet_newsroom.schemas import ArticleForm
from broadsheet_newsroom.session import Session, SessionStore
from broadsheet_newsroom.timezones import to_utc
from broadsheet_newsroom.upstream import (
    Answer,
    FieldErrors,
    NotFoundPage,
    ServiceUnavailable,
    SignInRequired,
    StaleVersion,
    UpstreamClient,
)
from broadsheet_shared.auth import InvalidToken, TokenVerifier

ARTICLES = "articles"
COMMENTS = "comments"
NOTIFICATIONS = "notifications"
# An access token this close to expiry is refreshed before it is used.
REFRESH_MARGIN = timedelta(seconds=30)
STATUSES = ("draft", "scheduled", "published", "unpublished")


class Staff:
    def __init__(
        self,
        upstream: UpstreamClient,
        sessions: SessionStore,
        verifier: TokenVerifier,
        clock: Callable[[], datetime],
    ) -> None:
        self.upstream = upstream
        self.sessions = sessions
        self._verifier = verifier
        self._clock = clock

    async def sign_in(
        self, email: str, password: str, *, time_zone: str | None, client_ip: str
    ) -> Session:
        answer = await self.upstream.call(
            ARTICLES,
            "POST",
            "/api/auth/token",
            data={"username": email, "password": password},
            # The articles service throttles by client: it sees the reader's address when it
            # trusts the gateway (ARTICLES_TRUSTED_PROXIES), as for any proxied sign-in.
            headers={"X-Forwarded-For": client_ip},
        )
        tokens = answer.body
        try:
            principal = self._verifier.verify(tokens["access_token"])
        except InvalidToken:
            raise SignInRequired("The sign-in answer could not be read.") from None
        session = self.sessions.start(
            principal, tokens["access_token"], int(tokens["expires_in"]), tokens["refresh_token"]
        )
        session.time_zone = time_zone
        return session

    async def sign_out(self, session: Session) -> None:
        """Forget the session and revoke its refresh token (and so its whole chain)."""
        self.sessions.end(session.id)
        await self.upstream.call(
            ARTICLES, "POST", "/api/auth/logout", json={"refresh_token": session.refresh_token}
        )

    async def _fresh(self, session: Session) -> None:
        if session.access_expires - self._clock() > REFRESH_MARGIN:
            return
        try:
            answer = await self.upstream.call(
                ARTICLES,
                "POST",
                "/api/auth/refresh",
                json={"refresh_token": session.refresh_token},
            )
        except SignInRequired:
            self.sessions.end(session.id)
            raise
        tokens = answer.body
        self.sessions.renew(
            session, tokens["access_token"], int(tokens["expires_in"]), tokens["refresh_token"]
        )

    async def call(
        self, session: Session, service: str, method: str, path: str, **kwargs: Any
    ) -> Answer:
        await self._fresh(session)
        try:
            return await self.upstream.call(
                service, method, path, token=session.access_token, **kwargs
            )
        except SignInRequired:
            # The account changed or was disabled: its tokens are over, and so is the session.
            self.sessions.end(session.id)
            raise


@dataclass(frozen=True)
class ArticleQuery:
    status: str = ""
    section: str = ""
    q: str = ""
    page: int = 1


@dataclass(frozen=True)
class Conflict:
    """A stale save: what the editor typed and the article as it now is."""

    yours: ArticleForm
    theirs: Mapping[str, Any]


def _article_path(article_id: str) -> str:
    return f"/api/editor/articles/{quote(article_id, safe='')}"


def _if_match(form: ArticleForm) -> dict[str, str]:
    return {"If-Match": f'"{form.revision}"'} if form.revision.isdigit() else {}


class Desk:
    def __init__(self, staff: Staff, *, page_size: int, clock: Callable[[], datetime]) -> None:
        self._staff = staff
        self._page_size = page_size
        self._clock = clock

    async def sections(self, session: Session) -> list[dict[str, Any]]:
        answer = await self._staff.call(session, ARTICLES, "GET", "/api/editor/sections")
        items: list[dict[str, Any]] = answer.body["items"]
        return items

    async def _count(self, session: Session, status: str) -> tuple[int, list[dict[str, Any]]]:
        answer = await self._staff.call(
            session,
            ARTICLES,
            "GET",
            "/api/editor/articles",
            params={"status": status, "limit": 5},
        )
        return int(answer.body["total"]), list(answer.body["items"])

    async def _tile(self, session: Session, service: str, path: str, **params: str) -> str:
        """A count from a service's count route (any staff may read them: they name no one),
        or "unavailable" when that service is down, so the rest of the dashboard still shows."""
        try:
            answer = await self._staff.call(session, service, "GET", path, params=params)
        except ServiceUnavailable:
            return "unavailable"
        return str(int(answer.body["count"]))

    async def dashboard(self, session: Session) -> dict[str, Any]:
        (drafts, _), (scheduled, upcoming), published, held, failed = await asyncio.gather(
            self._count(session, "draft"),
            self._count(session, "scheduled"),
            self._count(session, "published"),
            self._tile(session, COMMENTS, "/api/editor/comments/count", status="pending"),
            self._tile(
                session, NOTIFICATIONS, "/api/editor/notifications/deliveries/count", state="failed"
            ),
        )
        today = self._clock().astimezone(UTC).date()
        published_today = [
            a
            for a in published[1]
            if a.get("published_at")
            and datetime.fromisoformat(str(a["published_at"]).replace("Z", "+00:00")).date()
            == today
        ]
        return {
            "drafts": drafts,
            "scheduled": scheduled,
            "upcoming": sorted(upcoming, key=lambda a: str(a.get("scheduled_at"))),
            "published_today": published_today,
            "held": held,
            "failed": failed,
        }

    async def articles(self, session: Session, query: ArticleQuery) -> dict[str, Any]:
        answer = await self._staff.call(
            session,
            ARTICLES,
            "GET",
            "/api/editor/articles",
            params={
                "status": query.status,
                "section": query.section,
                "q": query.q,
                "offset": (query.page - 1) * self._page_size,
                "limit": self._page_size,
            },
        )
        total = int(answer.body["total"])
        pages = max(1, -(-total // self._page_size))
        return {"items": answer.body["items"], "total": total, "pages": pages}

    async def article(self, session: Session, article_id: str) -> dict[str, Any]:
        answer = await self._staff.call(session, ARTICLES, "GET", _article_path(article_id))
        article: dict[str, Any] = answer.body
        return article

    async def preview(self, session: Session, form: ArticleForm) -> dict[str, Any]:
        answer = await self._staff.call(
            session, ARTICLES, "POST", "/api/editor/articles/preview", json=form.content()
        )
        article: dict[str, Any] = answer.body
        return article

    def schedule_time(self, session: Session, form: ArticleForm, zone: str) -> str:
        """Publish at, in UTC, as the API takes it; a field error when missing or malformed."""
        if not form.publish_at.strip():
            raise FieldErrors({"publish_at": "Choose when to publish."}, [])
        try:
            return to_utc(form.publish_at, zone).isoformat()
        except ValueError:
            raise FieldErrors({"publish_at": "Enter a date and time."}, []) from None

    async def create(self, session: Session, form: ArticleForm) -> dict[str, Any]:
        answer = await self._staff.call(
            session, ARTICLES, "POST", "/api/editor/articles", json=form.content()
        )
        article: dict[str, Any] = answer.body
        return article

    async def save(
        self, session: Session, article_id: str, form: ArticleForm
    ) -> dict[str, Any] | Conflict:
        """The edit saved, or the conflict when someone saved since ``form.revision``."""
        try:
            answer = await self._staff.call(
                session,
                ARTICLES,
                "PATCH",
                _article_path(article_id),
                json=form.content(),
                headers=_if_match(form),
            )
        except StaleVersion:
            return Conflict(form, await self.article(session, article_id))
        article: dict[str, Any] = answer.body
        return article

    async def publish(
        self, session: Session, article_id: str, at: str | None = None
    ) -> dict[str, Any]:
        answer = await self._staff.call(
            session,
            ARTICLES,
            "POST",
            f"{_article_path(article_id)}/publish",
            json={"at": at} if at else None,
        )
        article: dict[str, Any] = answer.body
        return article

    async def unpublish(self, session: Session, article_id: str) -> dict[str, Any]:
        answer = await self._staff.call(
            session, ARTICLES, "POST", f"{_article_path(article_id)}/unpublish"
        )
        article: dict[str, Any] = answer.body
        return article

    async def revisions(self, session: Session, article_id: str) -> list[dict[str, Any]]:
        answer = await self._staff.call(
            session, ARTICLES, "GET", f"{_article_path(article_id)}/revisions"
        )
        items: list[dict[str, Any]] = answer.body["items"]
        return sorted(items, key=lambda r: int(r["revision"]), reverse=True)

    async def diff(
        self, session: Session, article_id: str, old: int, new: int
    ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        by_number = {int(r["revision"]): r for r in await self.revisions(session, article_id)}
        if old not in by_number or new not in by_number:
            raise NotFoundPage("There is no such revision.")
        return by_number[old], by_number[new], revision_diff(by_number[old], by_number[new])

    async def restore(self, session: Session, article_id: str, number: int) -> dict[str, Any]:
        """Restore a revision's content as a new revision (the history keeps everything)."""
        revisions = {int(r["revision"]): r for r in await self.revisions(session, article_id)}
        if number not in revisions:
            raise NotFoundPage("There is no such revision.")
        old = revisions[number]
        form = ArticleForm(
            title=old["title"],
            section=old["section"],
            tags=", ".join(old["tags"]),
            summary=old["summary"],
            body=old["body"],
            hero_image_url=old.get("hero_image_url") or "",
            hero_image_alt=old.get("hero_image_alt") or "",
            revision=str(max(revisions)),
        )
        saved = await self.save(session, article_id, form)
        if isinstance(saved, Conflict):
            raise StaleVersion("Someone saved this article meanwhile: look again and retry.")
        return saved


_DIFFED = ("title", "section", "tags", "summary", "hero_image_url", "hero_image_alt", "body")


def _lines(revision: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    for name in _DIFFED:
        value = revision.get(name)
        if isinstance(value, list):
            value = ", ".join(value)
        if name == "body":
            lines.append("body:")
            lines.extend(str(value or "").splitlines())
        else:
            lines.append(f"{name}: {value or ''}")
    return lines


def revision_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """A unified diff of two revisions' content, a line per field and per body line."""
    return list(
        difflib.unified_diff(
            _lines(old),
            _lines(new),
            fromfile=f"revision {old['revision']}",
            tofile=f"revision {new['revision']}",
            lineterm="",
        )
    )
