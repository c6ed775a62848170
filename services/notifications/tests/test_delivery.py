"""The delivery worker over fakes: ledger states, retries, the crash window."""

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from broadsheet_notifications.commands import RetryDelivery, SuppressAddress, Unsubscribe
from broadsheet_notifications.consumers import build_router
from broadsheet_notifications.delivery import DeliveryWorker, PermanentFailure
from broadsheet_notifications.domain import DeliveryState
from broadsheet_shared.testing import DEV_DIGEST

pytestmark = pytest.mark.unit


def make_worker(
    world: Any, *, mailer: Any = None, lease_seconds: float = 60, **kwargs: Any
) -> DeliveryWorker:
    return DeliveryWorker(
        world.repos.ledger,
        world.uow,
        world.composer,
        mailer or world.mailer,
        world.retry,
        clock=world.clock,
        lease_seconds=lease_seconds,
        **kwargs,
    )


async def reply_story(world: Any, ev: Any) -> None:
    router = build_router(world.planner, world.inbox, world._queued, world.staff_access)
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
    assert {e.version for e in sent} == {2}  # version 2: kinds are an open set


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
    await world.staff.retry(RetryDelivery(failed[0].id), world.moderator)
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


async def test_expired_leases_are_released_at_most_once_a_second(world: Any, ev: Any) -> None:
    # Releasing is a transaction of its own: paid before every claim, it stood in front of each
    # fresh row's send, many times a second under load, for rows that waited a lease already.
    await reply_story(world, ev)
    releases: list[Any] = []
    release = world.repos.ledger.release_expired

    async def counted(now: Any, session: Any) -> None:
        releases.append(now)
        await release(now, session)

    world.repos.ledger.release_expired = counted
    worker = make_worker(world)
    assert await worker.run_once() == 2
    assert await worker.run_once() == 0
    assert len(releases) == 1
    world.clock.advance(seconds=1)
    assert await worker.run_once() == 0
    assert len(releases) == 2


async def test_digest_waits_for_window_end(world: Any, ev: Any) -> None:
    await reply_story(world, ev)
    router = build_router(world.planner, world.inbox, world._queued, world.staff_access)
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
    router = build_router(world.planner, world.inbox, world._queued, world.staff_access)
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


class GatedMailer:
    """Holds the first ``held`` sends until ``gate`` opens (or the send is stopped); the rest go
    straight to the fake mailer."""

    def __init__(self, world: Any, held: int = 2, failure: Exception | None = None) -> None:
        self.inner = world.mailer
        self.gate = asyncio.Event()
        self.held = held
        self.waiting = 0
        self.failure = failure

    async def send(self, message: Any) -> None:
        if self.held > 0:
            self.held -= 1
            self.waiting += 1
            await self.gate.wait()
            if self.failure is not None:
                raise self.failure
        await self.inner.send(message)

    async def close(self) -> None:
        pass


async def until(condition: Any) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("late", ["sent", "failed"])
async def test_a_worker_that_lost_its_claim_records_nothing(world: Any, ev: Any, late: str) -> None:
    await reply_story(world, ev)
    gated = GatedMailer(world, failure=ConnectionResetError("late") if late == "failed" else None)
    stalled = make_worker(world, mailer=gated)
    first = asyncio.create_task(stalled.run_once())
    await until(lambda: gated.waiting == 2)  # both rows are out; then the worker freezes
    world.clock.advance(seconds=61)  # its lease runs out: another worker claims them
    second_gate = GatedMailer(world)
    second = asyncio.create_task(make_worker(world, mailer=second_gate).run_once())
    await until(lambda: second_gate.waiting == 2)
    gated.gate.set()  # the frozen worker comes back with its (late) answer
    await first
    # Its sent, reschedule or fail changes nothing: the rows are still the second worker's.
    assert len(world.repos.ledger.in_state(DeliveryState.SENDING)) == 2
    assert [e for e in world.uow.events if e.type.startswith("notification.")] == []
    second_gate.gate.set()
    assert await second == 2
    assert len(world.repos.ledger.in_state(DeliveryState.SENT)) == 2
    # A late answer after the row was recorded sent does not turn it back to pending either.
    world.clock.advance(seconds=61)
    assert await make_worker(world).run_once() == 0
    assert len([e for e in world.uow.events if e.type == "notification.sent"]) == 2


