"""The delivery worker over fakes: ledger states, retries, the crash window."""

from datetime import timedelta
from typing import Any

import pytest

from broadsheet_notifications.commands import RetryDelivery
from broadsheet_notifications.consumers import build_router
from broadsheet_notifications.delivery import DeliveryWorker, PermanentFailure
from broadsheet_notifications.domain import DeliveryState

pytestmark = pytest.mark.unit


def make_worker(world: Any, **kwargs: Any) -> DeliveryWorker:
    return DeliveryWorker(
        world.repos.ledger,
        world.uow,
        world.composer,
        world.mailer,
        world.retry,
        clock=world.clock,
        lease_seconds=60,
        **kwargs,
    )


async def reply_story(world: Any, ev: Any) -> None:
    router = build_router(world.planner, world.inbox, world._queued)
    await router.dispatch(ev.posted("c1", "ada@example.org"))
    await world.confirm("ada@example.org")
    await router.dispatch(ev.approved("c2", parent_id="c1"))


async def test_sends_marks_sent_and_emits_event(world: Any, ev: Any) -> None:
    await reply_story(world, ev)
    worker = make_worker(world)
    assert await worker.run_once() == 2  # the confirmation and the reply
    assert await worker.run_once() == 0
    assert len(world.mailer.sent) == 2
    assert {d.state for d in world.repos.ledger.deliveries.values()} == {DeliveryState.SENT}
    sent = [e for e in world.uow.events if e.type == "notification.sent"]
    assert sorted(e.data.kind for e in sent) == ["confirmation", "reply"]


async def test_smtp_down_retries_with_backoff_then_delivers(world: Any, ev: Any) -> None:
    await reply_story(world, ev)
    worker = make_worker(world)
    world.mailer.failure = ConnectionRefusedError("smtp down")
    await worker.run_once()
    pending = world.repos.ledger.in_state(DeliveryState.PENDING)
    assert len(pending) == 2
    assert all(d.next_attempt_at == world.clock.now + timedelta(seconds=5) for d in pending)
    assert await worker.run_once() == 0  # not due yet
    world.clock.advance(seconds=5)
    await worker.run_once()
    assert all(
        d.next_attempt_at == world.clock.now + timedelta(seconds=10)
        for d in world.repos.ledger.in_state(DeliveryState.PENDING)
    )
    world.mailer.failure = None
    world.clock.advance(seconds=10)
    await worker.run_once()
    assert len(world.mailer.sent) == 2
    assert len(world.repos.ledger.in_state(DeliveryState.SENT)) == 2


async def test_gives_up_after_max_age_and_staff_can_retry(world: Any, ev: Any) -> None:
    await reply_story(world, ev)
    worker = make_worker(world)
    world.mailer.failure = ConnectionRefusedError("smtp down")
    for _ in range(200):
        await worker.run_once()
        world.clock.advance(minutes=15)
        if len(world.repos.ledger.in_state(DeliveryState.FAILED)) == 2:
            break
    failed = world.repos.ledger.in_state(DeliveryState.FAILED)
    assert len(failed) == 2
    assert len([e for e in world.uow.events if e.type == "notification.failed"]) == 2
    world.mailer.failure = None
    await world.staff.retry(RetryDelivery(failed[0].id))
    await worker.run_once()
    assert len(world.mailer.sent) == 1


async def test_permanent_refusal_fails_at_once(world: Any, ev: Any) -> None:
    await reply_story(world, ev)
    world.mailer.failure = PermanentFailure("550 no such user")
    await make_worker(world).run_once()
    assert len(world.repos.ledger.in_state(DeliveryState.FAILED)) == 2


async def test_crash_after_smtp_accepted_costs_at_most_one_duplicate(world: Any, ev: Any) -> None:
    await reply_story(world, ev)
    worker = make_worker(world)

    async def die(*_: Any) -> None:
        raise KeyboardInterrupt  # the process dies after SMTP accepted, before recording

    worker._record = die  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        await worker.run_once()
    assert len(world.mailer.sent) == 2
    assert len(world.repos.ledger.in_state(DeliveryState.SENDING)) == 2
    restarted = make_worker(world)
    assert await restarted.run_once() == 0  # the lease still holds
    world.clock.advance(seconds=61)
    assert await restarted.run_once() == 2
    assert await restarted.run_once() == 0
    ids = [m["Message-ID"] for m in world.mailer.sent]
    assert len(ids) == 4
    assert len(set(ids)) == 2
    assert len(world.repos.ledger.in_state(DeliveryState.SENT)) == 2


async def test_digest_waits_for_window_end(world: Any, ev: Any) -> None:
    await reply_story(world, ev)
    router = build_router(world.planner, world.inbox, world._queued)
    for n in range(3, 8):
        await router.dispatch(ev.approved(f"c{n}", parent_id="c1"))
    worker = make_worker(world)
    await worker.run_once()
    to_ada = world.mailer.to("ada@example.org")
    assert len(to_ada) == 4  # confirmation + 3 replies
    world.clock.advance(minutes=10)
    await worker.run_once()
    digest = world.mailer.to("ada@example.org")[-1]
    assert str(digest["Subject"]).startswith("3 new comments")
    assert "c7" in digest.get_body(("plain",)).get_content()


async def test_reply_withdrawn_while_a_failing_send_is_in_flight_is_not_retried(
    world: Any, ev: Any
) -> None:
    await reply_story(world, ev)
    router = build_router(world.planner, world.inbox, world._queued)
    worker = make_worker(world)
    world.mailer.failure = ConnectionRefusedError("smtp down")

    real_send = world.mailer.send

    async def send_then_reject(message: Any) -> None:
        await router.dispatch(ev.rejected("c2"))  # arrives while the send is in flight
        await real_send(message)

    world.mailer.send = send_then_reject
    await worker.run_once()
    reply = next(d for d in world.repos.ledger.deliveries.values() if d.kind == "reply")
    assert world.repos.ledger.deliveries[reply.id].state == DeliveryState.CANCELLED
