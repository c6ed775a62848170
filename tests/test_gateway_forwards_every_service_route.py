"""Every operation a service documents is one the gateway forwards to it, so the gateway's
contract runs (tests/e2e/test_api_contract.py, every phase and check) reach all of them; the
services' own schemathesis runs can stay small (their docstrings say so)."""

from __future__ import annotations

import importlib

import pytest

from broadsheet_gateway.routing import resolve_route


@pytest.mark.parametrize("service", ["articles", "comments", "notifications"])
async def test_the_gateway_forwards_every_documented_operation(service: str) -> None:
    main = importlib.import_module(f"broadsheet_{service}.main")
    app = main.create_app(main.Settings())
    templates = list(app.openapi()["paths"])
    assert templates
    unrouted = []
    for template in templates:
        concrete = "/".join("x" if p.startswith("{") else p for p in template.split("/"))
        route = resolve_route(concrete)
        if route is None or route.upstream.value != service:
            unrouted.append(template)
    assert unrouted == []
