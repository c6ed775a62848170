"""Issue 14, scenario 9: on a three-broker KRaft cluster (3 replicas, ``min.insync.replicas=2``,
producers ``acks=all`` with idempotence), the leader of a partition is SIGKILLed while events
flow: every event Kafka acknowledged reaches the consumer, exactly once, and the consumer goes on.

Real processes: the three brokers, the session's database, and one probe service
(``outbox_processes.py consume``) that, like every service, relays its outbox to Kafka and
consumes the topic in the same process. A writer commits the events to that outbox meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import MongoClient

from broadsheet_devstack.kafka import KafkaCluster
from broadsheet_shared.events import topics

from .proof import Outcome, record, size

# Three JVMs start, elect and replicate on a shared two-core machine.
pytestmark = [pytest.mark.fault, pytest.mark.e2e, pytest.mark.timeout(1800)]

SCRIPT = Path(__file__).with_name("outbox_processes.py")
EVENTS = size(200, 5000)
DRAIN_WITHIN = 300.0  # for everything to arrive after the kill, on a loaded machine


async def partitions(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    found: list[dict[str, Any]] = described[0]["partitions"]
    return sorted(found, key=lambda partition: partition["partition"])


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_partition_leader_killed_mid_traffic_loses_no_acknowledged_event(
    infra: Any, kafka_cluster: KafkaCluster, unique_prefix: str
) -> None:
    database = f"{unique_prefix}_cluster_probe"
    env = {
        **os.environ,
        **infra.env(),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_cluster.bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": f"{unique_prefix}.",
        "KAFKA_REPLICATION_FACTOR": str(kafka_cluster.replicas),
        "PROBE_MONGO_DATABASE": database,
        # The shared dev database server is slow on a loaded machine (tests/e2e/conftest.py).
        "PROBE_MONGO_TIMEOUT_MS": "4000",
    }
    topic = f"{unique_prefix}.{topics.ARTICLES}"
    mongo: MongoClient[dict[str, Any]] = MongoClient(infra.mongo_url)
    outbox, effects = mongo[database]["outbox"], mongo[database]["effects"]
    log = infra.log_dir / f"cluster-probe-{unique_prefix}.log"
    with log.open("wb") as output:  # a file: a pipe nobody reads would block the logging child
        service = subprocess.Popen(
            [sys.executable, str(SCRIPT), "consume", "0"], env=env, stdout=output, stderr=output
        )
    writer: subprocess.Popen[bytes] | None = None
    try:
        # Topics created and the group joined.
        wait_for(lambda: b"consumer ready" in log.read_bytes(), 120, "the probe service")
        layout = asyncio.run(partitions(kafka_cluster.bootstrap_servers, topic))
        assert all(len(partition["replicas"]) == 3 for partition in layout), layout
        victim = layout[0]["leader"]

        writer = subprocess.Popen(
            [sys.executable, str(SCRIPT), "write", str(EVENTS)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: effects.count_documents({}) >= EVENTS // 4, 600, "first effects")
        kafka_cluster.node(victim).process.kill(signal.SIGKILL)  # type: ignore[union-attr]
        killed_at = time.monotonic()
        acknowledged_at_kill = outbox.count_documents({"state": "published"})

        assert writer.wait(300) == 0
        with contextlib.suppress(AssertionError):  # counted and reported below
            wait_for(
                lambda: (
                    outbox.count_documents({"state": "published"}) == EVENTS
                    and effects.count_documents({}) >= EVENTS
                ),
                DRAIN_WITHIN,
                "every event acknowledged and its effect",
            )
        recovery = time.monotonic() - killed_at
        new_leader = asyncio.run(partitions(kafka_cluster.bootstrap_servers, topic))[0]["leader"]
    finally:
        if writer is not None and writer.poll() is None:
            writer.kill()
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=30)

    # Keyed by article id, as the effects are.
    acknowledged = {
        bytes(row["key"]).decode() for row in outbox.find({"state": "published"}, {"key": 1})
    }
    applied = {row["_id"]: row["applied"] for row in effects.find({})}
    lost = len(acknowledged - set(applied))
    duplicated = sum(n - 1 for n in applied.values() if n > 1)
    # Deliveries beyond one per event: resent by the relay or redelivered after the leader
    # moved, and recognised by the consumer's inbox.
    redelivered = sum(row["n"] for row in mongo[database]["deliveries"].find({})) - len(applied)
    passed = (
        len(acknowledged) == EVENTS
        and lost == 0
        and duplicated == 0
        and len(applied) == EVENTS
        and new_leader != victim
    )
    record(
        Outcome(
            scenario="9. three-broker cluster, partition leader SIGKILLed",
            events=EVENTS,
            lost=lost,
            duplicated=duplicated,
            recovery_seconds=recovery,
            passed=passed,
            notes=[
                f"broker {victim} (leader of partition 0) killed after {acknowledged_at_kill} "
                f"events were acknowledged; partition 0 then led by broker {new_leader}",
                f"{len(acknowledged)} of {EVENTS} events acknowledged by Kafka, "
                f"{len(applied)} took effect; {redelivered} deliveries beyond the first were "
                "recognised and dropped",
            ],
        )
    )
    mongo.close()
    assert len(acknowledged) == EVENTS, "the relay stopped publishing after the kill"
    assert lost == 0, f"{lost} acknowledged events never reached the consumer"
    assert duplicated == 0, f"{duplicated} events took effect twice"
    assert len(applied) == EVENTS
    assert new_leader != victim
