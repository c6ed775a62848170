"""librdkafka (confluent-kafka) producing ``count`` messages of ``size`` bytes as fast as it
can, acks=all and idempotent, keyed like Broadsheet's events (by one of 50 article ids).

Runs in the peer's own virtualenv (tools/bench/peers.py), so it imports nothing of ours.
Prints one JSON line: messages acknowledged, failures, seconds from the first send to the last
acknowledgement.

    python librdkafka_produce.py BOOTSTRAP TOPIC COUNT SIZE
"""

import json
import sys
import time

from confluent_kafka import KafkaException, Producer, libversion


def main() -> None:
    bootstrap, topic, count, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "client.id": "bench-librdkafka",
            "acks": "all",
            "enable.idempotence": True,
            # The same linger as Broadsheet's producer (shared/…/kafka/producer.py).
            "linger.ms": 5,
        }
    )
    producer.list_topics(topic, timeout=30)  # connected, metadata known: not part of the figure
    acked = failed = 0

    def delivered(error: object, _message: object) -> None:
        nonlocal acked, failed
        if error is None:
            acked += 1
        else:
            failed += 1

    value = b"x" * size
    keys = [f"article-{n:05d}".encode() for n in range(50)]
    started = time.perf_counter()
    for n in range(count):
        while True:
            try:
                producer.produce(topic, value, key=keys[n % 50], on_delivery=delivered)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(120) != 0:
        raise KafkaException("messages still queued after 120 s")
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {"acked": acked, "failed": failed, "seconds": seconds, "librdkafka": libversion()[0]}
        )
    )


if __name__ == "__main__":
    main()
