"""The outbox relay against the real database and Kafka: a message the broker refuses for good
is retried, then failed and counted, without holding back the events behind it; a relay that
lost its lease neither sends nor marks anything; batches go out in order, each after the one
before it is marked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from pydantic_settings import SettingsConfigDict

from broadsheet_shared.events import ArticleRef, ArticleUnpublishedV1, decode_event, topics
from broadsheet_shared.outbox import (
    OUTBOX,
    OUTBOX_FAILED,
    RELAY_LEASES,
    SCANNED_BATCHES,
    MessageRefused,
    OutboxRelay,
    OutgoingMessage,
    RawPublisher,
)
from broadsheet_shared.runtime import ServiceRuntime
from broadsheet_shared.settings import DatabaseServiceSettings
from broadsheet_shared.unit_of_work import Transaction

pytestmark = pytest.mark.integration


class RelaySettings(DatabaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RELAYTEST_", extra="ignore", frozen=True)


def unpublished(slug: str) -> ArticleUnpublishedV1:
    return ArticleUnpublishedV1(
        subject="article-1",
        data=ArticleRef(article_id="article-1", slug=slug, url_path="/articles/x"),
    )


@pytest.fixture
async def runtime(infra: Any, unique_prefix: str) -> AsyncIterator[ServiceRuntime]:
    settings = RelaySettings(
        service_name=unique_prefix,
        mongo_url=infra.mongo_url,
        kafka_bootstrap_servers=infra.kafka_bootstrap,
        kafka_topic_prefix=f"{unique_prefix}.",
        mongo_database=f"{unique_prefix}_relay",
        run_workers=False,
    )
    runtime = ServiceRuntime(settings)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


async def write(runtime: ServiceRuntime, *slugs: str) -> None:
    for slug in slugs:

        async def work(tx: Transaction, slug: str = slug) -> None:
            tx.emit(unpublished(slug))

        await runtime.uow.run(work)


def relay(
    runtime: ServiceRuntime, publisher: RawPublisher | None = None, batch_size: int = 200
) -> OutboxRelay:
    return OutboxRelay(
        runtime.db,
        runtime.outbox,
        publisher or runtime.producer,
        service=runtime.settings.service_name,
        batch_size=batch_size,
        max_refusals=2,
    )


async def published_slugs(runtime: ServiceRuntime, expected: int) -> list[str]:
    consumer = AIOKafkaConsumer(
        runtime.settings.topic(topics.ARTICLES),
        bootstrap_servers=runtime.settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    slugs: list[str] = []
    try:
        async with asyncio.timeout(20):
            while len(slugs) < expected:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    for record in records:
                        event = decode_event(record.value, record.headers)
                        assert isinstance(event, ArticleUnpublishedV1)
                        slugs.append(event.data.slug)
        # Nothing more arrives (a duplicate would).
        assert not await consumer.getmany(timeout_ms=300)
    finally:
        await consumer.stop()
    return slugs


async def states(runtime: ServiceRuntime) -> list[str]:
    rows = await runtime.db[OUTBOX].find().sort("_id", 1).to_list()
    return [row["state"] for row in rows]


async def test_a_refused_event_is_failed_after_the_retries_and_the_rest_go_out(
    runtime: ServiceRuntime,
) -> None:
    # Larger than the producer's max_request_size (1 MB): Kafka will never take it.
    await write(runtime, "first", "x" * 1_200_000, "third")
    service = runtime.settings.service_name
    failed_before = OUTBOX_FAILED.labels(service)._value.get()
    the_relay = relay(runtime)
    assert await the_relay.hold_lease()

    with pytest.raises(MessageRefused):  # refused once: kept, and the one behind it waits
        await the_relay.publish_pending()
    assert await states(runtime) == ["published", "pending", "pending"]
    assert await the_relay.publish_pending() == 0  # refused twice: failed
    assert await states(runtime) == ["published", "failed", "pending"]
    assert await the_relay.publish_pending() == 1
    assert await states(runtime) == ["published", "failed", "published"]

    assert OUTBOX_FAILED.labels(service)._value.get() == failed_before + 1
    assert await published_slugs(runtime, 2) == ["first", "third"]


class Recording:
    """Records, at each send, the states of the outbox rows: what was marked before it."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.sends: list[tuple[list[str], list[str]]] = []  # (slugs sent, states then)

    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> None:
        sent = [decode_event(m.value or b"", m.headers) for m in messages]
        slugs = [event.data.slug for event in sent if isinstance(event, ArticleUnpublishedV1)]
        self.sends.append((slugs, await states(self.runtime)))


