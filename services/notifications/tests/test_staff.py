"""The staff's use cases over fakes."""

from typing import Any

import pytest

from broadsheet_notifications.commands import (
    FollowArticle,
    RetryDelivery,
    SuppressAddress,
)
from broadsheet_notifications.domain import AddressState, DeliveryState
from broadsheet_shared.errors import Conflict, NotFound
from broadsheet_shared.events import StaffActionRecordedV1
from broadsheet_shared.testing import DEV_DIGEST

pytestmark = pytest.mark.unit
SLUG = "foreign-affairs-1"


async def test_staff_suppress_cancels_and_blocks(published: Any) -> None:
    w = published
    await w.subscriptions.follow(FollowArticle(SLUG, "a@example.org", "1.1.1.1"))
    address = await w.staff.suppress(SuppressAddress("A@example.org"), w.moderator)
    assert address.state == AddressState.SUPPRESSED
    assert w.repos.ledger.in_state(DeliveryState.PENDING) == []
    # The link in the mail that went out before: the owner's click cannot undo staff's stop.
    with pytest.raises(Conflict):
        await w.confirm("a@example.org")


async def test_staff_retry_only_failed(published: Any) -> None:
    w = published
    await w.subscriptions.follow(FollowArticle(SLUG, "a@example.org", "1.1.1.1"))
    delivery = next(iter(w.repos.ledger.deliveries.values()))
    with pytest.raises(Conflict):
        await w.staff.retry(RetryDelivery(delivery.id), w.moderator)
    with pytest.raises(NotFound):
        await w.staff.retry(RetryDelivery("missing"), w.moderator)
    delivery.state = DeliveryState.FAILED
    assert await w.staff.count(DeliveryState.FAILED) == 1
    retried = await w.staff.retry(RetryDelivery(delivery.id), w.moderator)
    assert retried.state == DeliveryState.PENDING
    items, cursor = await w.staff.deliveries(DeliveryState.PENDING, 10, None)
    assert [d.id for d in items] == [delivery.id]
    assert cursor is None
    assert await w.staff.count(DeliveryState.FAILED) == 0
    # Retrying it again is refused: it is pending now, so it cannot go out twice.
    with pytest.raises(Conflict):
        await w.staff.retry(RetryDelivery(delivery.id), w.moderator)
    # Only the retry that happened is in the audit log.
    [entry] = w.uow.of_type(StaffActionRecordedV1)
    assert (entry.source, entry.data.action, entry.data.target) == (
        "notifications",
        "delivery.retried",
        delivery.id,
    )
    assert (entry.data.actor_id, entry.data.client) == ("m1", "203.0.113.9")


async def test_a_suppression_is_recorded_by_hash_and_masked_address(world: Any) -> None:
    await world.staff.suppress(SuppressAddress("Ann@example.org"), world.moderator)
    [entry] = world.uow.of_type(StaffActionRecordedV1)
    assert (entry.data.action, entry.data.target, entry.data.details) == (
        "address.suppressed",
        DEV_DIGEST("ann@example.org"),
        {"address": "a***@example.org"},
    )
    assert (entry.data.actor_id, entry.data.actor_role, entry.data.client) == (
        "m1",
        "moderator",
        "203.0.113.9",
    )
