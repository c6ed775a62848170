"""Old WordPress links: a reader path no route matched is looked up (the articles service keeps
the mapping) and answered with a 301; everything else is left as it was."""

from __future__ import annotations

import httpx
import pytest

from .stubs import Upstreams

pytestmark = pytest.mark.unit

Gw = tuple[httpx.AsyncClient, Upstreams]


def lookups(upstreams: Upstreams) -> list[str]:
    return [s["query"] for s in upstreams.seen if s["path"] == "/api/redirects"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("/?p=19", "/articles/talks-resume"),
        ("/2008/10/17/boat/", "/articles/talks-resume"),
        ("/category/news/", "/sections/foreign-affairs"),
        ("/feed/", "/feed.xml"),
    ],
)
async def test_an_old_link_answers_301_to_its_new_page(gw: Gw, old: str, new: str) -> None:
    client, _ = gw
    response = await client.get(old)
    assert (response.status_code, response.headers["location"]) == (301, new)


async def test_an_unknown_path_is_still_a_404_and_a_post_is_not_looked_up(gw: Gw) -> None:
    client, upstreams = gw
    before = len(lookups(upstreams))
    assert (await client.get("/2008/10/17/nothing/")).status_code == 404
    assert (await client.post("/2008/10/17/boat/")).status_code == 404
    assert len(lookups(upstreams)) == before + 1


async def test_head_is_answered_like_get(gw: Gw) -> None:
    client, _ = gw
    response = await client.head("/2008/10/17/boat/")
    assert (response.status_code, response.headers["location"]) == (301, "/articles/talks-resume")


async def test_the_site_s_own_pages_never_ask(gw: Gw) -> None:
    client, upstreams = gw
    before = len(lookups(upstreams))
    for page in ("/", "/articles/talks-resume", "/sections/foreign-affairs", "/static/site.css"):
        await client.get(page)
    assert len(lookups(upstreams)) == before


async def test_an_unknown_p_is_a_404_page(gw: Gw) -> None:
    client, _ = gw
    response = await client.get("/?p=20")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]


async def test_a_location_off_the_site_is_never_followed(gw: Gw) -> None:
    client, _ = gw
    assert (await client.get("/evil/")).status_code == 404
