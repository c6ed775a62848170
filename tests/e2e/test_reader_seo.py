"""The reader site as outside tools see it, on the real platform: the W3C Nu HTML Checker on
every kind of page, the head that search engines and social cards read, compression and
caching at the edge. One article with a 200-comment threaded conversation (over several
comment pages) is seeded once for the module, through the comments import API."""

from __future__ import annotations

import hashlib
import html
import re
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from broadsheet_devstack.pytest_plugin import Infra

from .conftest import Platform
from .validators import assert_valid_html

pytestmark = pytest.mark.e2e

COMMENTS = 200
REPLIES = 60  # of the 200, replies to earlier comments (threads two and three deep)


@dataclass(frozen=True)
class Conversation:
    slug: str
    section: str
    tag: str
    comment_ids: list[str]


def _import_comments(client: httpx.Client, article_id: str, auth: dict[str, str]) -> list[str]:
    source = f"https://old-{secrets.token_hex(4)}.example"
    start = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    first_id = 1 + secrets.randbelow(10**9)

    def put(n: int, parent: str | None) -> str:
        answer = client.put(
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
        assert answer.status_code in (200, 201), answer.text
        comment_id: str = answer.json()["id"]
        return comment_id

    tops = COMMENTS - REPLIES
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda n: put(n, None), range(tops)))
        # Replies to comments spread over the thread, then replies to those replies.
        firsts = list(pool.map(lambda n: put(n, ids[(n * 7) % tops]), range(tops, tops + 40)))
        seconds = list(
            pool.map(lambda n: put(n, firsts[n - tops - 40]), range(tops + 40, COMMENTS))
        )
    return ids + firsts + seconds


@pytest.fixture(scope="module")
def conversation(platform: Platform) -> Iterator[Conversation]:
    auth = {"Authorization": f"Bearer {platform.token}"}
    tag = f"seo-{secrets.token_hex(3)}"
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
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
        assert created.status_code == 201, created.text
        article = created.json()
        published = client.post(f"/api/editor/articles/{article['id']}/publish", headers=auth)
        assert published.status_code == 200, published.text
        slug = published.json()["slug"]
        section = published.json()["section"]["slug"]
        for _ in range(300):  # the comments service learns of the article from its event
            if client.get(f"/api/articles/{slug}/comments").status_code == 200:
                break
            time.sleep(0.2)
        ids = _import_comments(client, article["id"], auth)
    yield Conversation(slug, section, tag, ids)


def _next_page(page: str) -> str:
    found = re.search(r'rel="next" href="([^"]+)"', page)
    assert found, "no next comment page"
    return html.unescape(found.group(1)).split("#")[0]


def _mailed_link(infra: Infra, address: str, kind: str) -> str:
    mail = infra.wait_for_mail(
        lambda m: address in m.envelope_to and f"/subscriptions/{kind}/" in (m.text or ""),
        timeout=30,
    )
    text = mail.text or ""
    found = re.search(rf"https?://[^\s\"'<>]*/subscriptions/{kind}/[^\s\"'<>]+", text)
    assert found, f"no {kind} link in:\n{text}"
    return urlsplit(found.group(0)).path


def test_every_page_kind_validates(
    platform: Platform, conversation: Conversation, infra: Infra
) -> None:
    slug = conversation.slug
    follower = f"nu-{secrets.token_hex(3)}@example.com"
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:

        def page(path: str, status: int = 200) -> str:
            answer = client.get(path)
            assert answer.status_code == status, (path, answer.status_code)
            return answer.text

        article = page(f"/articles/{slug}")
        second_path = _next_page(article)
        second = page(second_path)
        # A reply form to a comment of the second page.
        on_second = re.findall(r'<li id="comment-([0-9a-f]{24})"', second)
        assert on_second, "no comment on the second page"
        assert client.post(f"/articles/{slug}/follow", data={"email": follower}).status_code in (
            200,
            303,
        )
        confirm_path = _mailed_link(infra, follower, "confirm")
        confirm_page = page(confirm_path)
        assert client.post(confirm_path).status_code == 200
        # The first notification carries the unsubscribe link.
        posted = client.post(
            f"/api/articles/{slug}/comments",
            json={"author_name": "Nu", "author_email": "nu@example.com", "body": "Validated."},
        )
        assert posted.status_code == 201, posted.text
        unsubscribe_path = _mailed_link(infra, follower, "unsubscribe")
        pages = {
            "front page": page("/"),
            "section page": page(f"/sections/{conversation.section}"),
            "tag page": page(f"/tags/{conversation.tag}"),
            "article, comments page 1": article,
            "article, comments page 2": second,
            "article, reply form": page(f"{second_path}&replytocom={on_second[0]}"),
            "follow page": page(f"/articles/{slug}/follow"),
            "confirm page": confirm_page,
            "unsubscribe page": page(unsubscribe_path),
            "404 page": page("/articles/no-such-article-here", 404),
        }
    assert_valid_html(pages)
