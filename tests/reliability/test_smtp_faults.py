"""Issue 14, scenario 5: the mail server down for a while (2 minutes at full size), and,
separately, a mail server that accepts but answers more slowly than the delivery lease: no
email lost, none sent twice, all sent within 2 minutes of the server's recovery.

Real processes: the notifications service (uvicorn), Kafka, the database, SMTP capture (stopped
and started again) and, for the slow server, an aiosmtpd server in this test whose answer to
DATA comes after the lease has run out.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from broadsheet_devstack.processes import free_port
from broadsheet_shared.kafka.producer import EventProducer

from . import proof
from .faults import reply_request, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.fault]

RECOVERY_LIMIT = 120.0
LEASE_SECONDS = 2.0
SLOW_ANSWER_SECONDS = 3 * LEASE_SECONDS


async def publish(infra: Any, prefix: str, emails: list[str]) -> None:
    producer = EventProducer(infra.kafka_bootstrap, "smtp-faults")
    await producer.start()
    try:
        for email in emails:
            event = reply_request(f"a-{secrets.token_hex(2)}", email)
            await producer.publish(event, f"{prefix}.{event.TOPIC}")
    finally:
        await producer.stop()


class SlowServer:
    """Accepts every message, but answers DATA only after ``SLOW_ANSWER_SECONDS``."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()

    async def handle_DATA(  # the name aiosmtpd calls
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        await asyncio.sleep(SLOW_ANSWER_SECONDS)
        self.received.update(envelope.rcpt_tos)
        return "250 OK"


async def test_mail_server_down_then_slow_loses_nothing_and_doubles_nothing(
    infra: Any, unique_prefix: str, service_process: Any
) -> None:
    readers = proof.size(in_suite=6, in_proof=200)
    outage = proof.size(in_suite=5, in_proof=120)

    # Down: the service retries with its default backoff while the server refuses connections.
    service_process(
        "notifications", env={"NOTIFICATIONS_DELIVERY_POLL_SECONDS": "0.2"}, ready_timeout=240
    )
    down = [f"d{n}-{unique_prefix}@example.org" for n in range(readers)]

    def captured() -> Counter[str]:
        return Counter(email for m in infra.mail() for email in down if email in m.to)

    with infra.smtp_stopped():
        await publish(infra, unique_prefix, down)
        await asyncio.sleep(outage)
    back = time.monotonic()
    try:
        wait_until(lambda: len(captured()) == readers, RECOVERY_LIMIT + 30, "the held mail")
    finally:
        drained = time.monotonic() - back
        counts = captured()

    # Slow: a second service (own topics and database) sends to a server slower than its lease.
    slow = SlowServer()
    controller = Controller(slow, hostname="127.0.0.1", port=free_port())
    controller.start()
    slow_prefix = f"{unique_prefix}s"
    try:
        service_process(
            "notifications",
            prefix=slow_prefix,
            ready_timeout=240,
            env={
                "NOTIFICATIONS_SMTP_PORT": str(controller.port),
                "NOTIFICATIONS_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
                "NOTIFICATIONS_SMTP_TIMEOUT_SECONDS": str(SLOW_ANSWER_SECONDS * 3),
            },
        )
        slowed = [f"s{n}-{slow_prefix}@example.org" for n in range(readers)]
        await publish(infra, slow_prefix, slowed)
        wait_until(lambda: len(slow.received) == readers, 120, "the slow server's mail")
        # Longer than a lease and a send more: a second copy would have arrived by now.
        await asyncio.sleep(LEASE_SECONDS + SLOW_ANSWER_SECONDS)
    finally:
        controller.stop()

    lost = (readers - len(counts)) + (readers - len(slow.received))
    duplicated = sum(n - 1 for n in counts.values()) + sum(n - 1 for n in slow.received.values())
    proof.record(
        proof.Outcome(
            scenario="5. SMTP down, then slower than the delivery lease",
            events=2 * readers,
            lost=lost,
            duplicated=duplicated,
            recovery_seconds=round(drained, 2),
            passed=lost == duplicated == 0 and drained < RECOVERY_LIMIT,
            notes=[
                f"down {outage} s; every held mail sent {drained:.1f} s after recovery",
                f"slow server answered after {SLOW_ANSWER_SECONDS:g} s, lease {LEASE_SECONDS:g} s",
            ],
        )
    )
    assert (lost, duplicated) == (0, 0)
    assert drained < RECOVERY_LIMIT
