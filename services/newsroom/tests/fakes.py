"""Stand-in services for the Newsroom's unit tests: the articles service's staff API as the
Newsroom uses it (tokens, articles, revisions, preview) and the comments queue, in memory.
Each answers through an httpx transport, as the real ones do over the network."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
import jwt

from broadsheet_shared.auth import Principal, TokenIssuer
from broadsheet_shared.devkeys import DEV_JWT_PRIVATE_KEY

ISSUER = TokenIssuer(
    DEV_JWT_PRIVATE_KEY,
    issuer="broadsheet-articles",
    audience="broadsheet",
    ttl=timedelta(minutes=15),
)
PASSWORD = "correct horse battery"
STAFF = {
    "ed@example.com": Principal("ed-1", "editor", "Ed Itor"),
    "mo@example.com": Principal("mo-1", "moderator", "Mo Derator"),
    "ad@example.com": Principal("ad-1", "admin", "Ad Min"),
}
SECTIONS = [
    {"slug": "foreign-affairs", "name": "Foreign Affairs"},
    {"slug": "sport", "name": "Sport"},
]


def _json(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def _problem(status: int, detail: str, **extra: Any) -> httpx.Response:
    body = {"type": "about:blank", "title": "x", "status": status, "detail": detail, **extra}
    return httpx.Response(
        status, content=json.dumps(body), headers={"content-type": "application/problem+json"}
    )


@dataclass
class FakeServices:
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    expires_in: int = 900
    articles: dict[str, dict[str, Any]] = field(default_factory=dict)
    revisions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    refresh_tokens: dict[str, Principal] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    requests: list[httpx.Request] = field(default_factory=list)
    # A service name here answers 503 to everything (it is "down").
    down: set[str] = field(default_factory=set)
    throttled: bool = False
    held_comments: int = 3
    # The comments service's held comments (made from ``held_comments`` at first use) and bans.
    held: list[dict[str, Any]] = field(default_factory=list)
    bans: dict[str, dict[str, Any]] = field(default_factory=dict)
    decided: dict[str, str] = field(default_factory=dict)
    # The admin API: sections in order, staff accounts, set-password links (token → email).
    sections: list[dict[str, str]] = field(default_factory=lambda: [dict(s) for s in SECTIONS])
    accounts: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, e)), "email": e, "name": p.name}
            | {"role": p.role, "disabled": False}
            for e, p in STAFF.items()
        ]
    )
    links: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    # Comments not in the queue (approved ones, say), found by the search only.
    others: list[dict[str, Any]] = field(default_factory=list)
    # The notifications service's delivery ledger, by id; and the suppressed addresses.
    deliveries: dict[str, dict[str, Any]] = field(default_factory=dict)
    suppressed: list[str] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def tokens(self, principal: Principal) -> dict[str, Any]:
        refresh = uuid.uuid4().hex
        self.refresh_tokens[refresh] = principal
        return {
            # Signed at the real time: the Newsroom verifies it against the real clock.
            "access_token": ISSUER.issue(principal),
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "refresh_token": refresh,
        }

    def _caller(self, request: httpx.Request) -> Principal | None:
        header = request.headers.get("authorization", "")
        for principal in STAFF.values():
            if header.startswith("Bearer ") and self._token_of(header[7:]) == principal.subject:
                return principal
        return None

    @staticmethod
    def _token_of(token: str) -> str | None:
        try:
            return str(jwt.decode(token, options={"verify_signature": False})["sub"])
        except jwt.PyJWTError:
            return None

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        service = {8001: "articles", 8002: "comments"}.get(request.url.port or 0, "notifications")
        if service in self.down:
            return _problem(503, "down")
        path, method = request.url.path, request.method
        if path == "/api/auth/token":
            return self._sign_in(request)
        if path == "/api/auth/refresh":
            token = json.loads(request.content)["refresh_token"]
            principal = self.refresh_tokens.pop(token, None)
            if principal is None or token in self.revoked:
                return _problem(401, "spent")
            return _json(200, self.tokens(principal))
        if path == "/api/auth/password" and method == "POST":
            return self._set_password(json.loads(request.content))
        if path == "/api/auth/logout" and method == "POST":
            self.revoked.add(json.loads(request.content)["refresh_token"])
            return _json(204)
        caller = self._caller(request)
        if caller is None:
            return _problem(401, "no token")
        if path == "/api/editor/comments/count":  # any staff (it names no one)
            return _json(200, {"status": "pending", "count": len(self._held())})
        if path == "/api/editor/notifications/deliveries/count":
            failed = [d for d in self.deliveries.values() if d["state"] == "failed"]
            return _json(200, {"state": "failed", "count": len(failed)})
        if service in ("comments", "notifications"):
            if caller.role == "editor":
                return _problem(403, "moderators only")
            if service == "notifications":
                return self._notifications(request, method, path)
            return self._comments(request, method, path)
        if caller.role == "moderator":
            return _problem(403, "editors only")
        return self._articles(request, method, path, caller)

    def held_comment(self, n: int, **changes: Any) -> dict[str, Any]:
        return {
            "id": f"{n:024x}",
            "article_id": "art-1",
            "parent_id": None,
            "author_name": f"Reader {n}",
            "author_email": f"reader{n}@example.com",
            "client": f"198.51.100.{n}",
            "status": "pending",
            "body_markdown": f"comment {n}",
            "body_html": f"<p>comment {n}</p>",
            "created_at": "2026-11-30T12:00:00Z",
            "edited": False,
            "moderation_reasons": ["first comment from this address"],
            "article": {"title": "Rain in Spain", "slug": "rain", "url_path": "/articles/rain"},
            "parent": None,
            **changes,
        }

    def _held(self) -> list[dict[str, Any]]:
        if not self.held and not self.decided:
            self.held = [self.held_comment(n + 1) for n in range(self.held_comments)]
        return self.held

    @staticmethod
    def _paged(request: httpx.Request, found: list[dict[str, Any]]) -> httpx.Response:
        start = int(request.url.params.get("cursor") or 0)
        limit = int(request.url.params.get("limit") or 50)
        more = start + limit < len(found)
        return _json(
            200,
            {
                "items": found[start : start + limit],
                "next_cursor": str(start + limit) if more else None,
            },
        )

    def _comments(self, request: httpx.Request, method: str, path: str) -> httpx.Response:
        self._held()
        if path == "/api/editor/comments" and method == "GET":
            oldest = request.url.params.get("order") == "oldest"
            return self._paged(request, self.held[::-1] if oldest else self.held)
        if path == "/api/editor/comments/search":
            field = {"email": "author_email", "client": "client"}[request.url.params["kind"]]
            value = request.url.params["value"].lower()
            found = [c for c in [*self.held, *self.others] if str(c[field]).lower() == value]
            return self._paged(request, found)
        if path == "/api/editor/comments/moderate":
            body = json.loads(request.content)
            outcomes = []
            for comment_id in body["ids"]:
                comment = next((c for c in self.held if c["id"] == comment_id), None)
                if comment is None:
                    outcomes.append(
                        {"id": comment_id, "status": None, "refused": "Already decided."}
                    )
                    continue
                self.held.remove(comment)
                self.decided[comment_id] = body["action"]
                outcomes.append({"id": comment_id, "status": body["action"], "refused": None})
            return _json(200, {"items": outcomes})
        if path == "/api/editor/comments/bans" and method == "GET":
            return _json(200, {"items": list(self.bans.values())})
        if path == "/api/editor/comments/bans":
            body = json.loads(request.content)
            if body["kind"] == "email" and "@" not in body["value"]:
                errors = [{"loc": ["body", "value"], "msg": "not an email", "type": "x"}]
                return _problem(422, "invalid", errors=errors)
            ban_id = f"{body['kind']}:{body['value']}"
            until = self.clock() + timedelta(minutes=body["duration_minutes"])
            self.bans[ban_id] = {
                "id": ban_id,
                "kind": body["kind"],
                "value": body["value"],
                "until": until.isoformat(),
                "reason": body["reason"],
            }
            return _json(201, self.bans[ban_id])
        if path.startswith("/api/editor/comments/bans/") and method == "DELETE":
            ban_id = unquote(path.rsplit("/", 1)[1])
            return _json(204) if self.bans.pop(ban_id, None) else _problem(404, "no such ban")
        return _problem(404, "unknown route")

    def delivery(self, n: int, state: str = "failed") -> dict[str, Any]:
        found = {
            "id": f"{n:032x}",
            "kind": "reply",
            "state": state,
            "recipient": f"r***{n}@example.com",
            "article_id": "art-1",
            "source_event_id": f"event-{n}",
            "comment_ids": [f"{n:024x}"],
            "attempts": 3 if state == "failed" else 0,
            "created_at": "2026-11-30T12:00:00Z",
            "next_attempt_at": "2026-11-30T12:00:00Z",
            "sent_at": None,
            "last_error": "550 mailbox unavailable" if state == "failed" else None,
        }
        self.deliveries[found["id"]] = found
        return found

    def _notifications(self, request: httpx.Request, method: str, path: str) -> httpx.Response:
        if path == "/api/editor/notifications/deliveries":
            # Newest id first; the cursor is the last id shown, as the service's.
            state = request.url.params.get("state")
            below = request.url.params.get("cursor")
            found = sorted(
                (
                    d
                    for d in self.deliveries.values()
                    if state in (None, d["state"]) and (below is None or d["id"] < below)
                ),
                key=lambda d: str(d["id"]),
                reverse=True,
            )
            limit = int(request.url.params.get("limit") or 50)
            more = len(found) > limit
            return _json(
                200,
                {"items": found[:limit], "next_cursor": found[limit - 1]["id"] if more else None},
            )
        if path.endswith("/retry") and method == "POST":
            delivery = self.deliveries.get(path.split("/")[-2])
            if delivery is None:
                return _problem(404, "There is no such delivery.")
            if delivery["state"] != "failed":
                detail = f"Only failed deliveries can be retried; this one is {delivery['state']}."
                return _problem(409, detail)
            delivery.update(state="pending", attempts=0, last_error=None)
            return _json(200, delivery)
        if path == "/api/editor/notifications/suppressions" and method == "POST":
            email = json.loads(request.content)["email"]
            if "@" not in email:
                errors = [{"loc": ["body", "email"], "msg": "not an email", "type": "x"}]
                return _problem(422, "invalid", errors=errors)
            self.suppressed.append(email)
            return _json(200, {"email": email, "state": "suppressed"})
        return _problem(404, "unknown route")

    def _sign_in(self, request: httpx.Request) -> httpx.Response:
        if self.throttled:
            return httpx.Response(429, json={"status": 429}, headers={"Retry-After": "42"})
        form = dict(parse_qsl(request.content.decode()))
        principal = STAFF.get(form["username"])
        if principal is None or form["password"] != PASSWORD:
            return _problem(401, "Wrong email or password.")
        return _json(200, self.tokens(principal))

    def _set_password(self, body: dict[str, Any]) -> httpx.Response:
        if len(body["password"]) < 12:
            errors = [{"loc": ["body", "password"], "msg": "too short", "type": "x"}]
            return _problem(422, "invalid", errors=errors)
        email = self.links.pop(body["token"], None)
        if email is None:
            return _problem(400, "This set-password link is not valid.")
        self.passwords[email] = body["password"]
        return _json(204)

    def _admin(self, request: httpx.Request, method: str, path: str, body: Any) -> httpx.Response:
        if path == "/api/editor/users" and method == "GET":
            return _json(200, {"items": self.accounts})
        if path == "/api/editor/users" and method == "POST":
            if any(a["email"] == body["email"] for a in self.accounts):
                return _problem(409, "An editor with this email exists.")
            if "password" in body:
                return _problem(422, "the Newsroom never types a password")
            account = {"id": str(uuid.uuid4()), **body, "disabled": False}
            self.accounts.append(account)
            self.links[f"link-for-{body['email']}-0123456789"] = body["email"]
            return _json(201, account)
        if path.endswith("/password-link") and method == "POST":
            account = next(a for a in self.accounts if a["id"] == path.split("/")[-2])
            if account["disabled"]:
                return _problem(409, "A disabled account gets no link: enable it first.")
            self.links[f"new-link-for-{account['email']}-0123456789"] = account["email"]
            return _json(204)
        if path.startswith("/api/editor/users/") and method == "PATCH":
            account = next(a for a in self.accounts if a["id"] == path.rsplit("/", 1)[1])
            if account["email"] == "ad@example.com" and body.get("disabled"):
                return _problem(409, "Admins cannot disable or demote themselves.")
            account.update(body)
            return _json(200, account)
        if path == "/api/editor/sections" and method == "POST":
            if any(s["name"] == body["name"] for s in self.sections):
                return _problem(409, "A section with this name exists.")
            self.sections.append({"slug": body["name"].lower(), "name": body["name"]})
            return _json(201, self.sections[-1])
        if path == "/api/editor/sections" and method == "PUT":
            by_slug = {s["slug"]: s for s in self.sections}
            if sorted(body["slugs"]) != sorted(by_slug):
                return _problem(409, "The sections changed meanwhile.")
            self.sections = [by_slug[slug] for slug in body["slugs"]]
            return _json(200, {"items": self.sections})
        if path.startswith("/api/editor/sections/") and method == "PATCH":
            section = next(s for s in self.sections if s["slug"] == path.rsplit("/", 1)[1])
            section["name"] = body["name"]
            return _json(200, section)
        if path == "/api/editor/audit":
            entry = {
                "id": "e1",
                "source": "articles",
                "actor_id": "ad-1",
                "actor_name": "Ad Min",
                "actor_role": "admin",
                "action": "section.renamed",
                "target": "sport",
                "details": {"name": "Sports"},
                "client": "203.0.113.9",
                "at": "2026-11-30T18:00:00Z",
            }
            return _json(200, {"items": [entry], "next_cursor": "c2"})
        return _problem(404, "no such admin route")

    def _validate(self, body: dict[str, Any]) -> httpx.Response | None:
        errors = []
        if "title" in body and not str(body["title"]).strip():
            errors.append({"loc": ["body", "title"], "msg": "must not be blank", "type": "x"})
        if "section" in body and body["section"] not in {s["name"] for s in SECTIONS}:
            errors.append({"loc": ["body", "section"], "msg": "Unknown section", "type": "x"})
        if body.get("hero_image_url") and not body.get("hero_image_alt"):
            msg = "Describe the hero image"
            errors.append({"loc": ["body", "hero_image_alt"], "msg": msg, "type": "x"})
        if errors:
            return _problem(422, "invalid", errors=errors)
        return None

    def _article_out(self, data: dict[str, Any]) -> dict[str, Any]:
        section = next(s for s in SECTIONS if s["name"] == data["section"])
        slug = re.sub(r"[^a-z0-9]+", "-", data["title"].lower()).strip("-")
        return {
            **data,
            "slug": slug,
            "section": section,
            "body_html": f"<p>{data['body']}</p>",
            "url_path": f"/articles/{slug}",
        }

    def _revise(self, article: dict[str, Any], reason: str, editor: str) -> None:
        self.revisions.setdefault(article["id"], []).append(
            {
                **{k: article[k] for k in ("title", "summary", "body", "tags", "status")},
                "revision": article["revision"],
                "reason": reason,
                "editor": editor,
                "created_at": self.clock().isoformat(),
                "section": article["section"]["name"],
                "slug": article["slug"],
                "authors": [],
                "hero_image_url": article.get("hero_image_url"),
                "hero_image_alt": article.get("hero_image_alt"),
                "comments_open": True,
            }
        )

    def add(self, caller: Principal, body: dict[str, Any]) -> dict[str, Any]:
        now = self.clock().isoformat()
        article = {
            **self._article_out(body),
            "id": str(uuid.uuid4()),
            "status": "draft",
            "revision": 1,
            "created_at": now,
            "updated_at": now,
            "published_at": None,
            "scheduled_at": None,
            "authors": [caller.name],
            "comments_open": True,
        }
        self.articles[article["id"]] = article
        self._revise(article, "created", caller.name)
        return article

    def _articles(
        self, request: httpx.Request, method: str, path: str, caller: Principal
    ) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        if path.startswith(("/api/editor/users", "/api/editor/audit")) or (
            path.startswith("/api/editor/sections") and method != "GET"
        ):
            if caller.role != "admin":
                return _problem(403, "admins only")
            return self._admin(request, method, path, body)
        if path == "/api/editor/sections":
            return _json(200, {"items": self.sections})
        if path == "/api/editor/articles/preview":
            return self._validate(body) or _json(200, self._article_out(body))
        if path == "/api/editor/articles" and method == "GET":
            params = request.url.params
            items = [
                a
                for a in self.articles.values()
                if params.get("status", a["status"]) == a["status"]
                and params.get("section", a["section"]["slug"]) == a["section"]["slug"]
                and params.get("q", "").lower() in a["title"].lower()
            ]
            items.sort(key=lambda a: a["updated_at"], reverse=True)
            offset, limit = int(params.get("offset", 0)), int(params.get("limit", 20))
            return _json(
                200,
                {
                    "items": items[offset : offset + limit],
                    "total": len(items),
                    "offset": offset,
                    "limit": limit,
                },
            )
        if path == "/api/editor/articles" and method == "POST":
            return self._validate(body) or _json(201, self.add(caller, body))
        match = re.fullmatch(r"/api/editor/articles/([^/]+)(/[a-z]+)?", path)
        if match is None or match.group(1) not in self.articles:
            return _problem(404, "No such article.")
        article = self.articles[match.group(1)]
        action = match.group(2)
        if action == "/revisions":
            return _json(200, {"items": self.revisions[article["id"]]})
        if action == "/publish":
            at = (body or {}).get("at")
            if at:
                article.update(status="scheduled", scheduled_at=at)
            else:
                article.update(status="published", published_at=self.clock().isoformat())
            return _json(200, article)
        if action == "/unpublish":
            if article["status"] != "published":
                return _problem(409, "It is not published.")
            article["status"] = "unpublished"
            return _json(200, article)
        if method == "PATCH":
            wanted = request.headers.get("if-match", "").strip('"')
            if wanted != str(article["revision"]):
                return _problem(412, "stale")
            invalid = self._validate(body)
            if invalid:
                return invalid
            article.update(
                self._article_out(
                    {**article, **body, "section": body.get("section", article["section"]["name"])}
                )
            )
            article["revision"] += 1
            article["updated_at"] = self.clock().isoformat()
            self._revise(article, "edited", caller.name)
            return _json(200, article)
        return _json(200, article)
