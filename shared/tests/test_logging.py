"""Access logs never carry the tokens of subscription links; a Kafka client's repeated lines are
thinned."""

from __future__ import annotations

import logging
import logging.config

import pytest
from uvicorn.config import LOGGING_CONFIG

from broadsheet_shared.http.logging import RepeatsThinned, configure_logging, redact_tokens

pytestmark = pytest.mark.unit

TOKEN = "eyJzIjoxfQ.Zk3x_9-Q"


@pytest.mark.parametrize(
    "path",
    [
        f"/api/subscriptions/confirm/{TOKEN}",
        f"/api/subscriptions/unsubscribe/{TOKEN}?from=mail",
        f"/subscriptions/confirm/{TOKEN}",
        f"/subscriptions/unsubscribe/{TOKEN}/",
        f"/anything?a=1&token={TOKEN}",
    ],
)
def test_tokens_in_paths_and_queries_are_redacted(path: str) -> None:
    redacted = redact_tokens(path)
    assert TOKEN not in redacted
    assert "[redacted]" in redacted


def test_other_paths_are_left_alone() -> None:
    for path in ("/api/articles/talks-resume", "/api/subscriptions/stats", "/?p=2"):
        assert redact_tokens(path) == path


def test_the_access_log_line_has_no_token(capsys: pytest.CaptureFixture[str]) -> None:
    logging.config.dictConfig(LOGGING_CONFIG)  # what uvicorn does before it loads the app
    try:
        configure_logging("test", "INFO", json=True)
        # As uvicorn's httptools and h11 protocols write it.
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "POST",
            f"/api/subscriptions/unsubscribe/{TOKEN}",
            "1.1",
            200,
        )
        line = capsys.readouterr().err
        assert "/api/subscriptions/unsubscribe/[redacted]" in line
        assert TOKEN not in line
    finally:
        configure_logging("test", "INFO", json=False)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_a_kafka_clients_repeated_line_goes_out_once_per_interval_with_a_count() -> None:
    clock = Clock()
    thinned = RepeatsThinned("aiokafka", interval=10.0, clock=clock)
    template = "Unable connect to node with id %s: %s"
    passed = []
    for attempt in range(1000):  # a broker down: a line every millisecond
        clock.now = attempt / 1000
        line = record("aiokafka.client", template, 1, "refused")
        if thinned.filter(line):
            passed.append(line)
    assert len(passed) == 1
    # Another message, or the same from another logger, is not held back by the first.
    assert thinned.filter(record("aiokafka.client", "Unable to update metadata from %s", [1]))
    assert thinned.filter(record("aiokafka.consumer.fetcher", template, 1, "refused"))
    clock.now = 12.0
    late = record("aiokafka.client", template, 1, "refused")
    assert thinned.filter(late)
    assert late.getMessage() == (
        "Unable connect to node with id 1: refused [999 more like it in the last 12 s]"
    )


def test_other_loggers_are_never_thinned() -> None:
    thinned = RepeatsThinned("aiokafka", clock=Clock())
    for name in ("broadsheet_shared.outbox", "aiokafkaesque", "uvicorn.error"):
        assert all(thinned.filter(record(name, "outbox relay error")) for _ in range(5))


def test_a_service_logs_a_burst_of_the_same_kafka_error_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    try:
        configure_logging("test", "INFO", json=True)
        for _ in range(100):
            logging.getLogger("aiokafka.client").error("Unable to update metadata from %s", [1])
        assert capsys.readouterr().err.count("Unable to update metadata") == 1
    finally:
        configure_logging("test", "INFO", json=False)
