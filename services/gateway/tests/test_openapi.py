"""The combined OpenAPI document, through the app (stand-in services describe themselves)."""

from __future__ import annotations

import httpx
import pytest

from .stubs import Upstreams

pytestmark = pytest.mark.unit

Gw = tuple[httpx.AsyncClient, Upstreams]


async def test_combined_openapi_keeps_only_routed_paths(gw: Gw) -> None:
    client, _ = gw
    doc = (await client.get("/openapi.json")).json()
    paths = doc["paths"]
    assert "/articles/{slug}" in paths  # the gateway's own
    assert "/api/articles/{slug}/comments" in paths
    # Each service advertised a path the routing table does not send to it: dropped.
    assert "/api/articles-only" not in paths
    assert "/api/comments-only" not in paths
    assert paths["/api/articles/{slug}/comments"]["get"]["tags"][0] == "comments"
    ref = paths["/api/articles/{slug}/comments"]["get"]["responses"]["200"]["content"]
    name = ref["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert doc["components"]["schemas"][name]["title"] == "comments page"
    # The staff operations' security requirements name a scheme the document defines.
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    # The site's feed alias is described by the articles operation it stands for.
    feed = paths["/feed.xml"]["get"]
    assert feed["operationId"] == "site_latest_feed"
    assert feed["tags"] == ["reader site"]
    assert feed["parameters"] == []  # the alias passes no query on
    assert paths["/api/articles/feed.xml"]["get"]["operationId"] == "latest_feed"
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
