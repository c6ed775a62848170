"""Issue 14, scenario 6: poison events (malformed JSON, an unknown version, an unknown type, a
handler that always fails) are dead-lettered, after the retries where retrying can help, while
the events behind them in their partition are delayed less than 30 s; ``broadsheet-dlq list``
shows them and ``broadsheet-dlq replay`` hands back, once, what can be handled after the fix.

Real processes: Kafka, the database, a consumer process running the services' consumer runner
(poison_consumer.py) and the ``broadsheet-dlq`` command as installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import MongoClient

from broadsheet_shared.events import encode_event, topics

from . import proof
from .faults import wait_until
from .outbox_processes import article_event

pytestmark = [pytest.mark.integration, pytest.mark.fault]

SCRIPT = Path(__file__).with_name("poison_consumer.py")
DLQ = Path(sys.executable).with_name("broadsheet-dlq")
DELAY_LIMIT = 30.0
BROKEN = "article-99999"  # article_event(99999): its handler fails until the test fixes it


def dlq(command: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(DLQ), command], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def poison() -> list[tuple[str, bytes, list[tuple[str, bytes]]]]:
    """(what, value, headers) of the three messages no handler is even called for."""
    _, value, headers = encode_event(article_event(1))
    body = orjson.loads(value)

    def retyped(event_type: str, version: int) -> tuple[bytes, list[tuple[str, bytes]]]:
        changed = {"ce_type": event_type.encode(), "ce_version": str(version).encode()}
        return (
            orjson.dumps({**body, "type": event_type, "version": version}),
            [(name, changed.get(name, v)) for name, v in headers],
        )

    return [
        ("malformed JSON", value[: len(value) // 2], headers),
        ("unknown version", *retyped("article.published", 99)),
        ("unknown type", *retyped("article.retitled", 1)),
    ]


@pytest.fixture
def consumer(infra: Any, unique_prefix: str) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        **infra.env(),
        "KAFKA_TOPIC_PREFIX": f"{unique_prefix}.",
        "PROBE_MONGO_DATABASE": f"{unique_prefix}_poison",
    }
    log = (infra.log_dir / f"poison-consumer-{unique_prefix}.log").open("wb")
    process = subprocess.Popen([sys.executable, str(SCRIPT)], env=env, stdout=log, stderr=log)
    try:
        yield env
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.mark.timeout(1200)  # four runs of the command, each a fresh process joining a group
async def test_poison_is_dead_lettered_without_holding_up_the_rest_and_replayed_once(
    infra: Any, unique_prefix: str, consumer: dict[str, str]
) -> None:
    good = proof.size(in_suite=20, in_proof=500)
    mongo: MongoClient[dict[str, Any]] = MongoClient(infra.mongo_url)
    db = mongo[consumer["PROBE_MONGO_DATABASE"]]
    handled = db["handled"]
    db["broken"].insert_one({"_id": BROKEN})
    topic = f"{unique_prefix}.{topics.ARTICLES}"
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await producer.start()

    async def send(value: bytes, headers: list[tuple[str, bytes]]) -> None:
        # One key for all: the poison sits in front of the good events in one partition.
        await producer.send_and_wait(topic, value, key=b"one-article", headers=headers)

    published: dict[str, datetime] = {}

    async def send_good(n: int) -> None:
        event = article_event(n)
        _, value, headers = encode_event(event)
        published[str(event.id)] = datetime.now(UTC)
        await send(value, headers)

    try:
        await send_good(0)  # the consumer has joined its group once this one is handled
        wait_until(lambda: handled.count_documents({}) == 1, 90, "the consumer to start")
        # Its wait was the consumer joining its group, not the poison: not a delay behind it.
        warm_up = set(published)
        poisons = [*poison(), ("failing handler", *encode_event(article_event(99999))[1:])]
        for n, (_, value, headers) in enumerate(poisons):
            await send(value, headers)
            for m in range(good // len(poisons)):
                await send_good(1 + n * good + m)
        wait_until(lambda: handled.count_documents({}) == len(published), 120, "the good events")

        rows = {row["_id"]: row for row in handled.find({})}
        delays = [
            (rows[event_id]["handled_at"].replace(tzinfo=UTC) - at).total_seconds()
            for event_id, at in published.items()
            if event_id in rows and event_id not in warm_up
        ]
        listed = dlq("list", consumer)

        db["broken"].delete_many({})  # the cause is fixed
        first, second = dlq("replay", consumer), dlq("replay", consumer)
        wait_until(
            lambda: handled.count_documents({"article_id": BROKEN}) == 1, 60, "the replayed event"
        )
        # A last event behind the replay: once it is handled, a second replay would have been.
        await send_good(100_000)
        wait_until(lambda: handled.count_documents({}) == len(published) + 1, 60, "the last one")
    finally:
        await producer.stop()
    after = dlq("list", consumer)
    rows = {row["_id"]: row for row in handled.find({})}
    duplicated = sum(row["n"] - 1 for row in rows.values())
    lost = len(published) - sum(event_id in rows for event_id in published)
    mongo.close()

    proof.record(
        proof.Outcome(
            scenario="6. poison events dead-lettered, the rest delayed < 30 s, replayed once",
            events=len(published) + len(poisons),
            lost=lost,
            duplicated=duplicated,
            recovery_seconds=round(max(delays), 2),
            passed=(
                lost == duplicated == 0
                and max(delays) < DELAY_LIMIT
                and listed.count(" waiting") == len(poisons)
                and "1 replayed, 3 skipped." in first
                and "Nothing to replay." in second
            ),
            notes=[f"max delay behind the poison {max(delays):.1f} s"],
        )
    )
    assert (lost, duplicated) == (0, 0)
    assert max(delays) < DELAY_LIMIT
    # Each poison is listed with where it came from, its type and its error.
    assert listed.count(" waiting") == len(poisons), listed
    assert f"from {topic} (group {unique_prefix}.poison-consumer)  key one-article" in listed
    for expected in (
        "EventDecodeError: not JSON",
        "type article.published v99",
        "UnknownEventType: unknown event article.published v99",
        "type article.retitled v1",
        "RuntimeError: the handler cannot take article-99999",
        "4 dead letters, 4 not replayed yet.",
    ):
        assert expected in listed, listed
    # Only what this build can read goes back; the rest is said to be skipped.
    assert "1 replayed, 3 skipped." in first, first
    assert "replayed " in first
    assert "article.published v1, key one-article" in first
    assert "Nothing to replay." in second, second
    assert "4 dead letters, 0 not replayed yet." in after, after