@pytest.mark.parametrize(
    ("batch_size", "count"),
    [(2, 5), (1, SCANNED_BATCHES + 2)],
    ids=["one-scan", "a-second-scan"],  # one scan lists the ids of SCANNED_BATCHES batches
)
async def test_batches_go_out_in_order_each_after_the_one_before_is_marked(
    runtime: ServiceRuntime, batch_size: int, count: int
) -> None:
    """The next batch is read while one is sent, but sent only once that one is marked, so a
    crash re-sends from the oldest unmarked batch on; one call drains the backlog."""
    slugs = [f"s{n:02d}" for n in range(count)]
    await write(runtime, *slugs)
    recording = Recording(runtime)
    the_relay = relay(runtime, recording, batch_size=batch_size)
    assert await the_relay.hold_lease()

    assert await the_relay.publish_pending() == count
    marked = 0
    for sent, states_then in recording.sends:
        assert len(sent) == min(batch_size, count - marked)
        assert states_then == ["published"] * marked + ["pending"] * (count - marked)
        marked += len(sent)
    assert [slug for sent, _ in recording.sends for slug in sent] == slugs
    assert await states(runtime) == ["published"] * count


class FrozenThen:
    """A relay frozen mid-publish (a stopped process, a long pause) past its lease; when it
    wakes up its send fails (it would note the error on its batch) or succeeds (it would mark
    its batch published)."""

    def __init__(self, fails: bool) -> None:
        self.fails = fails
        self.entered = asyncio.Event()
        self.wake = asyncio.Event()

    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> None:
        self.entered.set()
        await self.wake.wait()
        if self.fails:
            raise ConnectionError("broker went away while we slept")


@pytest.mark.parametrize("fails", [True, False], ids=["send-fails", "send-succeeds"])
async def test_a_relay_that_lost_its_lease_mid_batch_changes_nothing(
    runtime: ServiceRuntime, fails: bool
) -> None:
    await write(runtime, "one", "two")
    frozen = FrozenThen(fails)
    stale, current = relay(runtime, frozen), relay(runtime)
    assert await stale.hold_lease()
    stale_batch = asyncio.create_task(stale.publish_pending())
    await asyncio.wait_for(frozen.entered.wait(), 10)

    # Its lease runs out while it is frozen; another relay takes over.
    await runtime.db[RELAY_LEASES].update_one(
        {"_id": "relay"}, {"$set": {"until": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    assert await current.hold_lease()

    frozen.wake.set()
    if fails:
        with pytest.raises(ConnectionError):
            await stale_batch
    else:
        assert await stale_batch == 0  # its mark is refused: the lease is no longer its own
    # It noted no error and marked nothing: the new holder sends the rows, as it must.
    rows = await runtime.db[OUTBOX].find().sort("_id", 1).to_list()
    assert [(row["state"], "last_error" in row) for row in rows] == [("pending", False)] * 2
    assert await current.publish_pending() == 2
    assert await published_slugs(runtime, 2) == ["one", "two"]

    # Nor can it claim anything while the other relay holds the lease.
    await write(runtime, "three")
    assert not await stale.hold_lease()
    assert await stale.publish_pending() == 0
    assert await states(runtime) == ["published", "published", "pending"]


async def test_a_stopped_relay_gives_its_lease_up_and_a_killed_one_keeps_it(
    runtime: ServiceRuntime,
) -> None:
    """A graceful stop hands over at once (a restarted service's events do not wait the lease
    out); a relay that dies without stopping keeps the lease until it expires, the fencing
    above then keeps its batch safe."""

    async def running(the_relay: OutboxRelay) -> asyncio.Task[None]:
        task = asyncio.create_task(the_relay.run())
        for _ in range(100):
            if await runtime.db[RELAY_LEASES].find_one({"_id": "relay"}):
                return task  # the only relay running holds it
            await asyncio.sleep(0.05)
        raise AssertionError("the relay never took its lease")

    stopped = relay(runtime)
    task = await running(stopped)
    stopped.stop()
    await asyncio.wait_for(task, 10)
    assert await relay(runtime).hold_lease()

    await runtime.db[RELAY_LEASES].delete_many({})
    killed = relay(runtime)
    task = await running(killed)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not await relay(runtime).hold_lease()


async def test_rows_an_earlier_relay_left_claimed_are_sent_after_an_upgrade(
    runtime: ServiceRuntime,
) -> None:
    # Relays before this one claimed a batch ("in_flight") before sending it; one killed
    # between the two left its batch so, and this relay never looks for that state.
    await write(runtime, "claimed", "pending")
    first = await runtime.db[OUTBOX].find_one(sort=[("_id", 1)])
    assert first is not None
    await runtime.db[OUTBOX].update_one({"_id": first["_id"]}, {"$set": {"state": "in_flight"}})
    the_relay = relay(runtime)
    task = asyncio.create_task(the_relay.run())
    try:
        assert await published_slugs(runtime, 2) == ["claimed", "pending"]
    finally:
        the_relay.stop()
        await asyncio.wait_for(task, 10)
    assert await states(runtime) == ["published", "published"]
