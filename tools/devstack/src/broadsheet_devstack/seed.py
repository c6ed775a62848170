"""A published article with a long threaded conversation, made through the gateway's public
staff APIs (the comments import API writes approved comments at once, no moderation queue):
what the reader-site tests and the Lighthouse benchmark look at."""

from __future__ import annotations

import hashlib
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

IMPORT_ATTEMPTS = 5


@dataclass(frozen=True)
class Conversation:
    slug: str
    section: str
    tag: str
    comment_ids: list[str]


def _import_comments(
    client: httpx.Client, article_id: str, auth: dict[str, str], comments: int, replies: int
) -> list[str]:
    source = f"https://old-{secrets.token_hex(4)}.example"
    start = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    first_id = 1 + secrets.randbelow(10**9)

    def put(n: int, parent: str | None) -> str:
        # An import is idempotent by its WordPress id: a 503 (a service briefly unavailable on a
        # loaded machine) is tried again after the Retry-After it names, a few times.
        for _ in range(IMPORT_ATTEMPTS):
            answer = put_once(n, parent)
            if answer.status_code != 503:
                break
            time.sleep(min(float(answer.headers.get("retry-after", "1")), 10))
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"comment import refused: {answer.status_code} {answer.text}")
        comment_id: str = answer.json()["id"]
        return comment_id

    def put_once(n: int, parent: str | None) -> httpx.Response:
        return client.put(
            f"/api/editor/import/comments/{first_id + n}",
            params={"source": source},
            json={
                "article_id": article_id,
                "parent_id": parent,
                "author_name": f"Reader {n}",
                "author_email": f"reader{n}@example.com",
                "created_at": (start + timedelta(minutes=n)).isoformat(),
                "body": f"<p>Comment number {n}, with <em>some</em> words &amp; a link "
                f'<a href="https://example.com/{n}">here</a>.</p>',
                "status": "approved",
                "fingerprint": hashlib.sha256(f"{source}{n}".encode()).hexdigest(),
            },
            headers=auth,
        )

    tops = comments - replies
    half = replies // 2
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda n: put(n, None), range(tops)))
        # Replies to comments spread over the thread, then replies to those replies.
        firsts = list(pool.map(lambda n: put(n, ids[(n * 7) % tops]), range(tops, tops + half)))
        seconds = list(
            pool.map(lambda n: put(n, firsts[n - tops - half]), range(tops + half, comments))
        )
    return ids + firsts + seconds


def seed_conversation(
    gateway_url: str, token: str, *, comments: int = 200, replies: int = 60
) -> Conversation:
    """An article in "Foreign Affairs" by two authors with a tag of its own, and ``comments``
    approved comments of which ``replies`` answer others (threads two and three deep)."""
    auth = {"Authorization": f"Bearer {token}"}
    tag = f"seo-{secrets.token_hex(3)}"
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        section = client.post(
            "/api/editor/sections", json={"name": "Foreign Affairs"}, headers=auth
        )
        if section.status_code not in (201, 409):
            raise RuntimeError(f"section refused: {section.text}")
        created = client.post(
            "/api/editor/articles",
            json={
                "title": "Parliament debates the harbour bridge",
                "body": "The debate ran late into the night.\n\nA vote is expected on Friday.",
                "section": "Foreign Affairs",
                "summary": "A long night in the chamber over the harbour bridge.",
                "authors": ["Ada Reporter", "Ben Writer"],
                "tags": [tag],
            },
            headers=auth,
        )
        if created.status_code != 201:
            raise RuntimeError(f"article refused: {created.text}")
        article = created.json()
        published = client.post(f"/api/editor/articles/{article['id']}/publish", headers=auth)
        if published.status_code != 200:
            raise RuntimeError(f"publishing refused: {published.text}")
        slug = published.json()["slug"]
        deadline = time.monotonic() + 60
        # The comments service learns of the article from its event.
        while client.get(f"/api/articles/{slug}/comments").status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError("the comments service never learned of the article")
            time.sleep(0.2)
        ids = _import_comments(client, article["id"], auth, comments, replies)
    return Conversation(slug, published.json()["section"]["slug"], tag, ids)


def sign_in(gateway_url: str, email: str, password: str) -> str:
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        answer = client.post("/api/auth/token", data={"username": email, "password": password})
        answer.raise_for_status()
        token: str = answer.json()["access_token"]
        return token
