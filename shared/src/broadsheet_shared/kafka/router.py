"""Typed event routing: consumers are plain async functions taking one event class.

The same router serves the real broker (through :class:`ConsumerRunner`) and unit tests, which
call :meth:`EventRouter.dispatch` with an event directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from broadsheet_shared.events.base import IntegrationEvent

E = TypeVar("E", bound=IntegrationEvent)
Handler = Callable[[Any], Awaitable[None]]


class EventRouter:
    def __init__(self) -> None:
        self._handlers: dict[type[IntegrationEvent], list[Handler]] = {}

    def subscribe(
        self, event_cls: type[E]
    ) -> Callable[[Callable[[E], Awaitable[None]]], Callable[[E], Awaitable[None]]]:
        def register(handler: Callable[[E], Awaitable[None]]) -> Callable[[E], Awaitable[None]]:
            self._handlers.setdefault(event_cls, []).append(handler)
            return handler

        return register

    @property
    def topics(self) -> set[str]:
        """Base topic names (without prefix) of every event with a handler."""
        return {event_cls.TOPIC for event_cls in self._handlers}

    def handles(self, event: IntegrationEvent) -> bool:
        return type(event) in self._handlers

    async def dispatch(self, event: IntegrationEvent) -> None:
        for handler in self._handlers.get(type(event), []):
            await handler(event)
