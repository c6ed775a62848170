"""The Subscribers page on fake services: deliveries by state and paged, Retry on a failed one
(and the service's 409 for one that is not failed, shown as a page message), suppressing an
address, and who may see it."""

from __future__ import annotations

import json

import pytest

from .conftest import Newsroom, csrf_of, signed_in

pytestmark = pytest.mark.unit


async def test_deliveries_are_listed_by_state_and_paged(newsroom: Newsroom) -> None:
    services = newsroom.services
    size = newsroom.container.settings.page_size
    for n in range(size + 1):
        services.delivery(n + 1)
    services.delivery(size + 2, state="sent")
    async with signed_in(newsroom, "mo@example.com") as client:
        failed = await client.get("/newsroom/subscribers?state=failed")
        cursor = failed.text.split("/newsroom/subscribers?state=failed&amp;cursor=")[1]
        older = await client.get(f"/newsroom/subscribers?state=failed&cursor={cursor[:32]}")
        sent = await client.get("/newsroom/subscribers?state=sent")
        everything = await client.get("/newsroom/subscribers")
        bogus = await client.get("/newsroom/subscribers?state=lost")
    assert failed.text.count(">Retry</button>") == size
    assert "550 mailbox unavailable" in failed.text
    assert f"r***{size + 1}@example.com" in failed.text
    assert older.text.count(">Retry</button>") == 1
    assert 'aria-current="page">Failed' in failed.text
    assert sent.text.count('<tr id="delivery-') == 1
    assert ">Retry</button>" not in sent.text
    assert everything.text.count('<tr id="delivery-') == size  # the first page of all
    assert bogus.status_code == 400


async def test_a_failed_delivery_is_retried_once_and_a_second_retry_says_why_not(
    newsroom: Newsroom,
) -> None:
    delivery = newsroom.services.delivery(1)
    retry = f"/newsroom/subscribers/deliveries/{delivery['id']}/retry"
    async with signed_in(newsroom, "mo@example.com") as client:
        page = await client.get("/newsroom/subscribers?state=failed")
        token = csrf_of(page.text)
        first = await client.post(retry, data={"csrf_token": token, "state": "failed"})
        after_first = await client.get("/newsroom/subscribers?state=failed")
        again = await client.post(retry, data={"csrf_token": token, "state": "failed"})
        after_again = await client.get("/newsroom/subscribers?state=failed")
        forged = await client.post(retry, data={"state": "failed"})
    assert first.headers["location"] == "/newsroom/subscribers?state=failed"
    assert "Delivery queued again" in after_first.text
    assert delivery["state"] == "pending"
    assert again.status_code == 303
    assert "Not retried: Only failed deliveries can be retried; this one is pending." in (
        after_again.text
    )
    assert forged.status_code == 403
    posted = [r for r in newsroom.services.requests if r.url.path.endswith("/retry")]
    assert len(posted) == 2  # the forged post never reached the service


async def test_an_address_is_suppressed_and_a_bad_one_is_shown_next_to_the_field(
    newsroom: Newsroom,
) -> None:
    async with signed_in(newsroom, "ad@example.com") as client:
        token = csrf_of((await client.get("/newsroom/subscribers")).text)
        done = await client.post(
            "/newsroom/subscribers/suppressions",
            data={"csrf_token": token, "email": " ann@example.com "},
        )
        told = await client.get("/newsroom/subscribers")
        bad = await client.post(
            "/newsroom/subscribers/suppressions", data={"csrf_token": token, "email": "nobody"}
        )
        empty = await client.post(
            "/newsroom/subscribers/suppressions", data={"csrf_token": token, "email": ""}
        )
    assert done.headers["location"] == "/newsroom/subscribers"
    assert "ann@example.com is suppressed" in told.text
    sent = [r for r in newsroom.services.requests if r.url.path.endswith("/suppressions")]
    assert json.loads(sent[0].content) == {"email": "ann@example.com"}
    assert bad.status_code == 422
    assert 'id="email-error">not an email' in bad.text
    assert 'value="nobody"' in bad.text
    assert empty.status_code == 422
    assert "Enter the email address to suppress." in empty.text
    assert newsroom.services.suppressed == ["ann@example.com"]


async def test_editors_may_not_see_subscribers_and_a_down_service_says_so(
    newsroom: Newsroom,
) -> None:
    async with signed_in(newsroom) as client:
        refused = await client.get("/newsroom/subscribers")
    newsroom.services.down.add("notifications")
    async with signed_in(newsroom, "mo@example.com") as client:
        nav = (await client.get("/newsroom/moderation")).text
        down = await client.get("/newsroom/subscribers")
    assert refused.status_code == 403
    assert ">Subscribers<" in nav
    assert ">Find comments<" in nav
    assert down.status_code == 503
    assert "The notifications service is unavailable" in down.text
