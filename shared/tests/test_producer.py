"""The producer tells a message the broker refuses for good (MessageRefused, with its place in
the batch) from a failure that may pass, without a broker: aiokafka's client is stood in for."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from broadsheet_shared.kafka.producer import EventProducer
from broadsheet_shared.outbox import MessageRefused, OutgoingMessage

pytestmark = pytest.mark.unit


class StandIn:
    """aiokafka's send(): too large messages are refused when queued, others may fail later."""

    def __init__(self, fail_later: dict[bytes, Exception] | None = None) -> None:
        self.fail_later = fail_later or {}
        self.sent: list[bytes] = []

    async def send(self, topic: str, value: bytes, **_: Any) -> asyncio.Future[object]:
        if len(value) > 10:
            raise MessageSizeTooLargeError("too large")
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if value in self.fail_later:
            future.set_exception(self.fail_later[value])
        else:
            self.sent.append(value)
            future.set_result(None)
        return future


def producer(stand_in: StandIn) -> EventProducer:
    events = EventProducer("127.0.0.1:1", "test", timeout=1.0)
    events._producer = stand_in  # type: ignore[assignment]
    return events


def messages(*values: bytes) -> list[OutgoingMessage]:
    return [OutgoingMessage("t", b"k", value, []) for value in values]


async def test_a_refused_message_names_its_place_after_the_ones_before_went_out() -> None:
    stand_in = StandIn()
    with pytest.raises(MessageRefused) as refused:
        await producer(stand_in).send_batch(messages(b"a", b"b", b"far too large", b"d"))
    assert refused.value.index == 2
    assert stand_in.sent == [b"a", b"b"]


async def test_a_refusal_reported_by_the_broker_names_its_place_too() -> None:
    stand_in = StandIn({b"b": MessageSizeTooLargeError("broker says no")})
    with pytest.raises(MessageRefused) as refused:
        await producer(stand_in).send_batch(messages(b"a", b"b", b"c"))
    assert refused.value.index == 1


async def test_a_failure_that_may_pass_is_no_refusal() -> None:
    stand_in = StandIn({b"a": KafkaConnectionError("broker down")})
    with pytest.raises(KafkaConnectionError):
        await producer(stand_in).send_batch(messages(b"a", b"b"))
