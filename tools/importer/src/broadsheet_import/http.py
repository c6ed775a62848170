"""The :class:`~broadsheet_import.platform.Platform` of a running Broadsheet, over HTTP.

Everything goes through the gateway, like any staff client: ``/api/auth/token`` to sign in
(OAuth2 password grant), ``/api/auth/refresh`` before the access token runs out (it lives 15
minutes; a long import outlives several), then the staff import endpoints of the articles and
comments services (docs/import.md). A 4xx refuses one item (:class:`PlatformError`, the import
goes on); an unreachable platform or one that keeps answering 5xx stops the run
(:class:`PlatformUnavailable`): every write is an upsert, so running again finishes the job.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import httpx

from broadsheet_import.mapping import ArticleDraft, CommentDraft, SectionRef
from broadsheet_import.platform import (
    Imported,
    ImportedItem,
    NotVisibleYet,
    Outcome,
    PlatformError,
    Upserted,
)

NOT_VISIBLE = "/problems/article-not-visible"
_REFRESH_MARGIN = 60.0  # seconds before expiry: a request never starts with a dying token
_SERVER_RETRIES = (0.5, 2.0, 5.0)


class PlatformUnavailable(Exception):
    """The platform cannot be reached (or keeps failing): the run stops; a re-run resumes."""


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _problem(response: httpx.Response) -> tuple[str, str]:
    """A problem document's type and a one-line reason (with the fields it names)."""
    try:
        body = response.json()
    except ValueError:
        return "about:blank", f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return "about:blank", f"HTTP {response.status_code}"
    reason = str(body.get("detail") or body.get("title") or f"HTTP {response.status_code}")
    fields = [
        f"{'.'.join(str(p) for p in e.get('loc', [])[1:])}: {e.get('msg', '')}"
        for e in body.get("errors") or []
        if isinstance(e, dict)
    ]
    if fields:
        reason += " (" + "; ".join(fields) + ")"
    return str(body.get("type") or "about:blank"), f"{response.status_code} {reason}"


