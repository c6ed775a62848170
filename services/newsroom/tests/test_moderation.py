"""The moderators' pages on fake services: the queue with what a moderator needs, one and
several decisions at once, paging, bans from a comment, lifting them, and who may see them."""

from __future__ import annotations

import json

import pytest

from .conftest import Newsroom, csrf_of, signed_in

pytestmark = pytest.mark.unit


async def test_the_queue_shows_each_held_comment_with_its_article_parent_and_author(
    newsroom: Newsroom,
) -> None:
    services = newsroom.services
    services.held = [
        services.held_comment(1),
        services.held_comment(
            2,
            parent_id="f" * 24,
            parent={"id": "f" * 24, "author_name": "Ann", "excerpt": "The first word"},
        ),
        services.held_comment(3, article=None),
    ]
    async with signed_in(newsroom, "mo@example.com") as client:
        home = await client.get("/newsroom/")
        assert home.headers["location"] == "/newsroom/moderation"
        page = await client.get("/newsroom/moderation")
    assert page.status_code == 200
    first = f"{1:024x}"
    assert f'<a href="/articles/rain#comment-{first}">Rain in Spain</a>' in page.text
    assert "In reply to Ann: “The first word”" in page.text
    assert "An article not yet known here" in page.text
    for shown in ("Reader 1", "reader1@example.com", "198.51.100.1", "first comment from"):
        assert shown in page.text
    for button in ("Approve", "Reject", "Spam", "Delete", "Approve selected"):
        assert f">{button}</button>" in page.text
    assert "kind=client&amp;value=198.51.100.1" in page.text


async def test_one_comment_and_several_at_once_are_decided(newsroom: Newsroom) -> None:
    async with signed_in(newsroom, "mo@example.com") as client:
        page = await client.get("/newsroom/moderation")
        token = csrf_of(page.text)
        one = f"{1:024x}"
        answer = await client.post(
            "/newsroom/moderation", data={"csrf_token": token, "act": f"approve:{one}"}
        )
        assert answer.status_code == 303
        assert "1 comment approved." in (await client.get("/newsroom/moderation")).text
        several = [f"{2:024x}", f"{3:024x}", one]
        answer = await client.post(
            "/newsroom/moderation", data={"csrf_token": token, "act": "spam", "ids": several}
        )
        after = await client.get("/newsroom/moderation")
        nothing = await client.post(
            "/newsroom/moderation", data={"csrf_token": token, "act": "spam"}
        )
        told = await client.get("/newsroom/moderation")
    assert "2 comments marked as spam." in after.text
    assert "1 not marked as spam: Already decided." in after.text
    assert "No comments are waiting." in after.text
    assert newsroom.services.decided == {one: "approve", several[0]: "spam", several[1]: "spam"}
    sent = [r for r in newsroom.services.requests if r.url.path.endswith("/moderate")]
    assert json.loads(sent[-1].content) == {"ids": several, "action": "spam"}
    assert nothing.status_code == 303
    assert "Select at least one comment first." in told.text


async def test_a_decision_without_the_csrf_token_is_refused(newsroom: Newsroom) -> None:
    async with signed_in(newsroom, "mo@example.com") as client:
        answer = await client.post("/newsroom/moderation", data={"act": f"approve:{1:024x}"})
    assert answer.status_code == 403
    assert newsroom.services.decided == {}


async def test_the_queue_pages_older_comments(newsroom: Newsroom) -> None:
    newsroom.services.held_comments = newsroom.container.settings.page_size + 2
    async with signed_in(newsroom, "mo@example.com") as client:
        first = await client.get("/newsroom/moderation")
        assert 'rel="next"' in first.text
        cursor = first.text.split("/newsroom/moderation?cursor=")[1].split('"')[0]
        second = await client.get(f"/newsroom/moderation?cursor={cursor}")
    last = newsroom.container.settings.page_size + 2
    assert f"Reader {last}<" in second.text
    assert f"Reader {last}<" not in first.text
    assert 'rel="next"' not in second.text


async def test_a_ban_from_a_comment_is_listed_and_lifted(newsroom: Newsroom) -> None:
    async with signed_in(newsroom, "ad@example.com") as client:
        form = await client.get("/newsroom/moderation/bans/new?kind=client&value=198.51.100.1")
        assert 'value="198.51.100.1"' in form.text
        assert 'id="kind-client" name="kind" value="client" checked' in form.text
        token = csrf_of(form.text)
        answer = await client.post(
            "/newsroom/moderation/bans",
            data={
                "csrf_token": token,
                "kind": "client",
                "value": "198.51.100.1",
                "duration_minutes": "10080",
                "reason": "abuse",
            },
        )
        assert answer.headers["location"] == "/newsroom/moderation/bans"
        listed = await client.get("/newsroom/moderation/bans")
        lifted = await client.post(
            "/newsroom/moderation/bans/client%3A198.51.100.1/lift", data={"csrf_token": token}
        )
        after = await client.get("/newsroom/moderation/bans")
    assert "Banned 198.51.100.1 for 7 days." in listed.text
    assert "abuse" in listed.text
    assert lifted.status_code == 303
    assert "Ban lifted." in after.text
    assert "No bans are in force." in after.text


