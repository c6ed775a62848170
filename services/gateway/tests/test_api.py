from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from .conftest import GatewayFactory
from .stubs import ELSEWHERE, Upstreams, comment

pytestmark = pytest.mark.unit

Gw = tuple[httpx.AsyncClient, Upstreams]


async def test_front_page_groups_latest_articles_by_section(gw: Gw) -> None:
    client, _ = gw
    page = await client.get("/")
    assert page.status_code == 200
    assert "Foreign Affairs" in page.text
    assert 'href="/articles/talks-resume"' in page.text
    assert "3 Comments" in page.text
    assert 'href="/feed.xml"' in page.text


async def test_article_page_renders_threaded_comments_with_reply_links(gw: Gw) -> None:
    client, _ = gw
    page = await client.get("/articles/talks-resume")
    assert page.status_code == 200
    text = page.text
    assert "Foreign Affairs" in text
    assert "Talks resume in Geneva" in text
    assert "Ada Reporter" in text
    assert "3 Comments on this post" in text
    assert "<script>alert(1)</script>" not in text  # body cleaned again on the way out
    # c2 is nested inside c1's list item; c3 is a new top-level thread.
    c1 = text.index('id="comment-c1"')
    c2 = text.index('id="comment-c2"')
    c3 = text.index('id="comment-c3"')
    assert c1 < c2 < c3
    assert '<ol class="children">' in text[c1:c2]
    assert text.count(">Reply</a>") == 3
    assert 'href="/articles/talks-resume?replytocom=c2#respond"' in text
    assert "Leave a Reply" in text
    assert "Notify me of replies by email" in text
    assert 'rel="next" href="/articles/talks-resume?cpage=p.0000002#comments"' in text


async def test_a_page_starting_inside_a_thread_keeps_depth_and_names_the_parent(gw: Gw) -> None:
    client, upstreams = gw
    # The comments service's next page begins with c4's replies; c4 was on the page before.
    orphan = comment("c5", 2, "c4", "Dan") | {"in_reply_to": "Bob", "root_id": "c1"}
    shown = upstreams.comments
    upstreams.comments = [orphan, comment("c6", 3, "c5", "Eve"), comment("c7", 0, None, "Fay")]
    try:
        text = (await client.get("/articles/talks-resume?cpage=p.0000002")).text
    finally:
        upstreams.comments = shown
    c5 = text.index('id="comment-c5"')
    assert text.rfind('<ol class="children">', 0, c5) == -1  # not hung under anything else
    assert 'class="comment depth-2"' in text
    assert (
        '<span class="in-reply-to">in reply to Bob</span>'
        in text[c5 : text.index('id="comment-c6"')]
    )
    assert '<ol class="children">' in text[c5 : text.index('id="comment-c6"')]
    css = (await client.get("/static/site.css")).text
    assert ".comment-list > .depth-2" in css


async def test_reply_form_carries_the_parent_id(gw: Gw) -> None:
    client, _ = gw
    page = await client.get("/articles/talks-resume?replytocom=c1")
    assert "Reply to Alice" in page.text
    assert re.search(r'name="parent_id" value="c1"', page.text)


