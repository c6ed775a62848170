from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from ipaddress import ip_network
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from broadsheet_newsroom.bootstrap import bootstrap
from broadsheet_newsroom.main import create_app
from broadsheet_newsroom.settings import Settings
from broadsheet_shared.testing import TestClock

from .fakes import PASSWORD, FakeServices

URLS = {
    "articles": "http://articles:8001",
    "comments": "http://comments:8002",
    "notifications": "http://notifications:8003",
}


class Newsroom:
    """The Newsroom mounted at /newsroom as the gateway mounts it, over fake services."""

    def __init__(self, **settings: Any) -> None:
        self.clock = TestClock()
        self.services = FakeServices(clock=self.clock)
        self.rendered: list[dict[str, Any]] = []
        self.container = bootstrap(
            Settings(environment="test", time_zone="Europe/London", **settings),
            upstream_urls=URLS,
            trusted_proxies=[ip_network("10.0.0.0/8")],
            render_article=self._render,
            client_ip=lambda peer, forwarded: (peer == "10.1.2.3" and forwarded) or str(peer),
            transport=self.services.transport(),
            clock=self.clock,
        )
        host = FastAPI()
        host.mount("/newsroom", create_app(self.container))
        self.app = host

    def _render(self, article: Any) -> str:
        self.rendered.append(dict(article))
        return f"<!doctype html><title>{article['title']}</title>{article['body_html']}"

    def client(self, peer: str = "203.0.113.9") -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(self.app, client=(peer, 5555)),
            base_url="http://testserver",
            headers={"Sec-Fetch-Site": "same-origin"},
        )

    async def sign_in(
        self, client: httpx.AsyncClient, email: str = "ed@example.com", **extra: str
    ) -> httpx.Response:
        page = await client.get("/newsroom/sign-in")
        token = csrf_of(page.text)
        return await client.post(
            "/newsroom/sign-in",
            data={"email": email, "password": PASSWORD, "csrf_token": token, "next": "/", **extra},
        )


def csrf_of(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


@pytest.fixture
def newsroom() -> Newsroom:
    return Newsroom()


@asynccontextmanager
async def signed_in(
    newsroom: Newsroom, email: str = "ed@example.com"
) -> AsyncIterator[httpx.AsyncClient]:
    async with newsroom.client() as client:
        answer = await newsroom.sign_in(client, email)
        assert answer.status_code == 303, answer.text
        yield client
