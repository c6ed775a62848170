import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager

from broadsheet_gateway.main import create_app
from broadsheet_gateway.page_cache import PageCache, SharedPage, page_key
from broadsheet_gateway.render import CommentRenderer, build_templates
from broadsheet_gateway.thread import nest_comments

from .conftest import unit_settings
from .stubs import ELSEWHERE, Upstreams, comment

pytestmark = pytest.mark.unit

RENDERER = CommentRenderer(build_templates())


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def cache(max_entries: int = 10, clock: Clock | None = None) -> PageCache:
    pages = PageCache(RENDERER, max_entries=max_entries, max_age=10, clock=clock or Clock())
    pages.open()
    return pages


def shared(text: str = "page") -> SharedPage:
    return SharedPage.of(
        text.encode(), slug="s", can_reply=True, sort="oldest", cursor=None, thread=[]
    )


def test_a_page_is_kept_until_an_event_about_its_article() -> None:
    pages = cache()
    for slug in ("a", "b"):
        for cursor in (None, "p.0000002"):
            key = page_key(slug, "oldest", cursor)
            pages.put(key, shared(slug), pages.generation(slug))
    assert len(pages) == 4
    got = pages.get(page_key("a", "oldest", None))
    assert got is not None
    assert got.body == b"a"
    pages.invalidate(["a"])
    assert pages.get(page_key("a", "oldest", None)) is None
    assert pages.get(page_key("a", "oldest", "p.0000002")) is None
    assert pages.get(page_key("b", "oldest", "p.0000002")) is not None
    # An event too old to name its article drops every page.
    pages.invalidate([None])
    assert len(pages) == 0


def test_a_page_rendered_before_an_event_about_its_article_is_not_kept() -> None:
    pages = cache()
    before = pages.generation("a")
    other = pages.generation("b")
    pages.invalidate(["a"])  # arrives while the page is being rendered
    pages.put(page_key("a", "oldest", None), shared(), before)
    pages.put(page_key("b", "oldest", None), shared(), other)
    assert pages.get(page_key("a", "oldest", None)) is None
    assert pages.get(page_key("b", "oldest", None)) is not None  # another article's: kept
    pages.put(page_key("a", "oldest", None), shared(), pages.generation("a"))
    assert pages.get(page_key("a", "oldest", None)) is not None


def test_nothing_is_kept_while_the_feed_is_not_connected() -> None:
    pages = PageCache(RENDERER, max_entries=10, max_age=10)
    key = page_key("a", "oldest", None)
    pages.put(key, shared(), pages.generation("a"))  # never connected yet
    assert pages.get(key) is None
    pages.open()
    during = pages.generation("a")
    pages.put(key, shared(), during)
    pages.close()  # interrupted: changes may be missed from here on
    assert pages.get(key) is None
    pages.open()
    pages.put(key, shared(), during)  # rendered before the reconnection
    assert pages.get(key) is None


def test_least_recently_used_pages_go_first_and_no_page_outlives_max_age() -> None:
    clock = Clock()
    pages = cache(max_entries=2, clock=clock)
    a, b, c = (page_key(s, "oldest", None) for s in "abc")
    pages.put(a, shared(), pages.generation("a"))
    pages.put(b, shared(), pages.generation("b"))
    assert pages.get(a) is not None  # a is now the most recently used
    pages.put(c, shared(), pages.generation("c"))
    assert pages.get(b) is None
    assert pages.get(a) is not None
    clock.now += 10.5
    assert pages.get(a) is None
    assert pages.get(c) is None
    # Past max_age a page is only stale: still there for readers while it is rendered again.
    assert pages.stale(a) is not None
    pages.invalidate(["a"])
    assert pages.stale(a) is None


