"""One OpenAPI document for every public route: the gateway's own, plus from each service the
paths the routing table sends to it, and the reader site's feed aliases of them."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Mapping, Sequence
from typing import Any

from broadsheet_gateway.routing import FEED_ALIASES, ROUTES, Route, Upstream, resolve_route
from broadsheet_gateway.upstreams import ServiceApis, UpstreamError


class OpenApiService:
    """One OpenAPI document for every public route: the gateway's own plus the services'."""

    def __init__(
        self,
        apis: ServiceApis,
        *,
        routes: Sequence[Route] = ROUTES,
        cache_seconds: float = 60.0,
    ) -> None:
        self._apis = apis
        self._routes = routes
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, dict[str, Any]] | None = None

    async def combined(self, own: dict[str, Any]) -> dict[str, Any]:
        now = time.monotonic()
        if self._cached and now - self._cached[0] < self._cache_seconds:
            return self._cached[1]
        docs = await asyncio.gather(*(self._fetch(u) for u in Upstream))
        merged = merge_openapi(own, dict(zip(Upstream, docs, strict=True)), self._routes)
        if all(doc is not None for doc in docs):
            self._cached = (now, merged)
        return merged

    async def _fetch(self, upstream: Upstream) -> dict[str, Any] | None:
        try:
            result = await self._apis.get(upstream, "/openapi.json")
        except UpstreamError:
            return None
        return result.data if result.ok and isinstance(result.data, dict) else None


def _walk_refs(node: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                name = value.rsplit("/", 1)[-1]
                out[key] = f"#/components/schemas/{renames.get(name, name)}"
            else:
                out[key] = _walk_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_walk_refs(item, renames) for item in node]
    return node


def _template_to_concrete(template: str) -> str:
    # "/api/articles/{slug}/comments" -> "/api/articles/x/comments": enough to match the table.
    parts = ["x" if p.startswith("{") and p.endswith("}") else p for p in template.split("/")]
    return "/".join(parts)


def merge_openapi(
    own: dict[str, Any],
    upstream_docs: Mapping[Upstream, dict[str, Any] | None],
    routes: Sequence[Route] = ROUTES,
) -> dict[str, Any]:
    """Keep from each service only the paths the routing table sends to it; rename clashing
    schema names with the service's name so that every $ref stays right. Each feed alias is
    described by the operation it stands for."""
    merged = copy.deepcopy(own)
    paths: dict[str, Any] = merged.setdefault("paths", {})
    components: dict[str, Any] = merged.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    # The staff bearer scheme the services' operations name in their security requirements.
    security_schemes: dict[str, Any] = components.setdefault("securitySchemes", {})
    missing = []
    for upstream, doc in upstream_docs.items():
        if doc is None:
            missing.append(upstream.value)
            continue
        their = (doc.get("components") or {}).get("schemas") or {}
        renames = {
            name: f"{upstream.value}_{name}"
            for name, schema in their.items()
            if name in schemas and schemas[name] != _walk_refs(schema, {})
        }
        doc = _walk_refs(doc, renames)
        for name, schema in ((doc.get("components") or {}).get("schemas") or {}).items():
            schemas.setdefault(renames.get(name, name), schema)
        for name, scheme in ((doc.get("components") or {}).get("securitySchemes") or {}).items():
            security_schemes.setdefault(name, scheme)
        for template, item in (doc.get("paths") or {}).items():
            route = resolve_route(_template_to_concrete(template), routes)
            if route is not None and route.upstream == upstream:
                tagged = {}
                for method, operation in item.items():
                    if isinstance(operation, dict):
                        operation = {
                            **operation,
                            "tags": [upstream.value, *operation.get("tags", [])],
                        }
                    tagged[method] = operation
                paths.setdefault(template, tagged)
    for alias, target in FEED_ALIASES.items():
        operation = (paths.get(target) or {}).get("get")
        if isinstance(operation, dict):
            paths.setdefault(alias, {"get": _alias_operation(operation)})
    if missing:
        merged.setdefault("info", {})["x-unavailable-services"] = missing
    return merged


def _alias_operation(operation: dict[str, Any]) -> dict[str, Any]:
    """An API operation as its reader-site alias serves it: a page of the site, with the path's
    parameters only (an alias passes no query on), under an operation id of its own."""
    alias = {
        **operation,
        "tags": ["reader site"],
        "parameters": [p for p in operation.get("parameters", []) if p.get("in") == "path"],
    }
    if "operationId" in operation:
        alias["operationId"] = f"site_{operation['operationId']}"
    return alias
