"""Benchmark: Broadsheet's outbox relay against librdkafka and Kafka's own producer (issue 16).

Three producers send 1 KB messages, acks=all and idempotent, to the same broker (the devstack's
Kafka), in alternating rounds (method.alternate):

- **librdkafka** through ``confluent-kafka`` from PyPI, in its own virtualenv (peers.py), keyed
  by article id as our events are;
- **kafka-producer-perf-test** (``org.apache.kafka.tools.ProducerPerformance`` from the
  ``kafka-tools`` jar, resolved by Maven beside the broker's jars), unkeyed as it sends;
- **Broadsheet's outbox relay** (shared/…/outbox.py with the services' own ``EventProducer``),
  end to end from database commit to broker ack: the events are committed to the outbox first
  (as use cases do, 100 to a transaction), then the relay publishes them as it does in a
  service (list the oldest pending rows, read a batch, check the lease, send it while reading
  the next, wait for every ack, mark it published under the lease) until none is pending. Its
  figure is events/s over that drain.

Goal: the relay publishes >= 0.5x librdkafka's messages/s.

    uv run python tools/bench/bench_librdkafka.py [--messages 100000] [--relay-messages 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import shutil
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import devstack
from method import Comparison, Goal, Peer, alternate, emit, started_section
from peers import SCRIPTS, PeerMissing, installed_version, kafka_tools_classpath, peer_python
from pydantic_settings import SettingsConfigDict

from broadsheet_devstack.kafka import kafka_version
from broadsheet_shared.events import CommentApprovedData, CommentApprovedV1, topics
from broadsheet_shared.events.codec import encode_event
from broadsheet_shared.http.logging import configure_logging
from broadsheet_shared.kafka.admin import ensure_topics
from broadsheet_shared.mongo import Session, run_in_transaction
from broadsheet_shared.outbox import (
    BATCH_SIZE,
    OUTBOX,
    SCANNED_BATCHES,
    OutboxRelay,
    OutboxState,
    OutgoingMessage,
    RawPublisher,
)
from broadsheet_shared.runtime import ServiceRuntime
from broadsheet_shared.settings import DatabaseServiceSettings
from broadsheet_shared.unit_of_work import Transaction

CONFLUENT_KAFKA = "confluent-kafka==2.16.1"
MESSAGE_BYTES = 1024
PEER_TOPIC = "bench-producers"
# The relay's own figure: a use case commits a handful of events; 100 per transaction only
# makes seeding quick, the relay reads them back in its own batches either way.
SEED_PER_TRANSACTION = 100
# How many rows time the database's own writes.
REWRITTEN_ROWS = 1_000


class RelaySettings(DatabaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BENCHRELAY_", extra="ignore", frozen=True)
    service_name: str = "bench-relay"


def sized_event(n: int) -> CommentApprovedV1:
    """A real event whose encoded value is exactly MESSAGE_BYTES long."""

    def event(excerpt: str) -> CommentApprovedV1:
        now = datetime.now(UTC)
        return CommentApprovedV1(
            subject=f"article-{n % 50:05d}",
            data=CommentApprovedData(
                comment_id=f"c{n:08d}",
                article_id=f"article-{n % 50:05d}",
                article_slug=f"story-{n % 50}",
                article_title="Talks resume in Geneva",
                article_url_path=f"/articles/story-{n % 50}",
                parent_id=None,
                author_name="Bench Reader",
                excerpt=excerpt,
                created_at=now,
                approved_at=now,
            ),
        )

    bare = len(encode_event(event(""))[1])
    return event("x" * (MESSAGE_BYTES - bare))


class TimedPublisher:
    """The relay's publisher, timing how long the relay waits on the broker."""

    def __init__(self, inner: RawPublisher) -> None:
        self.inner = inner
        self.seconds = 0.0

    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> None:
        started = time.perf_counter()
        try:
            await self.inner.send_batch(messages)
        finally:
            self.seconds += time.perf_counter() - started