async def test_comment_post_redirects_with_moderation_notice(gw: Gw) -> None:
    client, upstreams = gw
    response = await client.post(
        "/articles/talks-resume/comments",
        data={
            "author_name": "Dan",
            "author_email": "dan@example.com",
            "body": "Hello",
            "parent_id": "c1",
            "notify_replies": "1",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/articles/talks-resume?notice=pending#respond"
    sent = upstreams.seen[-1]
    assert sent["service"] == "comments"
    assert sent["method"] == "POST"
    assert b'"parent_id":"c1"' in sent["body"]
    assert b'"notify_replies":true' in sent["body"]
    page = await client.get(response.headers["location"])
    assert "Your comment is awaiting moderation" in page.text


async def test_rejected_comment_shows_the_form_again_with_the_reason(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as (client, upstreams):
        upstreams.post_status = 422
        upstreams.post_answer = {
            "detail": "The request is not valid.",
            "errors": [{"loc": ["body", "author_email"], "msg": "not an email"}],
        }
        response = await client.post(
            "/articles/talks-resume/comments",
            data={"author_name": "Dan", "author_email": "nope", "body": "Kept text"},
        )
        assert response.status_code == 422
        assert "author_email: not an email" in response.text
        assert "Kept text" in response.text


async def test_old_slug_redirects_and_unknown_article_is_404(gw: Gw) -> None:
    client, _ = gw
    moved = await client.get("/articles/old-slug")
    assert moved.status_code == 301
    assert moved.headers["location"] == "/articles/talks-resume"
    missing = await client.get("/articles/nope")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]


async def test_deep_threads_show_depth_and_in_reply_to_as_the_comments_service_gives_them(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as (client, upstreams):
        # As the comments service lists a chain of seven: five levels shown, the replies past
        # them at the deepest, each naming whom it answers.
        upstreams.comments = [
            comment(f"d{i}", min(i, 4), f"d{i - 1}" if i else None, f"N{i}")
            | {"in_reply_to": f"N{i - 1}" if i > 4 else None}
            for i in range(7)
        ]
        text = (await client.get("/articles/talks-resume")).text
        assert text.count('class="comment depth-4"') == 3
        assert text.count('<span class="in-reply-to">') == 2
        d5 = text.index('id="comment-d5"')
        assert "in reply to N4" in text[d5 : text.index('id="comment-d6"')]


async def test_subscription_pages_show_a_button_and_post_through(gw: Gw) -> None:
    client, upstreams = gw
    page = await client.get("/subscriptions/unsubscribe/good-token")
    assert page.status_code == 200
    assert 'action="/subscriptions/unsubscribe/good-token"' in page.text
    assert "r***@example.com" in page.text
    done = await client.post(
        "/subscriptions/unsubscribe/good-token", data={"List-Unsubscribe": "One-Click"}
    )
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text
    sent = upstreams.seen[-1]
    assert sent["method"] == "POST"
    assert sent["body"] == b"List-Unsubscribe=One-Click"
    confirm = await client.post("/subscriptions/confirm/good-token")
    assert "confirmed" in confirm.text
    bad = await client.get("/subscriptions/confirm/bad-token")
    assert bad.status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/subscriptions/confirm/~n"),
        ("POST", "/subscriptions/confirm/~n"),
        ("POST", "/subscriptions/unsubscribe/~n"),
        ("GET", "/subscriptions/manage/~n"),
        ("POST", "/subscriptions/manage/~n/unsubscribe"),
    ],
)
async def test_a_link_we_could_not_have_signed_is_an_invalid_link(
    gw: Gw, method: str, path: str
) -> None:
    # The contract run found "~n" answered with the service's 422 for its path pattern.
    client, upstreams = gw
    seen = len(upstreams.seen)
    answer = await client.request(method, path)
    assert answer.status_code == 400
    assert "This link is not valid" in answer.text
    assert len(upstreams.seen) == seen  # refused here, not asked upstream


# The id of a request made after the link's mail (stubs.py).
LATER = "reply-22222222222222222222222222222222"


async def test_confirm_page_lists_the_links_requests_and_a_button_for_each_later_one(
    gw: Gw,
) -> None:
    client, upstreams = gw
    page = await client.get("/subscriptions/confirm/good-token")
    assert (
        'new comments on <a href="/articles/talks-resume">Talks resume in Geneva</a>' in page.text
    )
    assert 'action="/subscriptions/confirm/good-token"' in page.text
    later = page.text.split('class="later-requests"')[1]
    assert "replies to your comment on" in later
    assert "Rain &lt;again&gt;" in later
    assert (
        'action="/subscriptions/confirm/good-token/requests/reply-22222222222222222222222222222222"'
        in later
    )
    done = await client.post(
        "/subscriptions/confirm/good-token/requests/reply-22222222222222222222222222222222"
    )
    assert done.status_code == 200
    sent = upstreams.seen[-1]
    assert (sent["method"], sent["path"]) == (
        "POST",
        f"/api/subscriptions/confirm/good-token/requests/{LATER}",
    )


async def test_follow_posts_and_redirects(gw: Gw) -> None:
    client, upstreams = gw
    response = await client.post("/articles/talks-resume/follow", data={"email": "r@example.com"})
    assert response.status_code == 303
    assert upstreams.seen[-1]["path"] == "/api/articles/talks-resume/followers"
    page = await client.get(response.headers["location"])
    assert "Check your inbox" in page.text


async def test_static_assets_and_health(gw: Gw) -> None:
    client, _ = gw
    assert (await client.get("/static/live.js")).status_code == 200
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200


async def test_article_page_loads_the_old_comment_anchor_script_under_the_site_s_csp(
    gw: Gw,
) -> None:
    client, _ = gw
    page = await client.get("/articles/talks-resume")
    assert re.search(
        r'<script src="/static/anchors\.js\?v=[0-9a-f]{12}" defer></script>', page.text
    )
    # The script builds the lookup and the page URL from this path.
    assert 'data-article-path="/articles/talks-resume"' in page.text
    assert "script-src 'self';" in page.headers["content-security-policy"]
    script = await client.get("/static/anchors.js")
    assert script.status_code == 200
    assert '"/comments/wordpress/"' in script.text


async def test_tag_page_lists_the_tag_s_articles_and_an_unused_tag_is_a_404(gw: Gw) -> None:
    client, upstreams = gw
    page = await client.get("/tags/diplomacy")
    assert page.status_code == 200
    assert "Tagged “diplomacy”" in page.text
    assert 'href="/articles/talks-resume"' in page.text
    asked = [s for s in upstreams.seen if s["path"] == "/api/articles"][-1]
    assert "tag=diplomacy" in asked["query"]
    assert (await client.get("/tags/unused")).status_code == 404


async def test_an_imported_comment_carries_its_old_anchor(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as (client, upstreams):
        upstreams.comments = [{**comment("c1", 0, None, "Alice"), "wordpress_id": 123}]
        text = (await client.get("/articles/talks-resume")).text
    assert '<span id="comment-123"></span>' in text
    assert text.index('id="comment-c1"') < text.index('id="comment-123"')


async def test_a_reply_to_a_comment_on_another_page_resolves_its_parent_by_id(gw: Gw) -> None:
    client, _ = gw
    page = await client.get(f"/articles/talks-resume?replytocom={ELSEWHERE}")
    assert "Reply to Dora" in page.text
    assert f'name="parent_id" value="{ELSEWHERE}"' in page.text
    # Not a comment of the article, or no comment id at all: an ordinary comment.
    for unknown in ("e" * 24, "not-an-id"):
        page = await client.get(f"/articles/talks-resume?replytocom={unknown}")
        assert "Leave a Reply" in page.text
        assert 'name="parent_id" value=""' in page.text


async def test_a_posted_comment_lands_on_its_page_and_the_browser_keeps_its_edit_token(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as (client, upstreams):
        expires = (datetime.now(UTC) + timedelta(minutes=15)).isoformat()
        upstreams.post_answer = {
            "id": ELSEWHERE,
            "status": "approved",
            "created_at": "2025-03-01",
            "edit_token": "signed.token",
            "edit_token_expires_at": expires,
        }
        response = await client.post(
            "/articles/talks-resume/comments",
            data={"author_name": "Dora", "author_email": "d@example.com", "body": "Hi"},
        )
        assert response.status_code == 303
        assert response.headers["location"] == (
            f"/articles/talks-resume?cpage=p.0000002&notice=approved#comment-{ELSEWHERE}"
        )
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"edit-{ELSEWHERE}=signed.token;")
        for part in ("HttpOnly", "Path=/articles/talks-resume", "SameSite=lax"):
            assert part in cookie
        assert re.search(r"Max-Age=(899|900);", cookie)  # until the token expires
        assert "Secure" not in cookie  # plain http here; https sets it

        # Held for moderation: back to the page that holds its parent.
        upstreams.post_answer = {"id": "f" * 24, "status": "pending", "created_at": "2025"}
        response = await client.post(
            "/articles/talks-resume/comments",
            data={
                "author_name": "Dora",
                "author_email": "d@example.com",
                "body": "Re",
                "parent_id": ELSEWHERE,
            },
        )
        assert response.headers["location"] == (
            "/articles/talks-resume?cpage=p.0000002&notice=pending#respond"
        )


async def test_edit_and_delete_links_and_forms_only_with_the_comment_s_own_token(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as (client, upstreams):
        upstreams.comments.append(upstreams.located[ELSEWHERE])
        edit = f"/articles/talks-resume/comments/{ELSEWHERE}/edit"
        delete = f"/articles/talks-resume/comments/{ELSEWHERE}/delete"
        page = (await client.get("/articles/talks-resume")).text
        assert edit not in page
        assert "Edit</a>" not in page
        # Without the cookie: refused here, the comments service is not even asked.
        asked = len(upstreams.seen)
        for response in (
            await client.get(edit),
            await client.post(edit, data={"body": "x"}),
            await client.post(delete),
        ):
            assert response.status_code == 403
            assert "browser that posted it" in response.text
        assert not [s for s in upstreams.seen[asked:] if s["method"] in ("PATCH", "DELETE")]

        client.cookies.set(f"edit-{ELSEWHERE}", "signed.token", path="/articles/talks-resume")
        client.cookies.set("edit-" + "e" * 24, "other.token", path="/articles/talks-resume")
        page = (await client.get("/articles/talks-resume")).text
        assert page.count("Edit</a>") == 1  # on Dora's comment only
        assert page.count('<svg class="avatar" role="img" aria-label="Avatar of Dora"') == 1
        assert f'href="{edit}"' in page
        assert f'href="{delete}"' in page
        form = await client.get(edit)
        assert form.status_code == 200
        assert "Text of *Dora*</textarea>" in form.text
        saved = await client.post(edit, data={"body": "Better"})
        assert saved.status_code == 303
        assert saved.headers["location"].endswith(f"notice=edited#comment-{ELSEWHERE}")
        patch = next(s for s in reversed(upstreams.seen) if s["method"] == "PATCH")
        assert patch["headers"]["x-edit-token"] == "signed.token"
        assert patch["body"] == b'{"body":"Better"}'

        confirm = await client.get(delete)
        assert "Delete your comment?" in confirm.text
        assert f'<form method="post" action="{delete}">' in confirm.text
        gone = await client.post(delete)
        assert gone.status_code == 303
        assert gone.headers["location"] == "/articles/talks-resume?notice=deleted#comments"
        assert gone.headers["set-cookie"].startswith(f'edit-{ELSEWHERE}="";')
        assert "Max-Age=0" in gone.headers["set-cookie"]

        # A token the comments service refuses (forged, expired, another comment's).
        client.cookies.set(f"edit-{ELSEWHERE}", "forged", path="/articles/talks-resume")
        upstreams.change_status = 403
        refused = await client.post(edit, data={"body": "Hijack"})
        assert refused.status_code == 403
        assert "browser that posted it" in refused.text


async def test_manage_subscriptions_pages_ask_list_and_unsubscribe_without_javascript(
    gw: Gw,
) -> None:
    client, upstreams = gw
    form = await client.get("/subscriptions/manage")
    assert 'action="/subscriptions/manage"' in form.text
    asked = await client.post("/subscriptions/manage", data={"email": "r@example.com"})
    assert asked.status_code == 303
    sent = upstreams.seen[-1]
    assert (sent["path"], sent["body"]) == (
        "/api/subscriptions/manage",
        b'{"email":"r@example.com"}',
    )
    assert "x-forwarded-for" in sent["headers"]  # limited per reader, not per gateway
    assert (
        "if this address gets email from us" in (await client.get(asked.headers["location"])).text
    )
    page = await client.get("/subscriptions/manage/good-token")
    assert page.status_code == 200
    text = page.text
    assert "r***@example.com" in text
    assert 'New comments on <a href="/articles/talks-resume">Talks resume in Geneva</a>' in text
    assert "Replies to your comment on" in text
    assert "Rain &lt;again&gt;" in text
    assert "(waiting for your confirmation)" in text
    one = f"/subscriptions/manage/good-token/subscriptions/{LATER}/unsubscribe"
    assert f'action="{one}"' in text
    assert 'action="/subscriptions/manage/good-token/unsubscribe"' in text
    done = await client.post(one)
    assert done.status_code == 303
    assert (upstreams.seen[-1]["method"], upstreams.seen[-1]["path"]) == (
        "POST",
        f"/api/subscriptions/manage/good-token/subscriptions/{LATER}/unsubscribe",
    )
    assert "you will not get these emails" in (await client.get(done.headers["location"])).text
    everything = await client.post("/subscriptions/manage/good-token/unsubscribe")
    assert everything.headers["location"] == (
        "/subscriptions/manage/good-token?notice=unsubscribed_all"
    )
    assert upstreams.seen[-1]["path"] == "/api/subscriptions/manage/good-token/unsubscribe"
    assert (await client.get("/subscriptions/manage/bad-token")).status_code == 404


async def test_my_data_pages_ask_download_and_erase_with_a_confirmation_step(gw: Gw) -> None:
    client, upstreams = gw
    form = await client.get("/my-data")
    assert 'action="/my-data"' in form.text
    assert '<meta name="robots" content="noindex">' in form.text
    asked = await client.post("/my-data", data={"email": "r@example.com"})
    assert asked.status_code == 303
    sent = upstreams.seen[-1]
    assert (sent["path"], sent["body"]) == ("/api/my-data", b'{"email":"r@example.com"}')
    assert "x-forwarded-for" in sent["headers"]  # limited per reader, not per gateway
    assert "if we may email this address" in (await client.get(asked.headers["location"])).text

    page = await client.get("/my-data/good-token")
    assert page.status_code == 200
    assert 'action="/my-data/good-token/download"' in page.text
    assert 'href="/my-data/good-token/erase"' in page.text
    # One file gathered from both services: the comments fetched with notifications' grant,
    # which is not part of the reader's data.
    download = await client.get("/my-data/good-token/download")
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["cache-control"] == "no-store"
    data = download.json()
    assert data["comments"] == [{"id": "c1", "body": "Mine"}]
    assert data["address"]["email"] == "r@example.com"
    assert [s["kind"] for s in data["subscriptions"]] == ["follow"]
    assert [d["kind"] for d in data["deliveries"]] == ["data"]
    assert "grant" not in data
    assert upstreams.seen[-1]["headers"]["x-data-grant"] == "grant-for-r"

    # Erasing: a GET shows a confirmation and changes nothing; the POST erases.
    before = len(upstreams.seen)
    confirm = await client.get("/my-data/good-token/erase")
    assert '<form method="post" action="/my-data/good-token/erase">' in confirm.text
    assert not any(s["method"] == "POST" for s in upstreams.seen[before:])
    erased = await client.post("/my-data/good-token/erase")
    assert erased.headers["location"] == "/my-data?notice=data_erased"
    assert (upstreams.seen[-1]["method"], upstreams.seen[-1]["path"]) == (
        "POST",
        "/api/my-data/good-token/erase",
    )
    assert "[deleted]" in (await client.get(erased.headers["location"])).text
    for path in ("/my-data/bad-token", "/my-data/bad-token/download", "/my-data/bad-token/erase"):
        assert (await client.get(path)).status_code == 404
    assert "Disallow: /my-data" in (await client.get("/robots.txt")).text


async def test_article_page_head_for_search_engines_and_social_cards(gw: Gw) -> None:
    client, _ = gw
    text = (await client.get("/articles/talks-resume?replytocom=c1&cpage=p.0000002")).text
    head = text[: text.index("</head>")]
    assert '<meta name="description" content="Diplomats return to the table.">' in head
    # A later comment page is a page of its own; a reply form is not.
    assert (
        '<link rel="canonical" href="http://127.0.0.1:8000/articles/talks-resume?cpage=p.0000002">'
        in head
    )
    assert '<meta property="og:type" content="article">' in head
    assert '<meta name="twitter:card" content="summary">' in head
    assert '<link rel="icon" href="/favicon.ico" sizes="32x32">' in head
    assert '"@type": "NewsArticle"' in head
    assert '"commentCount": 3' in head
    # Reply stays on this page of the thread (replytocom first: robots.txt keeps it out).
    replies = re.findall(r'class="reply-link" href="([^"]+)"', text)
    assert replies
    assert all(
        re.fullmatch(r"/articles/talks-resume\?replytocom=\w+&amp;cpage=p\.0000002#respond", href)
        for href in replies
    ), replies
    # The article page has the section navigation too.
    assert '<nav aria-label="Sections">' in text
    assert 'href="/sections/foreign-affairs" aria-current="page"' in text
    # HTML allows three digits of a second's fraction.
    assert 'datetime="2025-03-01T09:30:00.000+00:00"' in text


async def test_front_page_is_an_organization_and_a_website(gw: Gw) -> None:
    client, _ = gw
    head = (await client.get("/")).text.split("</head>")[0]
    assert '"@type": "Organization"' in head
    assert '"@type": "WebSite"' in head
    assert '<link rel="canonical" href="http://127.0.0.1:8000/">' in head


async def test_a_mailed_link_s_page_is_kept_out_of_search_engines(gw: Gw) -> None:
    client, _ = gw
    head = (await client.get("/articles/talks-resume/follow")).text.split("</head>")[0]
    assert '<meta name="robots" content="noindex">' in head
    assert 'rel="canonical"' not in head


async def test_a_revisit_with_the_page_s_etag_is_a_304(gw: Gw) -> None:
    client, _ = gw
    first = await client.get("/articles/talks-resume")
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    again = await client.get("/articles/talks-resume", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = await client.get("/articles/talks-resume", headers={"If-None-Match": 'W/"other"'})
    assert other.status_code == 200


async def test_pages_and_static_files_are_compressed_when_asked(
    gw: Gw,
) -> None:
    client, _ = gw
    for encoding in ("br", "gzip"):
        page = await client.get("/articles/talks-resume", headers={"Accept-Encoding": encoding})
        assert page.headers["content-encoding"] == encoding
        assert "accept-encoding" in page.headers["vary"].lower()
        assert "Talks resume in Geneva" in page.text  # httpx decodes it
    plain = await client.get("/articles/talks-resume", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    css = await client.get("/static/site.css", headers={"Accept-Encoding": "br, gzip"})
    assert css.headers["content-encoding"] == "br"
    # Small answers go as they are.
    small = await client.get("/healthz", headers={"Accept-Encoding": "br, gzip"})
    assert "content-encoding" not in small.headers


async def test_fingerprinted_static_files_are_cached_a_year(gw: Gw) -> None:
    client, _ = gw
    page = (await client.get("/articles/talks-resume")).text
    css_url = re.search(r'href="(/static/site\.css\?v=[0-9a-f]+)"', page)
    assert css_url is not None
    current = await client.get(css_url.group(1))
    assert current.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = await client.get("/static/site.css?v=000000000000")
    assert stale.headers["cache-control"] == "public, max-age=300"
    bare = await client.get("/static/site.css")
    assert bare.headers["cache-control"] == "public, max-age=300"
    assert (
        await client.get("/static/site.css", headers={"If-None-Match": bare.headers["etag"]})
    ).status_code == 304


async def test_robots_txt_and_favicon(gw: Gw) -> None:
    client, _ = gw
    robots = await client.get("/robots.txt")
    assert robots.status_code == 200
    assert "Sitemap: http://127.0.0.1:8000/sitemap.xml" in robots.text
    assert "Sitemap: http://127.0.0.1:8000/news-sitemap.xml" in robots.text
    assert "Disallow: /api/" in robots.text
    assert "Disallow: /*?sort=" in robots.text  # the article again, in another order
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"


async def test_the_edit_cookie_is_secure_when_the_site_is_served_over_https(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway(public_base_url="https://news.example") as (client, upstreams):
        expires = (datetime.now(UTC) + timedelta(minutes=15)).isoformat()
        upstreams.post_answer = {
            "id": ELSEWHERE,
            "status": "approved",
            "created_at": "2025-03-01",
            "edit_token": "signed.token",
            "edit_token_expires_at": expires,
        }
        response = await client.post(
            "/articles/talks-resume/comments",
            data={"author_name": "Dora", "author_email": "d@example.com", "body": "Hi"},
        )
        assert "; Secure" in response.headers["set-cookie"]


async def test_an_author_page_lists_their_articles_and_names_its_feed(gw: Gw) -> None:
    client, upstreams = gw
    page = await client.get("/authors/ada-reporter")
    assert page.status_code == 200
    assert "<h1>Ada Reporter</h1>" in page.text
    assert 'href="/authors/ada-reporter/feed.xml"' in page.text
    assert 'href="/articles/talks-resume"' in page.text
    asked = [s for s in upstreams.seen if s["path"] == "/api/articles"][-1]
    assert "author=ada-reporter" in asked["query"]
    # Bylines link to the author pages.
    article = (await client.get("/articles/talks-resume")).text
    assert '<a href="/authors/ada-reporter" rel="author">Ada Reporter</a>' in article
    assert (await client.get("/authors/nobody")).status_code == 404


async def test_the_sort_switch_is_kept_in_the_url_and_by_the_vote_forms(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as (client, upstreams):
        text = (await client.get("/articles/talks-resume?sort=best")).text
        [asked] = [s for s in upstreams.seen if s["path"] == "/api/articles/talks-resume/comments"]
        assert "sort=best" in asked["query"]
        plain = (await client.get("/articles/talks-resume?cpage=p.0000002")).text
        assert (await client.get("/articles/talks-resume?sort=worst")).status_code == 422
    best = '<a href="/articles/talks-resume?sort=best#comments" aria-current="page">Best</a>'
    assert best in text
    assert '<a href="/articles/talks-resume#comments">Oldest</a>' in text
    assert 'href="/articles/talks-resume?sort=newest#comments">Newest</a>' in text
    assert 'href="/articles/talks-resume?sort=best&amp;cpage=p.0000002#comments">More' in text
    assert 'action="/articles/talks-resume/comments/c1/vote?sort=best"' in text
    assert '<output class="vote-count" data-votes="0">0 votes</output>' in text
    # The default order says nothing in its links.
    assert 'action="/articles/talks-resume/comments/c1/vote?cpage=p.0000002"' in plain
    assert "votes.js" in text


async def test_a_vote_without_javascript_comes_back_to_its_page_and_counts_once(
    make_gateway: GatewayFactory,
) -> None:
    url = f"/articles/talks-resume/comments/{ELSEWHERE}/vote?sort=best&cpage=p.0000002"
    async with make_gateway() as (client, upstreams):
        first = await client.post(url)
        # The same browser again (it sends its cookie): ignored, and the page says so.
        again = await client.post(url)
        page = await client.get("/articles/talks-resume?notice=already-voted")
    assert first.status_code == 303
    assert first.headers["location"] == (
        f"/articles/talks-resume?sort=best&cpage=p.0000002&notice=voted#comment-{ELSEWHERE}"
    )
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("voter=")
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    voter = cookie.split(";")[0].removeprefix("voter=")
    sent = [s for s in upstreams.seen if s["path"].endswith("/votes")]
    assert [orjson.loads(s["body"]) for s in sent] == [{"voter": voter}] * 2
    assert sent[0]["headers"]["x-forwarded-for"] == "203.0.113.9"
    assert "notice=already-voted" in again.headers["location"]
    assert "set-cookie" not in again.headers
    assert "You have already voted for this comment." in page.text


async def test_the_page_s_script_votes_by_json(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as (client, _):
        url = f"/articles/talks-resume/comments/{ELSEWHERE}/vote"
        answer = await client.post(url, headers={"Accept": "application/json"})
        unknown = await client.post(
            "/articles/talks-resume/comments/" + "e" * 24 + "/vote",
            headers={"Accept": "application/json"},
        )
    assert answer.json() == {"votes": 1, "counted": True}
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
