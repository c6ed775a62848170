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

pytestmark = pytest.mark.unit
SLUG = "foreign-affairs-1"


async def test_staff_suppress_cancels_and_blocks(published: Any) -> None:
    w = published
    await w.subscriptions.follow(FollowArticle(SLUG, "a@example.org", "1.1.1.1"))
    address = await w.staff.suppress(SuppressAddress("A@example.org"))
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
        await w.staff.retry(RetryDelivery(delivery.id))
    with pytest.raises(NotFound):
        await w.staff.retry(RetryDelivery("missing"))
    delivery.state = DeliveryState.FAILED
    retried = await w.staff.retry(RetryDelivery(delivery.id))
    assert retried.state == DeliveryState.PENDING
    items, cursor = await w.staff.deliveries(DeliveryState.PENDING, 10, None)
    assert [d.id for d in items] == [delivery.id]
    assert cursor is None
