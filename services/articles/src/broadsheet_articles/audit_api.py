"""The audit log, for admins: ``GET /api/editor/audit``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from broadsheet_articles.audit import AuditLog
from broadsheet_articles.domain import AuditEntry, AuditFilter
from broadsheet_articles.schemas import AuditEntryOut, AuditOut
from broadsheet_shared.audit import StaffAction
from broadsheet_shared.auth import AdminPrincipal
from broadsheet_shared.identifiers import AUDIT_CURSOR_PATTERN
from broadsheet_shared.timestamps import Timestamp


async def _audit(request: Request) -> AuditLog:
    log: AuditLog = request.app.state.container.audit
    return log


Audit = Annotated[AuditLog, Depends(_audit)]

audit_router = APIRouter(prefix="/api/editor", tags=["editor"])


def audit_entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=entry.id,
        source=entry.source,
        actor_id=entry.actor_id,
        actor_name=entry.actor_name,
        actor_role=entry.actor_role,
        action=entry.action,
        target=entry.target,
        details=entry.details,
        client=entry.client,
        at=entry.at,
    )


@audit_router.get("/audit", response_model=AuditOut)
async def audit_log(
    audit: Audit,
    _: AdminPrincipal,
    actor: Annotated[str | None, Query(max_length=64, description="An actor's id")] = None,
    action: StaffAction | None = None,
    since: Annotated[Timestamp | None, Query(description="From this time (RFC 3339)")] = None,
    until: Annotated[Timestamp | None, Query(description="Before this time (RFC 3339)")] = None,
    cursor: Annotated[str | None, Query(pattern=AUDIT_CURSOR_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> AuditOut:
    """Every staff action of every service, newest first."""
    wanted = AuditFilter(actor=actor, action=action, since=since, until=until)
    items, next_cursor = await audit.page(wanted, cursor, limit)
    return AuditOut(items=[audit_entry_out(e) for e in items], next_cursor=next_cursor)