async def test_a_refused_ban_shows_the_reason_next_to_the_field_and_keeps_what_was_typed(
    newsroom: Newsroom,
) -> None:
    async with signed_in(newsroom, "mo@example.com") as client:
        token = csrf_of((await client.get("/newsroom/moderation/bans/new")).text)
        bad = await client.post(
            "/newsroom/moderation/bans",
            data={
                "csrf_token": token,
                "kind": "email",
                "value": "nobody",
                "duration_minutes": "60",
            },
        )
        odd = await client.post(
            "/newsroom/moderation/bans",
            data={"csrf_token": token, "kind": "x", "value": "a@b.c", "duration_minutes": "7"},
        )
    assert bad.status_code == 422
    assert 'id="value-error">not an email' in bad.text
    assert 'value="nobody"' in bad.text
    assert odd.status_code == 422
    assert "Choose an email or a client address." in odd.text
    assert "Choose how long the ban lasts." in odd.text
    assert newsroom.services.bans == {}


async def test_an_editor_may_not_moderate_and_sees_no_moderation_links(
    newsroom: Newsroom,
) -> None:
    async with signed_in(newsroom) as client:
        queue = await client.get("/newsroom/moderation")
        bans = await client.get("/newsroom/moderation/bans")
        dashboard = await client.get("/newsroom/")
    assert queue.status_code == 403
    assert bans.status_code == 403
    assert "/newsroom/moderation" not in dashboard.text


async def test_a_moderator_sees_only_moderation_and_an_admin_everything(
    newsroom: Newsroom,
) -> None:
    async with signed_in(newsroom, "mo@example.com") as client:
        page = await client.get("/newsroom/moderation")
    nav = page.text.split('aria-label="Newsroom"')[1].split("</nav>")[0]
    assert ">Moderation<" in nav
    assert ">Articles<" not in nav
    async with signed_in(newsroom, "ad@example.com") as client:
        page = await client.get("/newsroom/moderation")
    nav = page.text.split('aria-label="Newsroom"')[1].split("</nav>")[0]
    assert ">Moderation<" in nav
    assert ">Articles<" in nav


async def test_the_comments_service_down_shows_a_page_saying_so(newsroom: Newsroom) -> None:
    async with signed_in(newsroom, "mo@example.com") as client:
        newsroom.services.down.add("comments")
        page = await client.get("/newsroom/moderation")
    assert page.status_code == 503
    assert "The comments service is unavailable" in page.text


async def test_the_queue_is_newest_or_oldest_first_and_keeps_the_order_in_the_url(
    newsroom: Newsroom,
) -> None:
    newsroom.services.held_comments = newsroom.container.settings.page_size + 2
    async with signed_in(newsroom, "mo@example.com") as client:
        oldest = await client.get("/newsroom/moderation?order=oldest")
        cursor = oldest.text.split("/newsroom/moderation?order=oldest&amp;cursor=")[1].split('"')[0]
        later = await client.get(f"/newsroom/moderation?order=oldest&cursor={cursor}")
        token = csrf_of(oldest.text)
        decided = await client.post(
            "/newsroom/moderation",
            data={"csrf_token": token, "act": f"approve:{1:024x}", "order": "oldest"},
        )
        bogus = await client.get("/newsroom/moderation?order=sideways")
    last = newsroom.container.settings.page_size + 2
    asked = [r.url.params.get("order") for r in newsroom.services.requests]
    assert asked.count("oldest") == 2
    assert oldest.text.index(f"Reader {last}<") < oldest.text.index("Reader 3<")
    assert (
        'aria-current="page" href="/newsroom/moderation?order=oldest">Oldest first' in oldest.text
    )
    assert 'name="order" value="oldest"' in oldest.text
    assert "Reader 1<" in later.text
    assert "Reader 1<" not in oldest.text
    assert decided.headers["location"] == "/newsroom/moderation?order=oldest"
    assert bogus.status_code == 400


async def test_comments_are_found_by_email_or_address_and_offer_a_ban(newsroom: Newsroom) -> None:
    services = newsroom.services
    services.others = [
        services.held_comment(
            9, author_email="reader1@example.com", status="approved", client="", article=None
        )
    ]
    async with signed_in(newsroom, "mo@example.com") as client:
        form = await client.get("/newsroom/moderation/find")
        by_email = await client.get(
            "/newsroom/moderation/find?kind=email&value=READER1@example.com"
        )
        by_address = await client.get("/newsroom/moderation/find?kind=client&value=198.51.100.2")
        nobody = await client.get("/newsroom/moderation/find?kind=client&value=192.0.2.1")
        odd = await client.get("/newsroom/moderation/find?kind=phone&value=1")
    assert form.status_code == 200
    assert "Comments by" not in form.text
    assert '<label for="value">Email or address</label>' in form.text
    assert by_email.text.count('class="held-comment"') == 2
    assert f'<a href="/articles/rain#comment-{1:024x}">Rain in Spain</a>' in by_email.text
    assert "<dd>approved</dd>" in by_email.text
    assert "no longer kept" in by_email.text
    assert "kind=email&amp;value=reader1%40example.com" in by_email.text  # Ban email
    assert by_address.text.count('class="held-comment"') == 1
    assert "kind=client&amp;value=198.51.100.2" in by_address.text  # Ban address
    assert "No comments found. Client addresses are kept for a limited time" in nobody.text
    assert odd.status_code == 422
    assert "Choose an email or a client address." in odd.text
    searched = [r.url.params for r in services.requests if r.url.path.endswith("/search")]
    assert [(p["kind"], p["value"]) for p in searched] == [
        ("email", "READER1@example.com"),
        ("client", "198.51.100.2"),
        ("client", "192.0.2.1"),
    ]


async def test_an_editor_may_not_find_comments(newsroom: Newsroom) -> None:
    async with signed_in(newsroom) as client:
        answer = await client.get("/newsroom/moderation/find?kind=email&value=a@b.c")
    assert answer.status_code == 403
    assert not [r for r in newsroom.services.requests if r.url.path.endswith("/search")]
