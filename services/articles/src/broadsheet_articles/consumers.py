"""Event consumers. The articles service is the source of its data and consumes no events yet;
the router exists so every service is wired the same way."""

from __future__ import annotations

from broadsheet_shared.kafka.router import EventRouter


def build_router() -> EventRouter:
    return EventRouter()
