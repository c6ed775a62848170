"""Every FastAPI dependency of every service is a coroutine function.

FastAPI runs a plain-function dependency in its thread pool: on this project's hardware that hop
cost ~125 µs a request, a third of a public article read. A plain ``def`` dependency fails here.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

pytestmark = pytest.mark.unit

SERVICES = ("articles", "comments", "notifications", "gateway")


def routes(container: Any) -> Iterator[APIRoute]:
    for route in getattr(container, "routes", []):
        if isinstance(route, APIRoute):
            yield route
        # FastAPI keeps included routers as wrappers around the original router.
        yield from routes(getattr(route, "original_router", None))


def dependencies(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from dependencies(sub)


def is_coroutine(call: Callable[..., Any]) -> bool:
    # Security schemes (HTTPBearer…) are instances with an async __call__.
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 (an instance's __call__, not callable())
    )


@pytest.mark.parametrize("service", SERVICES)
async def test_no_dependency_runs_in_the_thread_pool(service: str) -> None:
    main = importlib.import_module(f"broadsheet_{service}.main")
    app = main.create_app()  # not started: only its routes are read
    found = {
        f"{route.path} → {call.__name__ if hasattr(call, '__name__') else call!r}"
        for route in routes(app.router)
        for call in dependencies(route.dependant)
        if not is_coroutine(call)
    }
    assert not found, f"plain-function dependencies (run in the thread pool): {sorted(found)}"
    assert any(True for _ in routes(app.router))  # the walk saw the service's routes
