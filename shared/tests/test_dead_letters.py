"""``broadsheet-dlq``'s view of one dead letter, without a broker: what it shows, what it sends
back and where, and what it will not replay."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka.structs import ConsumerRecord

from broadsheet_shared.events import ArticleRef, ArticleUnpublishedV1, encode_event
from broadsheet_shared.kafka.dead_letters import DeadLetter, DeadLetterSettings, dead_letter_topics

pytestmark = pytest.mark.unit


def dead_letter(value: bytes, headers: list[tuple[str, bytes]]) -> DeadLetter:
    headers = [
        *headers,
        ("dlq_error_type", b"RuntimeError"),
        ("dlq_error_message", b"boom\nsecond line"),
        ("dlq_original_topic", b"p.broadsheet.articles"),
        ("dlq_consumer_group", b"p.comments"),
        ("dlq_attempts", b"5"),
    ]
    record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
        "p.comments.dlq", 2, 41, 1_767_225_600_000, 0, b"a1", value, None, 2, len(value), headers
    )
    return DeadLetter(record, replayed=False)


def event() -> tuple[bytes, list[tuple[str, bytes]]]:
    _, value, headers = encode_event(
        ArticleUnpublishedV1(
            subject="a1", data=ArticleRef(article_id="a1", slug="s", url_path="/articles/s")
        )
    )
    return value, headers


def test_a_dead_letter_shows_where_it_came_from_its_type_error_and_time() -> None:
    letter = dead_letter(*event())
    assert letter.where == "p.comments.dlq:2:41"
    assert (letter.original_topic, letter.group, letter.key) == (
        "p.broadsheet.articles",
        "p.comments",
        "a1",
    )
    assert letter.event_type == "article.unpublished v1"
    assert letter.error == "RuntimeError: boom"
    assert letter.time == datetime(2026, 1, 1, tzinfo=UTC)


def test_a_replay_is_the_original_message_addressed_to_the_group_it_failed_in() -> None:
    value, headers = event()
    message = dead_letter(value, headers).replay_message()
    assert (message.topic, message.key, message.value) == ("p.broadsheet.articles", b"a1", value)
    assert message.headers == [*headers, ("dlq_replay_for", b"p.comments")]


def test_what_this_build_cannot_decode_is_not_replayable() -> None:
    value, headers = event()
    assert dead_letter(value, headers).undecodable() is None
    assert "not JSON" in (dead_letter(value[:10], headers).undecodable() or "")


def test_the_dead_letter_topics_are_those_of_the_prefix_or_one_service() -> None:
    settings = DeadLetterSettings(kafka_topic_prefix="p.")
    existing = {"p.comments.dlq", "p.notifications.dlq", "q.comments.dlq", "p.broadsheet.articles"}
    assert dead_letter_topics(settings, existing, None) == ["p.comments.dlq", "p.notifications.dlq"]
    assert dead_letter_topics(settings, existing, "articles") == ["p.articles.dlq"]
