from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from broadsheet_gateway.main import create_app
from broadsheet_gateway.settings import Settings

from .stubs import Upstreams

GatewayFactory = Callable[..., AbstractAsyncContextManager[tuple[httpx.AsyncClient, Upstreams]]]


def unit_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"live_updates": False, "environment": "test", "log_level": "WARNING"}
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def gateway(
    transport: httpx.AsyncBaseTransport | None = None, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Upstreams]]:
    upstreams = Upstreams()
    app = create_app(
        unit_settings(**overrides), transport=transport or httpx.ASGITransport(upstreams.app())
    )
    async with LifespanManager(app) as manager:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(manager.app, client=("203.0.113.9", 5555)),
            base_url="http://testserver",
        )
        async with client:
            yield client, upstreams


@pytest.fixture(scope="module")
async def gw() -> AsyncIterator[tuple[httpx.AsyncClient, Upstreams]]:
    async with gateway() as pair:
        yield pair


@pytest.fixture
def make_gateway() -> GatewayFactory:
    return gateway
