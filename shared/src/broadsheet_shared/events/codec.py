"""JSON on the wire; id, type and version repeated in CloudEvents Kafka headers (``ce_*``)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from pydantic import ValidationError

from broadsheet_shared.events.articles import (
    ArticleDeletedV1,
    ArticleDeletedV2,
    ArticlePublishedV1,
    ArticleStateV1,
    ArticleUnpublishedV1,
    ArticleUnpublishedV2,
    ArticleUpdatedV1,
)
from broadsheet_shared.events.base import Emitted, IntegrationEvent, Tombstone
from broadsheet_shared.events.comments import (
    CommentApprovedV1,
    CommentDeletedV1,
    CommentEditedV1,
    CommentImportedV1,
    CommentPostedV1,
    CommentRejectedV1,
)
from broadsheet_shared.events.notifications import (
    NotificationFailedV1,
    NotificationFailedV2,
    NotificationSentV1,
    NotificationSentV2,
    ReaderErasedV1,
)
from broadsheet_shared.events.staff import (
    StaffAccountChangedV1,
    StaffActionRecordedV1,
    StaffPasswordLinkIssuedV1,
)

Headers = list[tuple[str, bytes]]

_EVENTS: tuple[type[IntegrationEvent], ...] = (
    ArticlePublishedV1,
    ArticleUpdatedV1,
    ArticleUnpublishedV1,
    ArticleDeletedV1,
    ArticleUnpublishedV2,
    ArticleDeletedV2,
    ArticleStateV1,
    CommentPostedV1,
    CommentApprovedV1,
    CommentRejectedV1,
    CommentEditedV1,
    CommentDeletedV1,
    CommentImportedV1,
    NotificationSentV1,
    NotificationFailedV1,
    NotificationSentV2,
    NotificationFailedV2,
    ReaderErasedV1,
    StaffAccountChangedV1,
    StaffActionRecordedV1,
    StaffPasswordLinkIssuedV1,
)


def _type_and_version(cls: type[IntegrationEvent]) -> tuple[str, int]:
    fields = cls.model_fields
    return fields["type"].default, fields["version"].default


_REGISTRY: dict[tuple[str, int], type[IntegrationEvent]] = {
    _type_and_version(cls): cls for cls in _EVENTS
}

CONTENT_TYPE = b"application/json"


class EventDecodeError(ValueError):
    """A message that is not a valid Broadsheet event (poison: it goes to the dead letters)."""


class UnknownEventType(EventDecodeError):
    """A well-formed event of a type or version this build does not know."""


def registered_events() -> tuple[type[IntegrationEvent], ...]:
    return _EVENTS


def event_class(event_type: str, version: int) -> type[IntegrationEvent]:
    try:
        return _REGISTRY[(event_type, version)]
    except KeyError:
        raise UnknownEventType(f"unknown event {event_type} v{version}") from None


def encode_event(event: IntegrationEvent) -> tuple[bytes, bytes, Headers]:
    """(key, value, headers) for Kafka."""
    value = orjson.dumps(event.model_dump(mode="json"))
    headers: Headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(event.id).encode()),
        ("ce_type", event.type.encode()),
        ("ce_version", str(event.version).encode()),
        ("ce_source", event.source.encode()),
        ("ce_subject", event.subject.encode()),
        ("ce_time", event.time.isoformat().encode()),
        ("content-type", CONTENT_TYPE),
    ]
    return event.article_key().encode(), value, headers


def encode(message: Emitted) -> tuple[bytes, bytes | None, Headers]:
    """(key, value, headers) for Kafka: an event, or a tombstone (no value, no headers)."""
    if isinstance(message, Tombstone):
        return message.key.encode(), None, []
    return encode_event(message)


def topic_of(message: Emitted) -> str:
    """The base topic name of an event or a tombstone."""
    return message.topic if isinstance(message, Tombstone) else message.TOPIC


def header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("utf-8", errors="replace")
    return None


def decode_event(value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> IntegrationEvent:
    """The typed event; type and version come from the headers, falling back to the body."""
    if value is None:
        raise EventDecodeError("empty message")
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise EventDecodeError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise EventDecodeError("event body is not an object")
    event_type = header(headers, "ce_type") or body.get("type")
    version = header(headers, "ce_version") or body.get("version")
    if not isinstance(event_type, str) or version is None:
        raise EventDecodeError("event without type or version")
    try:
        cls = event_class(event_type, int(version))
    except ValueError as exc:
        raise UnknownEventType(str(exc)) from exc
    try:
        return cls.model_validate(body)
    except ValidationError as exc:
        raise EventDecodeError(f"invalid {event_type} v{version}: {exc}") from exc