async def relay_round(infra_env: Mapping[str, str], count: int) -> dict[str, float]:
    """Commits ``count`` events to a fresh outbox, then drains it with the relay: events/s, the
    share of the drain spent waiting on the broker, and what the database server takes to
    write one outbox row in a transaction (as the relay's mark does)."""
    settings = RelaySettings(
        mongo_url=infra_env["MONGO_URL"],
        mongo_database=f"benchrelay{secrets.token_hex(3)}",
        kafka_bootstrap_servers=infra_env["KAFKA_BOOTSTRAP_SERVERS"],
        kafka_topic_prefix=f"b{secrets.token_hex(3)}.",
        run_workers=False,
        # The services' 1.5 s operation timeout is for a reader waiting; on this shared machine
        # a seeding transaction may take longer, and failing it measures nothing.
        mongo_timeout_ms=8_000,
        outbox_lease_seconds=60.0,
    )
    runtime = ServiceRuntime(settings)
    await runtime.start()  # indexes, topics, the producer connected
    try:
        for start in range(0, count, SEED_PER_TRANSACTION):

            async def commit(tx: Transaction, start: int = start) -> None:
                for n in range(start, min(start + SEED_PER_TRANSACTION, count)):
                    tx.emit(sized_event(n))

            await runtime.uow.run(commit)
        # What finding the oldest pending rows costs with the whole backlog pending.
        read_started = time.perf_counter()
        await (
            runtime.db[OUTBOX]
            .find({"state": OutboxState.PENDING.value})
            .sort("_id", 1)
            .limit(BATCH_SIZE)
            .to_list()
        )
        backlog_read = time.perf_counter() - read_started
        publisher = TimedPublisher(runtime.producer)
        relay = OutboxRelay(
            runtime.db,
            runtime.outbox,
            publisher,
            service="bench-relay",
            lease_seconds=settings.outbox_lease_seconds,
        )
        started = time.perf_counter()
        # OutboxRelay.run's loop without its idle wait: renew the lease, publish a batch.
        while await relay.hold_lease() and await relay.publish_pending():
            pass
        seconds = time.perf_counter() - started
        published = await runtime.db[OUTBOX].count_documents({"state": OutboxState.PUBLISHED.value})
        if published != count:
            raise RuntimeError(f"the relay published {published} of {count} events")

        # The database's own cost of a mark, per row: rows rewritten as the relay marks them,
        # a batch of ids to a transaction.
        rows = await runtime.db[OUTBOX].find({}, {"_id": 1}).limit(REWRITTEN_ROWS).to_list()
        ids = [row["_id"] for row in rows]
        rewrite_started = time.perf_counter()
        for start in range(0, len(ids), BATCH_SIZE):

            async def rewrite(
                session: Session, batch: list[Any] = ids[start : start + BATCH_SIZE]
            ) -> None:
                await runtime.db[OUTBOX].update_many(
                    {"_id": {"$in": batch}},
                    {"$set": {"published_at": datetime.now(UTC)}},
                    session=session,
                )

            await run_in_transaction(runtime.db.client, rewrite)
        row_write = (time.perf_counter() - rewrite_started) / len(ids)
        await runtime.mongo.drop_database(settings.mongo_database)
        return {
            "messages/s": count / seconds,
            "broker share": publisher.seconds / seconds,
            "row write µs": row_write * 1e6,
            "backlog read ms": backlog_read * 1000,
        }
    finally:
        await runtime.stop()