async def test_unsubscribe_cancels_a_delivery_waiting_for_a_retry(world: Any, ev: Any) -> None:
    await reply_story(world, ev)
    worker = make_worker(world)
    world.mailer.failure = ConnectionRefusedError("smtp down")
    await worker.run_once()
    assert len(world.repos.ledger.in_state(DeliveryState.PENDING)) == 2  # both wait for a retry
    token = world.signer.unsubscribe_token("all", DEV_DIGEST("ada@example.org"))
    await world.subscriptions.unsubscribe(Unsubscribe(token))
    world.mailer.failure = None
    world.clock.advance(minutes=5)
    assert await worker.run_once() == 0
    assert world.mailer.sent == []
    assert len(world.repos.ledger.in_state(DeliveryState.CANCELLED)) == 2


async def test_suppression_stops_a_send_in_progress(world: Any, ev: Any) -> None:
    await reply_story(world, ev)
    gated = GatedMailer(world)
    # A lease of 0.3 s: the heartbeat renews it (and looks for cancellations) every 0.1 s.
    worker = make_worker(world, mailer=gated, lease_seconds=0.3)
    sending = asyncio.create_task(worker.run_once())
    await until(lambda: gated.waiting == 2)
    await world.staff.suppress(SuppressAddress("ada@example.org"), world.moderator)
    async with asyncio.timeout(5):
        await sending  # returns although the gate never opens: the heartbeat stopped both sends
    assert world.mailer.sent == []
    assert len(world.repos.ledger.in_state(DeliveryState.CANCELLED)) == 2
    assert [e for e in world.uow.events if e.type.startswith("notification.")] == []


async def test_a_lease_that_cannot_be_renewed_stops_the_send_before_it_runs_out(
    world: Any, ev: Any
) -> None:
    await reply_story(world, ev)
    gated = GatedMailer(world)
    worker = make_worker(world, mailer=gated, lease_seconds=0.3)

    async def database_away(*_: Any) -> Any:
        raise ConnectionError("database unreachable")

    world.repos.ledger.renew = database_away
    started = asyncio.get_running_loop().time()
    async with asyncio.timeout(5):
        await worker.run_once()  # returns although the gate never opens
    assert asyncio.get_running_loop().time() - started < 0.3  # within the lease
    assert world.mailer.sent == []
    pending = world.repos.ledger.in_state(DeliveryState.PENDING)
    assert len(pending) == 2  # due again after the backoff, by whoever then holds it
    assert all(d.last_error == "stopped: the lease could not be renewed" for d in pending)


async def test_a_batch_composes_one_message_per_loop_turn(world: Any, ev: Any) -> None:
    # The consumer shares the event loop: a batch composing all its messages in one turn would
    # hold back every database answer the consumer waits for until the last is composed.
    await reply_story(world, ev)
    turns: list[str] = []
    compose = world.composer.compose

    def composing(delivery: Any) -> Any:
        turns.append("compose")
        return compose(delivery)

    world.composer.compose = composing

    async def other_work() -> None:
        while True:
            turns.append("other")
            await asyncio.sleep(0)

    other = asyncio.create_task(other_work())
    try:
        assert await make_worker(world).run_once() == 2
    finally:
        other.cancel()
    first = turns.index("compose")
    assert turns[first : first + 3] == ["compose", "other", "compose"]


async def test_loops_woken_together_look_for_due_rows_once(world: Any, ev: Any) -> None:
    # Every consumer commit wakes every loop at once; each used to run the scan of its own.
    await reply_story(world, ev)
    finds: list[Any] = []
    due_ids = world.repos.ledger.due_ids

    async def slow_due_ids(now: Any, limit: int) -> list[str]:
        finds.append(now)
        await asyncio.sleep(0.01)
        result: list[str] = await due_ids(now, limit)
        return result

    world.repos.ledger.due_ids = slow_due_ids
    worker = make_worker(world)
    handled = await asyncio.gather(*(worker.run_once() for _ in range(3)))
    assert sorted(handled) == [0, 0, 2]
    assert len(finds) == 1


async def test_rows_being_claimed_are_not_claimed_again_by_another_loop(
    world: Any, ev: Any
) -> None:
    await reply_story(world, ev)
    claimed: list[list[str]] = []
    claim, entered, go_on = world.repos.ledger.claim, asyncio.Event(), asyncio.Event()

    async def slow_claim(ids: list[str], now: Any, **kwargs: Any) -> Any:
        claimed.append(list(ids))
        entered.set()
        await go_on.wait()
        return await claim(ids, now, **kwargs)

    world.repos.ledger.claim = slow_claim
    worker = make_worker(world)
    first = asyncio.create_task(worker.run_once())
    await entered.wait()
    go_on.set()  # the second loop's own claim would go through at once
    # The second loop looks again (the first one's look is over) while the first one claims:
    # the rows are still due in the ledger, but it leaves them to the first.
    assert await worker.run_once() == 0
    assert await first == 2
    assert len(claimed) == 1
    assert [d.state for d in world.repos.ledger.deliveries.values()] == [DeliveryState.SENT] * 2
