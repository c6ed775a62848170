"""schemathesis over the service's OpenAPI, against a real uvicorn process: no 5xx, ever."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from broadsheet_shared.auth import Principal, TokenIssuer
from broadsheet_shared.devkeys import DEV_JWT_PRIVATE_KEY
from broadsheet_shared.events import ArticleData, ArticlePublishedV1, SectionRef, topics
from broadsheet_shared.kafka.producer import EventProducer

pytestmark = pytest.mark.integration


async def publish_article(bootstrap: str, topic: str, slug: str) -> None:
    producer = EventProducer(bootstrap, "schemathesis")
    await producer.start()
    try:
        event = ArticlePublishedV1(
            subject=f"id-{slug}",
            data=ArticleData(
                article_id=f"id-{slug}",
                slug=slug,
                title="Fuzzed",
                section=SectionRef(slug="s", name="S"),
                url_path=f"/articles/{slug}",
                comments_open=True,
                published_at=datetime.now(UTC),
                revision=1,
            ),
        )
        await producer.publish(event, topic)
    finally:
        await producer.stop()


async def test_schemathesis_finds_no_server_errors(
    service_process: Any, infra: Any, unique_prefix: str, tmp_path: Path
) -> None:
    service = service_process(
        "comments",
        env={
            # Generated requests would otherwise mostly meet 429s and test nothing else.
            "COMMENTS_RATE_LIMIT_PER_CLIENT": "1000000",
            "COMMENTS_RATE_LIMIT_PER_EMAIL": "1000000",
            "COMMENTS_LOG_LEVEL": "WARNING",
        },
    )
    token = TokenIssuer(
        DEV_JWT_PRIVATE_KEY,
        issuer="broadsheet-articles",
        audience="broadsheet",
        ttl=timedelta(minutes=15),
    ).issue(Principal("editor-1", "admin", "Ada"))
    # Most generated requests should reach a real, published article, not stop at a 404.
    await publish_article(infra.kafka_bootstrap, f"{unique_prefix}.{topics.ARTICLES}", "fuzz")
    async with httpx.AsyncClient(base_url=service.url) as client:
        for _ in range(300):
            if (await client.get("/api/articles/fuzz/comments/count")).status_code == 200:
                break
            await asyncio.sleep(0.1)
    config = tmp_path / "schemathesis.toml"
    config.write_text('[parameters]\n"path.slug" = "fuzz"\n')
    cli = Path(sys.executable).parent / "schemathesis"
    result = await asyncio.to_thread(
        subprocess.run,
        [
            str(cli),
            "--config-file",
            str(config),
            "run",
            f"{service.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            # Only the deterministic phases: they still send every operation its examples and
            # the valid and invalid inputs its schema implies, straight at the service. Every
            # route here is also fuzzed through the gateway, stateful phase included, anonymous
            # and signed in as an admin, with every check (tests/e2e/test_api_contract.py).
            "--phases",
            "examples,coverage",
            "--seed",
            "1",
            # One worker: hypothesis' lambda-source inspection is not thread-safe on CPython
            # 3.11 ("AST constructor recursion depth mismatch" from two workers).
            "--workers",
            "1",
            "-H",
            f"Authorization: Bearer {token}",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