def librdkafka_round(python: str, bootstrap: str, count: int) -> float:
    argv = [python, str(SCRIPTS / "librdkafka_produce.py"), bootstrap, PEER_TOPIC, str(count)]
    out = subprocess.run([*argv, str(MESSAGE_BYTES)], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    if result["acked"] != count:
        raise RuntimeError(f"librdkafka: {result['acked']} of {count} acknowledged")
    return float(result["acked"] / result["seconds"])


def perf_test_round(classpath: str, bootstrap: str, count: int) -> float:
    java = shutil.which("java") or "java"
    argv = [
        java,
        "-Xmx512m",
        "-cp",
        classpath,
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        PEER_TOPIC,
        "--num-records",
        str(count),
        "--record-size",
        str(MESSAGE_BYTES),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={bootstrap}",
        "acks=all",
        "enable.idempotence=true",
        "linger.ms=5",
    ]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    # The summary line: "N records sent, R records/sec (M MB/sec), …".
    summary = re.findall(rf"^{count} records sent, ([\d.]+) records/sec", out, re.M)
    if not summary:
        raise RuntimeError(f"kafka-producer-perf-test printed no summary:\n{out[-1000:]}")
    return float(summary[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000, help="per round, each peer")
    parser.add_argument("--relay-messages", type=int, default=20_000, help="per round")
    args = parser.parse_args()

    configure_logging("bench-relay", "WARNING")
    section = started_section("Outbox relay vs librdkafka and kafka-producer-perf-test")
    runners: dict[str, str] = {}  # peer → what runs it (its Python, its classpath)
    peers = []
    try:
        python = peer_python("confluent-kafka", CONFLUENT_KAFKA)
        peers.append(Peer("librdkafka", _librdkafka_version(python)))
        runners["librdkafka"] = str(python)
    except PeerMissing as missing:
        peers.append(Peer("librdkafka", None, str(missing)))
    try:
        runners["kafka-producer-perf-test"] = kafka_tools_classpath()
        peers.append(Peer("kafka-producer-perf-test", f"Kafka {kafka_version()}"))
    except PeerMissing as missing:
        peers.append(Peer("kafka-producer-perf-test", None, str(missing)))
    section.peers = peers

    with devstack("librdkafka") as infra:
        env = infra.env()
        bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
        asyncio.run(ensure_topics(bootstrap, [PEER_TOPIC], partitions=topics.PARTITIONS))

        def measure(system: str) -> dict[str, float]:
            if system == "Broadsheet":
                figures = asyncio.run(relay_round(env, args.relay_messages))
                print(f"{system}: {figures['messages/s']:,.0f} messages/s", flush=True)
                return figures
            if system == "librdkafka":
                rate = librdkafka_round(runners[system], bootstrap, args.messages)
            else:
                rate = perf_test_round(runners[system], bootstrap, args.messages)
            print(f"{system}: {rate:,.0f} messages/s", flush=True)
            return {"messages/s": rate}

        rounds = alternate(["Broadsheet", *runners], measure)

    ours = rounds["Broadsheet"]["messages/s"]
    broker_share = statistics.median(rounds["Broadsheet"]["broker share"])
    row_write = statistics.median(rounds["Broadsheet"]["row write µs"])
    backlog_read = statistics.median(rounds["Broadsheet"]["backlog read ms"])
    why = (
        f"the relay waits on the broker (aiokafka's sends and acks, in Python) for "
        f"{broker_share:.0%} of its drain and on the database server for most of the rest, "
        f"which works row by row: finding the oldest {BATCH_SIZE} pending rows took "
        f"{backlog_read:,.0f} ms with {args.relay_messages:,} pending (the server matches every "
        f"pending row before it sorts and limits, so the relay scans once per {SCANNED_BATCHES} "
        f"batches and reads the rows by id), and it writes {row_write:,.0f} µs per outbox row "
        f"({REWRITTEN_ROWS:,} rows updated {BATCH_SIZE} to a transaction as the relay marks "
        f"them, after each drain), one mark per event: at most {1e6 / row_write:,.0f} marks/s "
        f"before any read or send. The relay already reads the next batch during the send, "
        f"fences its marks by renewing its lease instead of writing a claim on every row, and "
        f"marks a batch in one transaction."
    )
    for peer in runners:
        section.comparisons.append(
            Comparison(
                figure="1 KB messages acknowledged, acks=all, idempotent",
                unit="messages/s",
                peer=peer,
                ours=ours,
                theirs=rounds[peer]["messages/s"],
                goal=Goal("ratio_at_least", 0.5) if peer == "librdkafka" else None,
                why=why,
            )
        )
    section.notes += [
        f"Per round: {args.messages:,} messages from each peer, {args.relay_messages:,} events "
        f"through the relay (committed first, then drained: database read, send, ack, mark; the "
        f"next batch read during the send); {MESSAGE_BYTES}-byte values, {topics.PARTITIONS} "
        f"partitions, linger 5 ms for all three.",
        "librdkafka and the relay key by article id (50 ids); kafka-producer-perf-test sends "
        "no key.",
    ]
    emit(section)


def _librdkafka_version(python: Path) -> str:
    code = "import confluent_kafka as c; print(c.libversion()[0])"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return (
        f"librdkafka {out.stdout.strip()} "
        f"(confluent-kafka {installed_version(python, 'confluent-kafka')})"
    )


if __name__ == "__main__":
    main()
