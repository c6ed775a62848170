"""Generates the AsyncAPI 3.0 document of every event from the pydantic models.

The checked-in copy lives at ``docs/events.asyncapi.json``; a test fails when it no longer
matches the models. Regenerate with ``uv run python -m broadsheet_shared.events.asyncapi``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
from pydantic.json_schema import models_json_schema

from broadsheet_shared.events import topics
from broadsheet_shared.events.codec import registered_events

DOCUMENT_PATH = Path("docs/events.asyncapi.json")

_HEADERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents Kafka binding headers (ce_*); they repeat the envelope.",
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "format": "uuid"},
        "ce_type": {"type": "string"},
        "ce_version": {"type": "string"},
        "ce_source": {"type": "string"},
        "ce_subject": {"type": "string"},
        "ce_time": {"type": "string", "format": "date-time"},
        "content-type": {"type": "string", "const": "application/json"},
    },
    "required": ["ce_id", "ce_type", "ce_version"],
}


def _message_name(event_type: str, version: int) -> str:
    return f"{event_type.replace('.', '_')}_v{version}"


def build_document() -> dict[str, Any]:
    events = registered_events()
    _, schemas = models_json_schema(
        [(cls, "serialization") for cls in events], ref_template="#/components/schemas/{model}"
    )
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {
        topic: {"address": topic, "messages": {}} for topic in sorted(topics.ALL)
    }
    for topic, config in topics.CONFIGS.items():
        channels[topic]["bindings"] = {
            "kafka": {"topicConfiguration": {key: [value] for key, value in config.items()}}
        }
    channels[topics.ARTICLE_STATES]["description"] = (
        "Compacted: the latest record of each key (article id) is the article's current "
        "state; a tombstone (null value, same key) follows the article's deletion."
    )
    operations: dict[str, Any] = {}
    for cls in events:
        event_type = cls.model_fields["type"].default
        version = cls.model_fields["version"].default
        name = _message_name(event_type, version)
        messages[name] = {
            "name": event_type,
            "title": f"{event_type} v{version}",
            "summary": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else event_type,
            "contentType": "application/json",
            "headers": _HEADERS_SCHEMA,
            "payload": {"$ref": f"#/components/schemas/{cls.__name__}"},
            "bindings": {"kafka": {"key": {"type": "string", "description": "article id"}}},
        }
        channels[cls.TOPIC]["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    for topic in sorted(topics.ALL):
        operations[f"publish_{topic.replace('.', '_')}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic}"},
            "messages": [
                {"$ref": f"#/channels/{topic}/messages/{name}"}
                for name in sorted(channels[topic]["messages"])
            ],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Broadsheet integration events",
            "version": "1.0.0",
            "description": (
                "Every event Broadsheet's services publish on Kafka. JSON values; id, type and "
                "version repeated in ce_* headers; keyed by article id. A breaking change is a "
                "new version, never an edit. Generated from broadsheet_shared.events."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas.get("$defs", {})},
    }


def render() -> bytes:
    return orjson.dumps(build_document(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DOCUMENT_PATH
    target.write_bytes(render())
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
