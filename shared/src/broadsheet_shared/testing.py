"""Fakes for the services' unit tests: the shared ports, kept in memory.

They live in the shared package (not in a conftest) because every service's tests use the same
ones; nothing in production imports this module.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar, cast
from uuid import UUID

from fastapi import APIRouter
from fastapi.routing import APIRoute

from broadsheet_shared.addresses import AddressDigest
from broadsheet_shared.auth import ROLES, Principal, Role, current_principal
from broadsheet_shared.devkeys import DEV_ADDRESS_DIGEST_KEY
from broadsheet_shared.errors import Forbidden
from broadsheet_shared.events.base import Emitted, IntegrationEvent
from broadsheet_shared.events.staff import StaffAccountData
from broadsheet_shared.inbox import Effects
from broadsheet_shared.mongo import Session
from broadsheet_shared.ratelimit import RateLimit, RateLimitResult
from broadsheet_shared.unit_of_work import Transaction

# The address digest the services are wired with in dev and test (comments and notifications
# share it, as their bootstraps do from ADDRESS_DIGEST_KEY).
DEV_DIGEST = AddressDigest(DEV_ADDRESS_DIGEST_KEY.encode())

T = TypeVar("T")
E = TypeVar("E", bound=IntegrationEvent)

# Fakes ignore the session; repositories' signatures still ask for one.
NO_SESSION = cast(Session, None)


def tampered(token: str) -> str:
    """``token`` with the first character of its signature changed.

    Not the last: base64 ignores the spare low bits of a signature's last character, so
    changing it can leave the signature valid (a test that did so failed about once in a
    thousand runs).
    """
    head, _, signature = token.rpartition(".")
    first = "B" if signature[0] == "A" else "A"
    return f"{head}.{first}{signature[1:]}"


class FakeUnitOfWork:
    """Keeps the events of units that succeed. A unit that raises keeps none and puts the given
    fake stores back as they were, as a rolled-back transaction would. Stores are restored by
    their ``__dict__``: pass the stores that own rows, not views that read another store's."""

    def __init__(self, *stores: Any) -> None:
        self.stores = stores
        self.events: list[Emitted] = []
        self.timeouts: list[float | None] = []  # each unit's time budget (None: the default)

    async def run(
        self, work: Callable[[Transaction], Awaitable[T]], *, timeout: float | None = None
    ) -> T:
        self.timeouts.append(timeout)
        saved = [copy.deepcopy(store.__dict__) for store in self.stores]
        tx = Transaction(NO_SESSION)
        try:
            result = await work(tx)
        except BaseException:
            for store, state in zip(self.stores, saved, strict=True):
                store.__dict__.update(state)
            raise
        self.events.extend(tx.events)
        return result

    def of_type(self, kind: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, kind)]


class FakeRateLimiter:
    """Counts allowed hits per key, without windows; like the real limiter it does not count a
    refused hit, which says retry after 60 s."""

    retry_after = 60

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    async def hit(self, key: str, rule: RateLimit) -> RateLimitResult:
        count = self.counts.get(key, 0)
        if count >= rule.limit:
            return RateLimitResult(False, 0, self.retry_after)
        self.counts[key] = count + 1
        return RateLimitResult(True, rule.limit - count - 1, 0)

    async def reset(self, key: str) -> None:
        self.counts.pop(key, None)


class FakeInbox:
    def __init__(self) -> None:
        self.handled: set[str] = set()

    async def handle_once(self, handler: str, event_id: UUID | str, effects: Effects) -> bool:
        key = f"{handler}:{event_id}"
        if key in self.handled:
            return False
        await effects(NO_SESSION)
        self.handled.add(key)
        return True


class TestClock:
    """A clock that stands still until told to move; ``tick`` makes every reading move on, so
    readings are strictly ordered."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        now: datetime = datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
        tick: timedelta = timedelta(0),
    ) -> None:
        self.now = now
        self.tick = tick

    def __call__(self) -> datetime:
        self.now += self.tick
        return self.now

    def advance(self, delta: timedelta = timedelta(0), **kwargs: float) -> None:
        self.now += delta + timedelta(**kwargs)


class ImportKeyed(Protocol):
    """An import record: what one item of an old site became, keyed by that site and its id."""

    @property
    def source(self) -> str: ...

    @property
    def wordpress_id(self) -> int: ...


R = TypeVar("R", bound=ImportKeyed)


class FakeImportRecords(Generic[R]):
    """The import records of a service (articles', comments'), in memory."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, int], R] = {}

    async def get(self, source: str, wordpress_id: int) -> R | None:
        return self.records.get((source, wordpress_id))

    async def put(self, record: R, session: Any) -> None:
        self.records[(record.source, record.wordpress_id)] = record

    async def page(self, source: str, after: int, limit: int) -> list[R]:
        found = sorted(w for s, w in self.records if s == source and w > after)
        return [self.records[(source, w)] for w in found][:limit]


class FakeStaffAccess:
    """The staff-access projection in memory: ``changes[staff_id]`` is the last change."""

    def __init__(self) -> None:
        self.changes: dict[str, datetime] = {}

    async def changed_at(self, staff_id: str) -> datetime | None:
        return self.changes.get(staff_id)

    async def record(self, data: StaffAccountData) -> None:
        known = self.changes.get(data.staff_id)
        if known is None or known < data.changed_at:
            self.changes[data.staff_id] = data.changed_at


async def roles_allowed(*routers: APIRouter) -> dict[str, frozenset[Role]]:
    """``"METHOD /path"`` of every route that needs a staff token → the roles it lets through,
    found by calling the route's own role gate with a principal of each role."""
    table: dict[str, frozenset[Role]] = {}
    for route in (route for router in routers for route in router.routes):
        if not isinstance(route, APIRoute):
            continue
        for dependency in route.dependant.dependencies:
            if dependency.call is current_principal:
                allowed = frozenset(ROLES)
            elif any(sub.call is current_principal for sub in dependency.dependencies):
                gate = cast(Callable[..., Awaitable[Principal]], dependency.call)
                allowed = frozenset([role for role in ROLES if await _passes(gate, role)])
            else:
                continue
            for method in route.methods or ():
                table[f"{method} {route.path}"] = allowed
    return table


async def _passes(gate: Callable[..., Awaitable[Principal]], role: Role) -> bool:
    try:
        await gate(principal=Principal(subject="someone", role=role, name="Someone"))
    except Forbidden:
        return False
    return True
