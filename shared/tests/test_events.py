from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from broadsheet_shared.events import (
    ArticleData,
    ArticleDeletedV1,
    ArticleDeletedV2,
    ArticlePublishedV1,
    ArticleRef,
    ArticleRevisionRef,
    ArticleUnpublishedV1,
    ArticleUnpublishedV2,
    CommentApprovedData,
    CommentApprovedV1,
    CommentPostedData,
    CommentPostedV1,
    EventDecodeError,
    NotificationSentV1,
    NotificationSentV2,
    SectionRef,
    Tombstone,
    decode_event,
    encode_event,
    registered_events,
    topics,
)
from broadsheet_shared.events.asyncapi import render
from broadsheet_shared.events.codec import UnknownEventType, header
from broadsheet_shared.outbox import outbox_document

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def published(article_id: str = "a1") -> ArticlePublishedV1:
    return ArticlePublishedV1(
        subject=article_id,
        data=ArticleData(
            article_id=article_id,
            slug="talks-resume",
            title="Talks resume",
            section=SectionRef(slug="foreign-affairs", name="Foreign Affairs"),
            url_path="/articles/talks-resume",
            comments_open=True,
            published_at=NOW,
            revision=1,
        ),
    )


def approved_reply() -> CommentApprovedV1:
    return CommentApprovedV1(
        subject="c2",
        data=CommentApprovedData(
            comment_id="c2",
            article_id="a1",
            article_slug="talks-resume",
            article_title="Talks resume",
            article_url_path="/articles/talks-resume",
            parent_id="c1",
            author_name="Bo",
            excerpt="I agree",
            created_at=NOW,
            approved_at=NOW,
        ),
    )


def test_round_trip_keeps_type_and_data() -> None:
    event = published()
    key, value, headers = encode_event(event)
    decoded = decode_event(value, headers)
    assert decoded == event
    assert isinstance(decoded, ArticlePublishedV1)
    assert key == b"a1"


def test_headers_repeat_id_type_and_version() -> None:
    event = published()
    _, _, headers = encode_event(event)
    assert header(headers, "ce_id") == str(event.id)
    assert header(headers, "ce_type") == "article.published"
    assert header(headers, "ce_version") == "1"
    assert header(headers, "ce_subject") == "a1"


def test_comment_events_are_keyed_by_article_not_comment() -> None:
    key, _, _ = encode_event(approved_reply())
    assert key == b"a1"


def test_value_is_plain_json_envelope() -> None:
    _, value, _ = encode_event(published())
    body = orjson.loads(value)
    assert set(body) == {"id", "type", "version", "source", "time", "subject", "data"}
    assert body["type"] == "article.published"
    assert body["source"] == "articles"


def test_decode_falls_back_to_body_when_headers_are_missing() -> None:
    _, value, _ = encode_event(approved_reply())
    assert isinstance(decode_event(value, []), CommentApprovedV1)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "empty"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not an object"),
        (b'{"type": "article.published"}', "without type or version"),
        (b'{"type": "article.published", "version": 1, "data": {}}', "invalid"),
    ],
)
def test_poison_messages_raise_decode_error(value: bytes | None, message: str) -> None:
    with pytest.raises(EventDecodeError, match=message):
        decode_event(value, [])


def test_unknown_version_is_reported_as_unknown_type() -> None:
    _, value, _ = encode_event(published())
    with pytest.raises(UnknownEventType):
        decode_event(value, [("ce_type", b"article.published"), ("ce_version", b"99")])


def test_email_travels_only_with_notify_replies() -> None:
    with pytest.raises(ValueError, match="notify_replies"):
        CommentPostedData(
            comment_id="c1",
            article_id="a1",
            article_slug="s",
            parent_id=None,
            author_name="Al",
            status="approved",
            created_at=NOW,
            notify_replies=False,
            author_email="al@example.com",
        )


def test_posted_event_with_notification_address_round_trips() -> None:
    event = CommentPostedV1(
        subject="c1",
        data=CommentPostedData(
            comment_id="c1",
            article_id="a1",
            article_slug="s",
            parent_id=None,
            author_name="Al",
            status="pending",
            created_at=NOW,
            notify_replies=True,
            author_email="al@example.com",
        ),
    )
    _, value, headers = encode_event(event)
    assert decode_event(value, headers) == event


def test_every_event_type_and_version_is_unique() -> None:
    pairs = [
        (cls.model_fields["type"].default, cls.model_fields["version"].default)
        for cls in registered_events()
    ]
    assert len(pairs) == len(set(pairs))


def test_checked_in_asyncapi_document_matches_the_models() -> None:
    checked_in = Path(__file__).parents[2] / "docs" / "events.asyncapi.json"
    assert checked_in.read_bytes() == render(), (
        "docs/events.asyncapi.json is stale: run "
        "`uv run python -m broadsheet_shared.events.asyncapi`"
    )


def test_notification_kinds_stay_closed_in_version_1_and_open_in_version_2() -> None:
    facts = {
        "delivery_id": "d1",
        "article_id": None,
        "source_event_id": None,
        "recipient_hash": "ab" * 32,
        "sent_at": datetime(2026, 11, 30, tzinfo=UTC),
    }
    with pytest.raises(ValueError, match="kind"):
        NotificationSentV1(subject="s", data={**facts, "kind": "staff_password"})
    later = NotificationSentV2(subject="s", data={**facts, "kind": "staff_password"})
    _, value, headers = encode_event(later)
    assert decode_event(value, headers) == later


def test_unpublished_and_deleted_decode_to_their_own_version() -> None:
    ref = ArticleRef(article_id="a1", slug="talks-resume", url_path="/articles/talks-resume")
    events = [
        ArticleUnpublishedV1(subject="a1", data=ref),
        ArticleDeletedV1(subject="a1", data=ref),
        ArticleUnpublishedV2(subject="a1", data=ArticleRevisionRef(**dict(ref), revision=4)),
        ArticleDeletedV2(subject="a1", data=ArticleRevisionRef(**dict(ref), revision=5)),
    ]
    for event in events:
        _, value, headers = encode_event(event)
        decoded = decode_event(value, headers)
        assert (type(decoded), decoded) == (type(event), event)


def test_a_tombstone_reaches_the_outbox_as_a_null_value_under_its_key() -> None:
    first = outbox_document(Tombstone(topics.ARTICLE_STATES, "a1"), "p.broadsheet.article-states")
    second = outbox_document(Tombstone(topics.ARTICLE_STATES, "a1"), "p.broadsheet.article-states")
    assert first["value"] is None
    assert (bytes(first["key"]), first["topic"], first["headers"]) == (
        b"a1",
        "p.broadsheet.article-states",
        [],
    )
    # No event id of its own, yet unique in the outbox (its unique index).
    assert first["event_id"] != second["event_id"]
