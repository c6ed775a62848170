"""Forwarding one ``/api`` request: which upstream takes the path, and the call to it. The
fast path (``fastpath.py``) does everything around it, on the ASGI messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from broadsheet_gateway.routing import ROUTES, Route, Speed, Upstream, resolve_route
from broadsheet_gateway.upstreams import Body, Headers, Timeouts, UpstreamClient, UpstreamResponse

# The resolved-path cache holds at most this many paths of at most this many characters, so it
# stays under a few megabytes whatever paths clients make up (real ones are far shorter; a longer
# one is resolved each time, at a few microseconds).
RESOLVED_CACHE_ENTRIES = 10_000
RESOLVED_CACHE_PATH_CHARS = 256


class ProxyService:
    def __init__(
        self,
        client: UpstreamClient,
        base_urls: Mapping[Upstream, str],
        *,
        timeouts: Timeouts,
        slow_timeouts: Timeouts,
        get_retries: int,
        routes: Sequence[Route] = ROUTES,
    ) -> None:
        self._client = client
        self._base = {k: v.rstrip("/") for k, v in base_urls.items()}
        self._timeouts = {Speed.NORMAL: timeouts, Speed.SLOW: slow_timeouts}
        self._retries = get_retries
        self._routes = routes
        self._resolved: dict[str, Route | None] = {}

    def resolve(self, path: str) -> Route | None:
        # Walking the table's regexes is most of a route lookup; the same paths come back often.
        try:
            return self._resolved[path]
        except KeyError:
            pass
        route = resolve_route(path, self._routes)
        if len(path) > RESOLVED_CACHE_PATH_CHARS:
            return route
        if len(self._resolved) >= RESOLVED_CACHE_ENTRIES:
            self._resolved.clear()
        self._resolved[path] = route
        return route

    async def send(
        self, route: Route, method: str, target: str, headers: Headers, body: Body
    ) -> UpstreamResponse:
        """Forward with headers already prepared (``target`` is the raw path and query)."""
        # The path is appended verbatim to a configured base URL: it cannot name another host.
        return await self._client.send(
            method,
            self._base[route.upstream] + target,
            headers,
            body,
            self._timeouts[route.speed],
            retries=self._retries,
        )
