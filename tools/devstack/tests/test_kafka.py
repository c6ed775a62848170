"""The real Kafka broker: round trip through the session broker, config, restarts, jar cache."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from broadsheet_devstack import kafka
from broadsheet_devstack.kafka import KafkaServer
from broadsheet_devstack.processes import free_port
from broadsheet_devstack.pytest_plugin import Infra


async def produce(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=[("ce_type", b"test.event")])
    finally:
        await producer.stop()


async def consume_one(
    bootstrap: str, topic: str, group: str
) -> tuple[bytes, bytes, dict[str, bytes], int]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
        partitions = consumer.partitions_for_topic(topic) or set()
        assert record.key is not None
        assert record.value is not None
        return record.key, record.value, dict(record.headers), len(partitions)
    finally:
        await consumer.stop()


@pytest.mark.integration
async def test_produce_consume_round_trip(infra: Infra, unique_prefix: str) -> None:
    topic = f"{unique_prefix}.roundtrip"
    await produce(infra.kafka_bootstrap, topic, b"article-1", b'{"hello": "kafka"}')

    key, value, headers, partitions = await consume_one(
        infra.kafka_bootstrap, topic, f"{unique_prefix}-group"
    )

    assert (key, value) == (b"article-1", b'{"hello": "kafka"}')
    assert headers == {"ce_type": b"test.event"}
    assert partitions == 3  # num.partitions from our server.properties, not Kafka's default 1


@pytest.mark.integration
async def test_data_survives_a_restart_and_storage_is_formatted_once(tmp_path: Path) -> None:
    server = KafkaServer(
        tmp_path / "kafka",
        log_path=tmp_path / "logs" / "kafka.log",
        port=free_port(),
        controller_port=free_port(),
    )
    topic = "survivor"
    try:
        started = time.monotonic()
        server.start()
        await asyncio.to_thread(server.wait_ready)
        first_start = time.monotonic() - started
        meta = (server.storage_dir / "meta.properties").read_text()
        await produce(server.bootstrap_servers, topic, b"k", b"written before the restart")
        server.stop()
        assert server.process is not None
        # The JVM exits 143 (128 + SIGTERM) after its shutdown hooks ran: a clean stop.
        assert server.process.returncode in {0, 143}, "Kafka needed SIGKILL to stop"

        server.start()
        await asyncio.to_thread(server.wait_ready)
        _, value, _, _ = await consume_one(server.bootstrap_servers, topic, "after-restart")
    finally:
        server.stop()

    assert value == b"written before the restart"
    assert (server.storage_dir / "meta.properties").read_text() == meta  # same cluster id
    assert server.log_path.read_text().count("=== formatting storage") == 1
    assert first_start < 60


@pytest.mark.unit
def test_server_properties_and_heap(tmp_path: Path) -> None:
    server = KafkaServer(tmp_path, log_path=tmp_path / "k.log", port=19092, controller_port=19093)
    props = dict(
        line.split("=", 1)
        for line in server.server_properties().splitlines()
        if line and not line.startswith("#")
    )
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert "controller.quorum.voters" not in props  # formatted --standalone: dynamic quorum
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["num.partitions"] == "3"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    command = server._java_command(Path("/libs"), "kafka.Kafka", heap_mb=server.heap_mb)
    assert "-Xmx512m" in command
    assert KafkaServer(tmp_path, log_path=tmp_path / "k.log", heap_mb=4096).heap_mb == 512


@pytest.mark.unit
def test_a_cluster_node_names_every_voter_and_replicates_three_times(tmp_path: Path) -> None:
    cluster = kafka.kafka_for(
        3, tmp_path, log_path=tmp_path / "logs" / "kafka.log", port=19092, controller_port=19093
    )
    assert isinstance(cluster, kafka.KafkaCluster)
    assert cluster.bootstrap_servers == "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096"
    node = cluster.node(2)
    props = dict(
        line.split("=", 1)
        for line in node.server_properties().splitlines()
        if line and not line.startswith("#")
    )
    assert props["node.id"] == "2"
    voters = "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
    assert props["controller.quorum.voters"] == voters
    assert "controller.quorum.bootstrap.servers" not in props
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19094,CONTROLLER://127.0.0.1:19095"
    assert props["default.replication.factor"] == "3"
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"
    assert node.log_path == tmp_path / "logs" / "kafka-2.log"
    assert {n.cluster_id for n in cluster.nodes} == {cluster.cluster_id}
    single = kafka.kafka_for(1, tmp_path, log_path=tmp_path / "k.log", port=1, controller_port=2)
    assert isinstance(single, KafkaServer)
    assert single.replicas == 1
    assert "min.insync.replicas=1" in single.server_properties()


@pytest.mark.unit
def test_cluster_ids_look_like_kafkas() -> None:
    ids = {kafka.random_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


@pytest.mark.integration
def test_cached_jars_are_reused_without_maven(monkeypatch: pytest.MonkeyPatch) -> None:
    libs = kafka.ensure_jars()
    assert (libs / f"kafka_2.13-{kafka.kafka_version()}.jar").is_file()
    # With the cache complete, ensure_jars must not even look for Maven.
    monkeypatch.setattr(kafka.shutil, "which", lambda name: None)
    assert kafka.ensure_jars() == libs
