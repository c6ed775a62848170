"""An event written through one process's outbox takes effect exactly once in another process,
also when the relay is killed between publishing and marking, and when the consumer is killed
with SIGKILL mid-batch and restarted. Real Kafka, real database, real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).with_name("outbox_processes.py")
EVENTS = 200
RELAY_BATCH = 25


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def start(command: str, number: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), command, str(number)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def run(command: str, number: int, env: dict[str, str]) -> int:
    process = start(command, number, env)
    output, _ = process.communicate(timeout=120)
    if process.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(output.decode(errors="replace"))
    return process.returncode


def test_exactly_once_across_relay_and_consumer_kills(infra: Any, unique_prefix: str) -> None:
    base_env = {**os.environ, **infra.env(), "KAFKA_TOPIC_PREFIX": f"{unique_prefix}."}
    writer_db, consumer_db = f"{unique_prefix}_writer", f"{unique_prefix}_consumer"
    writer_env = {**base_env, "PROBE_MONGO_DATABASE": writer_db}
    consumer_env = {**base_env, "PROBE_MONGO_DATABASE": consumer_db}
    mongo: MongoClient[dict[str, Any]] = MongoClient(infra.mongo_url)
    outbox = mongo[writer_db]["outbox"]
    effects = mongo[consumer_db]["effects"]

    assert run("write", EVENTS, writer_env) == 0
    assert outbox.count_documents({"state": "pending"}) == EVENTS

    # The relay dies right after Kafka acknowledged its second batch, before marking it.
    assert run("relay", 2, writer_env) == -signal.SIGKILL
    assert outbox.count_documents({"state": "published"}) == RELAY_BATCH
    assert outbox.count_documents({"state": "pending"}) == EVENTS - RELAY_BATCH

    assert run("relay", 0, writer_env) == 0
    assert outbox.count_documents({"state": "published"}) == EVENTS

    # A slow consumer is killed mid-batch, after some effects committed but before its commit.
    consumer = start("consume", 15, consumer_env)
    wait_until(lambda: effects.count_documents({}) >= EVENTS // 3, 90, "first effects")
    consumer.send_signal(signal.SIGKILL)
    consumer.wait(timeout=10)
    assert effects.count_documents({}) < EVENTS

    consumer = start("consume", 0, consumer_env)
    try:
        wait_until(lambda: effects.count_documents({}) == EVENTS, 90, "every effect")
        # Let any remaining redeliveries arrive: they must all be recognised and skipped.
        time.sleep(2)
    finally:
        consumer.send_signal(signal.SIGTERM)
        consumer.wait(timeout=30)

    applied = [row["applied"] for row in effects.find({})]
    assert len(applied) == EVENTS
    assert set(applied) == {1}, "an event took effect more than once"
    assert mongo[consumer_db]["processed_events"].count_documents({}) == EVENTS
    deliveries = sum(row["n"] for row in mongo[consumer_db]["deliveries"].find({}))
    # The relay's resent batch alone guarantees duplicates reached the handler.
    assert deliveries >= EVENTS + RELAY_BATCH
    mongo.close()