class HttpPlatform:
    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self._base_url, transport=transport, timeout=timeout
        )
        self._credentials: tuple[str, str] | None = None
        self._access = ""
        self._refresh = ""
        self._expires = 0.0

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- tokens --------------------------------------------------------------------------------

    async def sign_in(self, email: str, password: str) -> None:
        self._credentials = (email, password)
        await self._token("/api/auth/token", {"username": email, "password": password})

    async def _token(self, path: str, form: dict[str, str] | None = None, **json: str) -> None:
        response = await self._send("POST", path, data=form, json=json or None, auth=False)
        if response.status_code in (400, 401, 403, 422):
            _, reason = _problem(response)
            raise PlatformError(
                f"Sign-in refused ({reason}): check EDITOR_EMAIL/EDITOR_PASSWORD or "
                "--email/--password; the import needs an admin account."
            )
        if response.status_code == 429:
            wait = response.headers.get("retry-after", "a few")
            raise PlatformError(f"Too many sign-ins for this account: try again in {wait} s.")
        if response.status_code != 200:
            raise PlatformUnavailable(f"sign-in answered HTTP {response.status_code}")
        body = response.json()
        self._access = str(body["access_token"])
        self._refresh = str(body["refresh_token"])
        self._expires = time.monotonic() + float(body["expires_in"])

    async def _fresh_token(self) -> None:
        if time.monotonic() < self._expires - _REFRESH_MARGIN:
            return
        try:
            await self._token("/api/auth/refresh", refresh_token=self._refresh)
        except PlatformError:
            # The refresh token is spent or expired (a long pause): sign in again.
            if self._credentials is None:
                raise
            await self.sign_in(*self._credentials)

    # -- requests ------------------------------------------------------------------------------

    async def _send(
        self, method: str, path: str, *, auth: bool = True, **kwargs: Any
    ) -> httpx.Response:
        for attempt, delay in enumerate((*_SERVER_RETRIES, None)):
            if auth:
                await self._fresh_token()
                kwargs["headers"] = {"Authorization": f"Bearer {self._access}"}
            try:
                response = await self._client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if delay is None:
                    raise PlatformUnavailable(
                        f"Cannot reach Broadsheet at {self._base_url} ({exc.__class__.__name__}"
                        f"{': ' + str(exc) if str(exc) else ''}; is it running, make run?)"
                    ) from None
            else:
                if response.status_code == 401 and auth and attempt == 0:
                    self._expires = 0.0  # revoked or clock skew: refresh, then once more
                    continue
                if response.status_code < 500 or delay is None:
                    if response.status_code >= 500:
                        raise PlatformUnavailable(
                            f"{method} {path} answered HTTP {response.status_code}"
                        )
                    return response
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _write(self, path: str, source: str, body: dict[str, Any]) -> httpx.Response:
        response = await self._send("PUT", path, params={"source": source}, json=body)
        if response.status_code >= 400:
            kind, reason = _problem(response)
            if kind == NOT_VISIBLE:
                raise NotVisibleYet(reason)
            raise PlatformError(reason)
        return response

    async def _pages(self, path: str, source: str) -> dict[int, ImportedItem]:
        found: dict[int, ImportedItem] = {}
        after = 0
        while True:
            response = await self._send("GET", path, params={"source": source, "after": after})
            if response.status_code != 200:
                raise PlatformError(_problem(response)[1])
            body = response.json()
            for item in body["items"]:
                found[int(item["wordpress_id"])] = ImportedItem(
                    id=str(item["id"]), fingerprint=str(item["fingerprint"])
                )
            if body.get("next_cursor") is None:
                return found
            after = int(body["next_cursor"])

    # -- the protocol --------------------------------------------------------------------------

    async def imported(self, source: str) -> Imported:
        return Imported(
            articles=await self._pages("/api/editor/import/articles", source),
            comments=await self._pages("/api/editor/import/comments", source),
        )

    async def ensure_section(self, section: SectionRef) -> str:
        nicename = section.wordpress_slug or section.name
        response = await self._send(
            "PUT",
            f"/api/editor/import/sections/{quote(nicename, safe='')}",
            json={"name": section.name},
        )
        if response.status_code != 200:
            raise PlatformError(_problem(response)[1])
        return str(response.json()["slug"])

    async def upsert_article(self, source: str, section: str, draft: ArticleDraft) -> Upserted:
        body = {
            "title": draft.title,
            "slug": draft.slug,
            "summary": draft.summary,
            "body": draft.body,
            "section": section,
            "tags": list(draft.tags),
            "authors": list(draft.authors),
            "status": draft.status,
            "published_at": _iso(draft.published_at),
            "scheduled_at": _iso(draft.scheduled_at),
            "created_at": _iso(draft.created_at),
            "updated_at": _iso(draft.updated_at),
            "comments_open": draft.comments_open,
            "wordpress": {"link": draft.wordpress_link, "post_name": draft.wordpress_post_name},
            "fingerprint": draft.fingerprint(),
        }
        response = await self._write(
            f"/api/editor/import/articles/{draft.wordpress_id}", source, body
        )
        answer = response.json()
        return Upserted(id=str(answer["id"]), outcome=Outcome(answer["outcome"]))

    async def upsert_comment(
        self, source: str, article_id: str, parent_id: str | None, draft: CommentDraft
    ) -> Upserted:
        body = {
            "article_id": article_id,
            "parent_id": parent_id,
            "author_name": draft.author_name,
            "author_email": draft.author_email,
            "created_at": _iso(draft.created_at),
            "body": draft.body,
            "status": draft.status,
            "fingerprint": draft.fingerprint(),
        }
        response = await self._write(
            f"/api/editor/import/comments/{draft.wordpress_id}", source, body
        )
        answer = response.json()
        return Upserted(id=str(answer["id"]), outcome=Outcome(answer["outcome"]))
