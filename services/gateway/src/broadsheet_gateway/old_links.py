"""Old links of an imported site: the router's default, so only a reader path that no route of
the site matched costs a question (the site's own pages pay nothing).

A GET or HEAD that matched nothing asks the articles service (``GET /api/redirects``), which
imported the posts and keeps their old addresses; an answer is a 301 there, anything else is the
404 it was going to be. Nothing is cached: the articles service answers from an index, and a
cache of arbitrary paths would be a memory bound to defend.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from broadsheet_gateway.service import SiteService


class OldLinks:
    def __init__(self, not_found: ASGIApp, site: SiteService) -> None:
        self._not_found = not_found
        self._site = site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            query = scope["query_string"].decode("latin-1")
            location = await self._site.old_link(scope["path"] + (f"?{query}" if query else ""))
            if location is not None:
                await Response(status_code=301, headers={"Location": location})(
                    scope, receive, send
                )
                return
        await self._not_found(scope, receive, send)