def test_a_reader_s_own_comments_are_composed_with_edit_and_delete() -> None:
    items = [
        comment("c1", 0, None, "Alice"),
        comment("c2", 1, "c1", "Bob"),
        comment("c3", 0, None, "Carol"),
    ]
    thread = nest_comments(items)
    body = RENDERER.thread(thread, "s", True).encode()
    page = SharedPage.of(body, slug="s", can_reply=True, sort="oldest", cursor=None, thread=thread)
    pages = cache()
    assert pages.personal(page, {"zz": "token"}) is page.body
    # c1 has a reply (its leaf is split around it), c3 has none.
    for own in ("c1", "c3"):
        mine = pages.personal(page, {own: "token"}).decode()
        assert mine.count("Edit</a>") == 1
        assert f'href="/articles/s/comments/{own}/edit"' in mine
        assert f'href="/articles/s/comments/{own}/delete"' in mine
        assert mine.count('class="comment depth-') == 3
    both = pages.personal(page, {"c1": "t", "c2": "t"}).decode()
    assert both.count("Edit</a>") == 2


Site = tuple[httpx.AsyncClient, Upstreams, PageCache]


@asynccontextmanager
async def site() -> AsyncIterator[Site]:
    upstreams = Upstreams()
    app = create_app(unit_settings(), transport=httpx.ASGITransport(upstreams.app()))
    async with LifespanManager(app) as manager:
        pages: PageCache = app.state.container.pages
        pages.open()  # as the live feed does once connected
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(manager.app, client=("203.0.113.9", 5555)),
            base_url="http://testserver",
        )
        async with client:
            yield client, upstreams, pages


def _page_asks(upstreams: Upstreams) -> int:
    """How many times the page was rendered: the article is asked for once each time."""
    return sum(
        1
        for s in upstreams.seen
        if s["method"] == "GET" and s["path"] == "/api/articles/talks-resume"
    )


async def test_a_kept_page_is_answered_without_asking_the_services() -> None:
    async with site() as (client, upstreams, pages):
        first = await client.get("/articles/talks-resume")
        asked = _page_asks(upstreams)
        assert first.status_code == 200
        assert asked == 1
        second = await client.get("/articles/talks-resume", headers={"x-request-id": "bad"})
        assert _page_asks(upstreams) == asked
        assert second.content == first.content
        for name in ("etag", "cache-control", "content-type", "content-security-policy"):
            assert second.headers[name] == first.headers[name]
        assert second.headers["x-request-id"] != "bad"
        revisit = await client.get(
            "/articles/talks-resume", headers={"if-none-match": first.headers["etag"]}
        )
        assert revisit.status_code == 304
        assert revisit.content == b""
        head = await client.head("/articles/talks-resume")
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == second.headers["content-length"]
        # Compressed once per encoding, the same page either way (httpx decodes both).
        for encoding in ("br", "gzip", "identity"):
            packed = await client.get(
                "/articles/talks-resume", headers={"accept-encoding": encoding}
            )
            assert packed.headers.get("content-encoding", "identity") == encoding
            assert packed.headers["vary"] == "Accept-Encoding"
            assert packed.content == first.content
        assert _page_asks(upstreams) == asked
        # An event about the article: asked again.
        pages.invalidate(["talks-resume"])
        upstreams.comments.append(comment("c4", 0, None, "Dave"))
        fresh = await client.get("/articles/talks-resume")
        assert _page_asks(upstreams) == asked + 1
        assert 'id="comment-c4"' in fresh.text
        assert fresh.headers["etag"] != first.headers["etag"]


async def test_own_comments_reply_forms_and_other_queries() -> None:
    own = "e" * 24
    async with site() as (client, upstreams, _):
        upstreams.comments.append(comment(own, 0, None, "Eve"))
        plain = await client.get("/articles/talks-resume")
        asked = _page_asks(upstreams)
        # The reader's own comment, composed into the kept page: Edit on theirs only.
        client.cookies.set(f"edit-{own}", "signed.token", path="/articles/talks-resume")
        mine = await client.get("/articles/talks-resume")
        assert _page_asks(upstreams) == asked
        assert mine.text.count("Edit</a>") == 1
        assert f'href="/articles/talks-resume/comments/{own}/edit"' in mine.text
        assert mine.headers["etag"] != plain.headers["etag"]
        client.cookies.clear()
        # A reply form, a notice, an unknown parameter: rendered, never kept.
        for query in ("?replytocom=c1", "?notice=pending", "?utm_source=x"):
            for _ in range(2):
                await client.get(f"/articles/talks-resume{query}")
        assert _page_asks(upstreams) == asked + 3 * 2
        # Another order is a page of its own.
        await client.get("/articles/talks-resume?sort=newest")
        await client.get("/articles/talks-resume?sort=newest")
        assert _page_asks(upstreams) == asked + 3 * 2 + 1


