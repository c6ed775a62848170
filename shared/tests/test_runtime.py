from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pydantic_settings import SettingsConfigDict

from broadsheet_shared import runtime as runtime_module
from broadsheet_shared.events import topics
from broadsheet_shared.runtime import ServiceRuntime
from broadsheet_shared.settings import DatabaseServiceSettings

pytestmark = pytest.mark.unit


class DemoSettings(DatabaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore", frozen=True)
    service_name: str = "demo"


async def test_topics_are_created_with_the_configured_replicas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a three-broker cluster a topic with one replica dies with its broker: the services
    create theirs with KAFKA_REPLICATION_FACTOR copies."""
    created: list[tuple[list[str], int, Mapping[str, Mapping[str, str]]]] = []

    async def ensure_topics(
        _: str,
        names: list[str],
        *,
        replication_factor: int = 1,
        configs: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        created.append((list(names), replication_factor, configs or {}))

    async def nothing(*_: Any, **__: Any) -> None:
        return None

    monkeypatch.setattr(runtime_module, "ensure_topics", ensure_topics)
    monkeypatch.setattr(runtime_module, "ensure_indexes", nothing)
    monkeypatch.setenv("KAFKA_REPLICATION_FACTOR", "3")
    service = ServiceRuntime(DemoSettings(run_workers=False))
    monkeypatch.setattr(service.producer, "start", nothing)

    try:
        await service.start()
    finally:
        await service.producer.raw.stop()  # never started: only marks it closed

    [(names, replicas, configs)] = created
    assert replicas == 3
    assert topics.ARTICLES in names
    # The replicas come on top of each topic's own settings, not instead of them.
    assert configs[topics.ARTICLE_STATES]["cleanup.policy"] == "compact"
