"""The whole platform for the reader-site tests: the four services as real processes on the
real Kafka, database and SMTP capture, and one published article to comment on."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from broadsheet_devstack.pytest_plugin import Infra, ServiceFactory
from broadsheet_devstack.services import DEFAULT_EDITOR_EMAIL, DEFAULT_EDITOR_PASSWORD


@dataclass(frozen=True)
class Platform:
    gateway_url: str
    token: str
    article_slug: str
    factory: ServiceFactory


def _wait_for(check: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@contextmanager
def running_platform(infra: Infra) -> Iterator[Platform]:
    """The four services, on topics and databases of their own, and one published article."""
    factory = ServiceFactory(infra, f"e{secrets.token_hex(4)}")
    try:
        # Every test here posts from 127.0.0.1: per-client limits sized for one reader would
        # make later tests' posts 429. The limits themselves are tested in the services.
        # The API contract run (test_api_contract.py) sends thousands of requests from one
        # client, sign-ins and follows included, and every import run signs in: every limit is
        # raised so that it reaches every operation instead of a wall of 429s.
        # Sign-in keeps its per-(account, client) limit (a sign-in resets it):
        # test_staff_security.py proves it through the gateway.
        # Argon2 at OWASP's floor keeps the many sign-ins quick on a shared test machine.
        # Under the contract run's load the pure-Python dev database server on two cores takes
        # longer than the production bound of 1.5 s for some reads, which would answer 503
        # (the bound itself is proved in tests/reliability/test_database_down.py).
        factory(
            "articles",
            env={
                "ARTICLES_MONGO_TIMEOUT_MS": "4000",
                "ARTICLES_LOGIN_ATTEMPTS_PER_CLIENT": "100000",
                "ARTICLES_ARGON2_MEMORY_KIB": "19456",
                "ARTICLES_ARGON2_TIME_COST": "2",
                "ARTICLES_ARGON2_PARALLELISM": "1",
            },
        )
        factory(
            "comments",
            env={
                "COMMENTS_MONGO_TIMEOUT_MS": "4000",
                "COMMENTS_RATE_LIMIT_PER_CLIENT": "100000",
                "COMMENTS_RATE_LIMIT_PER_EMAIL": "100000",
            },
        )
        factory(
            "notifications",
            env={
                "NOTIFICATIONS_MONGO_TIMEOUT_MS": "4000",
                "NOTIFICATIONS_FOLLOW_LIMIT_PER_CLIENT": "100000",
                "NOTIFICATIONS_FOLLOW_LIMIT_PER_ADDRESS": "100000",
            },
        )
        gateway = factory("gateway", env={"GATEWAY_WRITE_RATE_LIMIT": "100000"})
        with httpx.Client(base_url=gateway.url, timeout=30) as client:
            token = client.post(
                "/api/auth/token",
                data={"username": DEFAULT_EDITOR_EMAIL, "password": DEFAULT_EDITOR_PASSWORD},
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            section = client.post(
                "/api/editor/sections", json={"name": "Foreign Affairs"}, headers=auth
            )
            assert section.status_code in (201, 409), section.text
            created = client.post(
                "/api/editor/articles",
                json={
                    "title": "Talks resume in Geneva",
                    "body": "The talks resumed on Monday.\n\nBoth sides were hopeful.",
                    "section": "Foreign Affairs",
                    "summary": "Diplomats return to the table.",
                    "authors": ["Ada Reporter"],
                },
                headers=auth,
            )
            assert created.status_code == 201, created.text
            article = created.json()
            published = client.post(f"/api/editor/articles/{article['id']}/publish", headers=auth)
            assert published.status_code == 200, published.text
            slug = published.json()["slug"]
            # The comments service learns of the article from its event.
            _wait_for(lambda: client.get(f"/api/articles/{slug}/comments").status_code == 200, 60)
        yield Platform(gateway.url, token, slug, factory)
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def platform(infra: Infra) -> Iterator[Platform]:
    """The platform the reader and newsroom tests share. The API contract runs, which edit,
    unpublish and delete whatever they find, have their own (test_api_contract.py): with two
    pytest-xdist workers they may run before the tests that read this one's article."""
    with running_platform(infra) as platform:
        yield platform