async def test_a_vote_drops_the_article_s_kept_pages() -> None:
    async with site() as (client, upstreams, _):
        await client.get("/articles/talks-resume")
        asked = _page_asks(upstreams)
        voted = await client.post(f"/articles/talks-resume/comments/{ELSEWHERE}/vote")
        assert voted.status_code == 303
        await client.get("/articles/talks-resume")
        assert _page_asks(upstreams) == asked + 1


async def test_readers_who_ask_while_the_page_renders_wait_for_it() -> None:
    async with site() as (client, upstreams, _):
        upstreams.delay = 0.05
        answers = await asyncio.gather(*(client.get("/articles/talks-resume") for _ in range(8)))
        assert [a.status_code for a in answers] == [200] * 8
        assert len({a.content for a in answers}) == 1
        assert _page_asks(upstreams) == 1


async def test_readers_waiting_for_a_render_an_event_overtook_get_the_page_afresh() -> None:
    async with site() as (client, upstreams, pages):
        upstreams.delay = 0.05

        async def comment_approved_meanwhile() -> None:
            await asyncio.sleep(0.01)
            upstreams.comments.append(comment("c4", 0, None, "Dave"))
            pages.invalidate(["talks-resume"])

        first, *waited = await asyncio.gather(
            *(client.get("/articles/talks-resume") for _ in range(4)),
            comment_approved_meanwhile(),
        )
        assert first is not None
        assert 'id="comment-c4"' not in first.text
        # Not kept (it may predate the event): each waiting reader renders the page itself.
        readers = [answer for answer in waited if answer is not None]
        assert len(readers) == 3
        assert all('id="comment-c4"' in answer.text for answer in readers)
        assert _page_asks(upstreams) == 4


async def test_past_max_age_readers_get_the_kept_page_while_it_is_rendered_again() -> None:
    async with site() as (client, upstreams, pages):
        first = await client.get("/articles/talks-resume")
        kept = pages.get(page_key("talks-resume", "oldest", None))
        assert kept is not None
        kept.made_at -= 60  # past max_age: a vote on another replica may have changed it
        upstreams.delay = 0.05
        upstreams.comments.append(comment("c4", 0, None, "Dave"))
        renewing, *meanwhile = await asyncio.gather(
            *(client.get("/articles/talks-resume") for _ in range(4))
        )
        # One request renders it again; the others get the page as it was kept, at once.
        assert 'id="comment-c4"' in renewing.text
        assert [answer.content for answer in meanwhile] == [first.content] * 3
        assert _page_asks(upstreams) == 2
        after = await client.get("/articles/talks-resume")
        assert after.content == renewing.content


def test_a_render_that_ends_lets_go_only_its_own_waiters() -> None:
    pages = cache()
    key = page_key("s", "oldest", None)
    first_render, second_render = pages.rendering(key), pages.rendering(key)
    first_render.__enter__()
    first = pages.render_of(key)
    assert first is not None
    # Its page is not kept (an event came meanwhile): its waiters go on at once, and a second
    # request starts rendering while the first is still sending its answer.
    pages.invalidate(["s"])
    pages.put(key, shared(), (0, 0))
    assert first.is_set()
    assert pages.render_of(key) is None
    second_render.__enter__()
    second = pages.render_of(key)
    assert second is not None
    first_render.__exit__(None, None, None)
    assert pages.render_of(key) is second
    assert not second.is_set()
    second_render.__exit__(None, None, None)
    assert second.is_set()
    assert pages.render_of(key) is None
