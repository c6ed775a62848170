"""Event consumers: the audit entries every service records, into the readable audit log."""

from __future__ import annotations

from broadsheet_articles.audit import AuditLog
from broadsheet_shared.events import StaffActionRecordedV1
from broadsheet_shared.kafka.router import EventRouter


def build_router(audit: AuditLog) -> EventRouter:
    router = EventRouter()

    @router.subscribe(StaffActionRecordedV1)
    async def staff_action_recorded(event: StaffActionRecordedV1) -> None:
        # No inbox needed: the entry is keyed by the event id, so a redelivery changes nothing.
        await audit.record(event)

    return router
