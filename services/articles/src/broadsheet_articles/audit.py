"""The readable audit log: the staff actions every service recorded (``staff.action_recorded``
on ``broadsheet.staff``), kept here and read by admins, newest first."""

from __future__ import annotations

from broadsheet_articles.cursors import decode_audit_cursor, encode_audit_cursor
from broadsheet_articles.domain import AuditEntry, AuditFilter
from broadsheet_articles.repository import AuditRepository
from broadsheet_shared.events import StaffActionRecordedV1


def entry_of(event: StaffActionRecordedV1) -> AuditEntry:
    data = event.data
    return AuditEntry(
        id=str(event.id),
        source=event.source,
        actor_id=data.actor_id,
        actor_name=data.actor_name,
        actor_role=data.actor_role,
        action=data.action,
        target=data.target,
        details=dict(data.details),
        client=data.client,
        at=data.at,
    )


class AuditLog:
    def __init__(self, entries: AuditRepository) -> None:
        self._entries = entries

    async def record(self, event: StaffActionRecordedV1) -> None:
        """Keep an entry; idempotent, as the entry is keyed by the event's id."""
        await self._entries.add(entry_of(event))

    async def page(
        self, wanted: AuditFilter, cursor: str | None, limit: int
    ) -> tuple[list[AuditEntry], str | None]:
        after = decode_audit_cursor(cursor) if cursor else None
        items = await self._entries.page(wanted, after, limit + 1)
        next_cursor = encode_audit_cursor(items[limit - 1]) if len(items) > limit else None
        return items[:limit], next_cursor
