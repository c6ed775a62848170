"""What editors do in the Newsroom, over fake services."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import Newsroom, csrf_of, signed_in

pytestmark = pytest.mark.unit

DRAFT = {
    "title": "Talks resume",
    "section": "Foreign Affairs",
    "tags": "diplomacy, geneva",
    "summary": "At last.",
    "body": "They *met*.",
    "hero_image_url": "",
    "hero_image_alt": "",
    "publish_at": "",
}


async def post_form(
    client: httpx.AsyncClient, path: str, fields: dict[str, str], action: str = "save"
) -> httpx.Response:
    page = await client.get("/newsroom/articles/new")
    return await client.post(
        path, data={**fields, "action": action, "csrf_token": csrf_of(page.text)}
    )


def sent(newsroom: Newsroom, method: str, path_end: str) -> list[Any]:
    return [
        json.loads(r.content) if r.content else None
        for r in newsroom.services.requests
        if r.method == method and r.url.path.endswith(path_end)
    ]


def last_list(newsroom: Newsroom) -> httpx.Request:
    return [r for r in newsroom.services.requests if r.url.path == "/api/editor/articles"][-1]


async def test_save_draft_creates_the_article_and_opens_it(newsroom: Newsroom) -> None:
    async with signed_in(newsroom) as client:
        saved = await post_form(client, "/newsroom/articles", DRAFT)
        assert saved.status_code == 303
        (article,) = newsroom.services.articles.values()
        assert saved.headers["location"] == f"/newsroom/articles/{article['id']}"
        assert article["tags"] == ["diplomacy", "geneva"]
        assert article["hero_image_url"] is None
        page = await client.get(saved.headers["location"])
        assert "Draft saved." in page.text
        assert 'value="Talks resume"' in page.text
        assert "Status: <strong>Draft</strong>" in page.text
        assert "Unpublish" not in page.text


async def test_validation_errors_stand_next_to_their_fields_with_the_text_kept(
    newsroom: Newsroom,
) -> None:
    async with signed_in(newsroom) as client:
        refused = await post_form(
            client, "/newsroom/articles", {**DRAFT, "title": "  ", "section": "Gardening"}
        )
        assert refused.status_code == 422
        html = refused.text
        assert '<span class="field-error" id="title-error">must not be blank</span>' in html
        assert 'id="section-error">Unknown section</span>' in html
        assert 'aria-describedby="title-error" aria-invalid="true"' in html
        assert "They *met*.</textarea>" in html
        assert 'value="diplomacy, geneva"' in html
        assert newsroom.services.articles == {}


async def test_the_hero_image_alt_text_is_sent_kept_and_shown_next_to_its_field(
    newsroom: Newsroom,
) -> None:
    url = "https://img.example.org/talks.jpg"
    async with signed_in(newsroom) as client:
        refused = await post_form(client, "/newsroom/articles", {**DRAFT, "hero_image_url": url})
        assert refused.status_code == 422
        assert 'id="hero_image_alt-error">Describe the hero image</span>' in refused.text
        assert f'value="{url}"' in refused.text
        with_alt = {**DRAFT, "hero_image_url": url, "hero_image_alt": " Delegates at the table "}
        saved = await post_form(client, "/newsroom/articles", with_alt)
        assert saved.status_code == 303
        (article,) = newsroom.services.articles.values()
        assert article["hero_image_alt"] == "Delegates at the table"
        page = await client.get(saved.headers["location"])
        assert '<label for="hero_image_alt">Hero image alt text</label>' in page.text
        assert 'value="Delegates at the table"' in page.text


async def test_preview_renders_through_the_reader_sites_renderer_and_saves_nothing(
    newsroom: Newsroom,
) -> None:
    async with signed_in(newsroom) as client:
        shown = await post_form(client, "/newsroom/articles", DRAFT, action="preview")
        assert shown.status_code == 200
        assert shown.text == "<!doctype html><title>Talks resume</title><p>They *met*.</p>"
        (rendered,) = newsroom.rendered
        assert rendered["section"]["name"] == "Foreign Affairs"
        assert newsroom.services.articles == {}


async def test_schedule_reads_publish_at_in_the_editors_zone_and_sends_utc(
    newsroom: Newsroom,
) -> None:
    async with signed_in(newsroom) as client:
        missing = await post_form(client, "/newsroom/articles", DRAFT, action="schedule")
        assert missing.status_code == 422
        assert "Choose when to publish." in missing.text
        assert newsroom.services.articles == {}  # nothing half-done
        summer = {**DRAFT, "publish_at": "2026-07-01T09:00"}
        done = await post_form(client, "/newsroom/articles", summer, action="schedule")
        assert done.status_code == 303
        assert sent(newsroom, "POST", "/publish") == [{"at": "2026-07-01T08:00:00+00:00"}]
        page = await client.get(done.headers["location"])
        assert "Scheduled." in page.text
        assert "01 Jul 2026, 09:00 BST (Europe/London)" in page.text
        assert 'value="2026-07-01T09:00"' in page.text  # shown back in the zone


async def test_the_browsers_time_zone_wins_over_the_setting(newsroom: Newsroom) -> None:
    async with newsroom.client() as client:
        await newsroom.sign_in(client, time_zone="America/New_York")
        done = await post_form(
            client,
            "/newsroom/articles",
            {**DRAFT, "publish_at": "2026-01-15T09:30"},
            action="schedule",
        )
        assert done.status_code == 303
        assert sent(newsroom, "POST", "/publish") == [{"at": "2026-01-15T14:30:00+00:00"}]


async def test_publish_then_unpublish(newsroom: Newsroom) -> None:
    async with signed_in(newsroom) as client:
        done = await post_form(client, "/newsroom/articles", DRAFT, action="publish")
        page = await client.get(done.headers["location"])
        assert "Published." in page.text
        assert '<button type="submit">Unpublish</button>' in page.text
        (article,) = newsroom.services.articles.values()
        gone = await client.post(
            f"/newsroom/articles/{article['id']}/unpublish",
            data={"csrf_token": csrf_of(page.text)},
        )
        assert gone.status_code == 303
        assert article["status"] == "unpublished"
        again = await client.post(
            f"/newsroom/articles/{article['id']}/unpublish",
            data={"csrf_token": csrf_of(page.text)},
        )
        assert again.status_code == 409
        assert "It is not published." in again.text


async def test_a_stale_save_shows_both_versions_and_keeps_what_was_typed(
    newsroom: Newsroom,
) -> None:
    async with signed_in(newsroom) as client:
        done = await post_form(client, "/newsroom/articles", DRAFT)
        path = done.headers["location"]
        mine = await client.get(path)
        theirs = await client.post(
            path,
            data={
                **DRAFT,
                "title": "Their title",
                "revision": "1",
                "action": "save",
                "csrf_token": csrf_of(mine.text),
            },
        )
        assert theirs.status_code == 303
        conflict = await client.post(
            path,
            data={
                **DRAFT,
                "body": "My long paragraph",
                "revision": "1",
                "action": "save",
                "csrf_token": csrf_of(mine.text),
            },
        )
        assert conflict.status_code == 409
        html = conflict.text
        assert "My long paragraph</textarea>" in html  # mine, still editable
        assert "<dd>Their title</dd>" in html  # theirs, beside it
        assert 'name="revision" value="2"' in html  # saving mine now goes over theirs
        (article,) = newsroom.services.articles.values()
        assert article["title"] == "Their title"


async def test_revisions_diff_and_restore_as_a_new_revision(newsroom: Newsroom) -> None:
    async with signed_in(newsroom) as client:
        done = await post_form(client, "/newsroom/articles", DRAFT)
        path = done.headers["location"]
        page = await client.get(path)
        await client.post(
            path,
            data={
                **DRAFT,
                "body": "They met again.",
                "revision": "1",
                "action": "save",
                "csrf_token": csrf_of(page.text),
            },
        )
        listing = await client.get(f"{path}/revisions")
        assert listing.status_code == 200
        assert "<td>Ed Itor</td>" in listing.text
        assert "<td>created</td>" in listing.text
        diff = await client.get(f"{path}/diff?old=1&new=2")
        assert "<del>-They *met*.</del>" in diff.text
        assert "<ins>+They met again.</ins>" in diff.text
        missing = await client.get(f"{path}/diff?old=1&new=9")
        assert missing.status_code == 404
        restored = await client.post(
            f"{path}/revisions/1/restore", data={"csrf_token": csrf_of(page.text)}
        )
        assert restored.status_code == 303
        (article,) = newsroom.services.articles.values()
        assert (article["revision"], article["body"]) == (3, "They *met*.")
        page = await client.get(path)
        assert "Revision 1 restored as revision 3." in page.text


async def test_the_list_filters_searches_and_pages_newest_first() -> None:
    newsroom = Newsroom(page_size=2)
    async with signed_in(newsroom) as client:
        for n in range(5):
            newsroom.clock.advance(minutes=1)
            await post_form(client, "/newsroom/articles", {**DRAFT, "title": f"Story {n}"})
        first = await client.get("/newsroom/articles")
        assert first.text.index("Story 4") < first.text.index("Story 3")
        assert "Story 2" not in first.text
        assert "Page 1 of 3" in first.text
        assert 'rel="next" href="/newsroom/articles?page=2"' in first.text
        found = await client.get(
            "/newsroom/articles?q=story+1&status=draft&section=foreign-affairs"
        )
        assert "Story 1" in found.text
        assert "1 article<" in found.text
        params = last_list(newsroom).url.params
        assert (params["q"], params["status"], params["section"]) == (
            "story 1",
            "draft",
            "foreign-affairs",
        )
        nonsense = await client.get("/newsroom/articles?status=bogus")
        assert nonsense.status_code == 200
        assert "status" not in last_list(newsroom).url.params


async def test_the_dashboard_counts_and_links_each_list(newsroom: Newsroom) -> None:
    newsroom.services.delivery(1)
    newsroom.services.delivery(2)
    newsroom.services.delivery(3, state="sent")
    async with signed_in(newsroom, "ad@example.com") as client:
        await post_form(client, "/newsroom/articles", DRAFT)
        await post_form(
            client, "/newsroom/articles", {**DRAFT, "publish_at": "2026-07-01T09:00"}, "schedule"
        )
        await post_form(client, "/newsroom/articles", DRAFT, action="publish")
        page = await client.get("/newsroom/")
        html = page.text
        assert '<a href="/newsroom/articles?status=draft"><strong>1</strong> Drafts' in html
        assert "<strong>1</strong> Scheduled" in html
        assert "01 Jul 2026, 09:00 BST" in html
        assert "<strong>1</strong> Published today" in html
        assert '/moderation"><strong>3</strong> Comments awaiting moderation' in html
        assert '/subscribers?state=failed"><strong>2</strong> Failed deliveries' in html
    # An editor sees both counts (they name no one) but no link: the lists are moderators'.
    newsroom.services.down.add("notifications")
    async with signed_in(newsroom) as editor:
        html = (await editor.get("/newsroom/")).text
    assert "<span><strong>3</strong> Comments awaiting moderation (moderators" in html
    assert "Failed deliveries (the notifications service is unavailable)" in html
    assert "/newsroom/moderation" not in html
    assert "/newsroom/subscribers" not in html


async def test_a_service_that_is_down_shows_a_page_saying_so_with_the_text_kept(
    newsroom: Newsroom,
) -> None:
    async with signed_in(newsroom) as client:
        page = await client.get("/newsroom/articles/new")
        newsroom.services.down.add("articles")
        answer = await client.post(
            "/newsroom/articles",
            data={
                **DRAFT,
                "body": "Hours of work",
                "action": "save",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert answer.status_code == 503
        assert "The articles service is unavailable — what you typed is kept" in answer.text
        assert "Hours of work</textarea>" in answer.text
        assert "csrf" not in answer.text.split("<main")[1].split("</main>")[0].lower()
