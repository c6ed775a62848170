"""The moderators' pages: the queue (one form; each comment's own buttons and the buttons for
the selected ones; newest or oldest first), finding an author's comments by email or address,
banning an author from a comment, and the list of bans with **Lift**.
Errors, CSRF, sessions and layout are :mod:`broadsheet_newsroom.pages`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from broadsheet_newsroom.moderation_service import ACTIONS, BAN_KINDS, Order
from broadsheet_newsroom.pages import (
    MODERATORS,
    CheckedForm,
    container_of,
    redirect,
    refuse_cross_site,
    render,
    require,
)
from broadsheet_newsroom.session import Session
from broadsheet_newsroom.upstream import FieldErrors

ModeratorSession = Annotated[Session, require(*MODERATORS)]
# Ban lengths a moderator picks from, in minutes (the service takes 1 minute to 366 days).
DURATIONS = {
    "60": "1 hour",
    "1440": "1 day",
    "10080": "7 days",
    "43200": "30 days",
    "525600": "365 days",
}

moderation_pages = APIRouter(dependencies=[Depends(refuse_cross_site)])


@moderation_pages.get("/moderation", response_class=HTMLResponse)
async def queue(
    request: Request,
    session: ModeratorSession,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    order: Order = "newest",
) -> Response:
    page = await container_of(request).moderation.queue(session, cursor, order)
    return render(
        request,
        "moderation/queue.html",
        title="Moderation",
        items=page.items,
        next_cursor=page.next_cursor,
        first_page=cursor is None,
        order=order,
    )


@moderation_pages.post("/moderation", response_class=HTMLResponse)
async def decide(request: Request, session: ModeratorSession, form: CheckedForm) -> Response:
    """``act`` is ``approve:ID`` (one comment's own button) or ``approve`` (the selected ones,
    the ``ids`` checkboxes). The queue comes back in the order it was shown in."""
    action, _, one = str(form.get("act", "")).partition(":")
    ids = [one] if one else [str(v) for v in form.getlist("ids")]
    if action not in ACTIONS:
        session.flash.append("Choose Approve, Reject, Spam or Delete.")
    elif not ids:
        session.flash.append("Select at least one comment first.")
    else:
        moderation = container_of(request).moderation
        session.flash.extend(await moderation.decide(session, action, ids))
    order = str(form.get("order", ""))
    return redirect(request, "/moderation?order=oldest" if order == "oldest" else "/moderation")


@moderation_pages.get("/moderation/find", response_class=HTMLResponse)
async def find(
    request: Request,
    session: ModeratorSession,
    kind: Annotated[str, Query(max_length=10)] = "email",
    value: Annotated[str, Query(max_length=320)] = "",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """A search form; with a value, the author's comments across articles, a page at a time."""
    value = value.strip()
    errors: dict[str, str] = {}
    page = None
    if kind not in BAN_KINDS:
        errors["kind"] = "Choose an email or a client address."
    elif value:
        try:
            page = await container_of(request).moderation.find(session, kind, value, cursor)
        except FieldErrors as refused:
            errors = {"value": " ".join([*refused.fields.values(), *refused.general])}
    return render(
        request,
        "moderation/find.html",
        status=422 if errors else 200,
        title="Find comments",
        kind=kind,
        value=value,
        errors=errors,
        page=page,
        first_page=cursor is None,
    )


@moderation_pages.get("/moderation/bans", response_class=HTMLResponse)
async def bans(request: Request, session: ModeratorSession) -> Response:
    found = await container_of(request).moderation.bans(session)
    return render(request, "moderation/bans.html", title="Bans", bans=found)


@moderation_pages.get("/moderation/bans/new", response_class=HTMLResponse)
async def new_ban(
    request: Request,
    session: ModeratorSession,
    kind: Annotated[str, Query(max_length=10)] = "email",
    value: Annotated[str, Query(max_length=320)] = "",
) -> Response:
    return render(
        request,
        "moderation/ban_form.html",
        title="Ban",
        kind=kind if kind in BAN_KINDS else "email",
        value=value,
        minutes="1440",
        reason="",
        durations=DURATIONS,
        errors={},
    )


@moderation_pages.post("/moderation/bans", response_class=HTMLResponse)
async def create_ban(request: Request, session: ModeratorSession, form: CheckedForm) -> Response:
    kind = str(form.get("kind", ""))
    value = str(form.get("value", "")).strip()
    minutes = str(form.get("duration_minutes", ""))
    reason = str(form.get("reason", "")).strip()
    errors: dict[str, str] = {}
    if kind not in BAN_KINDS:
        errors["kind"] = "Choose an email or a client address."
    if minutes not in DURATIONS:
        errors["duration_minutes"] = "Choose how long the ban lasts."
    if not errors:
        try:
            await container_of(request).moderation.ban(
                session, kind=kind, value=value, minutes=int(minutes), reason=reason
            )
        except FieldErrors as refused:
            errors = refused.fields or {"value": " ".join(refused.general)}
    if errors:
        return render(
            request,
            "moderation/ban_form.html",
            status=422,
            title="Ban",
            kind=kind,
            value=value,
            minutes=minutes,
            reason=reason,
            durations=DURATIONS,
            errors=errors,
        )
    session.flash.append(f"Banned {value} for {DURATIONS[minutes]}.")
    return redirect(request, "/moderation/bans")


@moderation_pages.post("/moderation/bans/{ban_id}/lift", response_class=HTMLResponse)
async def lift_ban(
    request: Request,
    session: ModeratorSession,
    ban_id: Annotated[str, Path(min_length=1, max_length=400)],
    _: CheckedForm,
) -> Response:
    await container_of(request).moderation.lift(session, ban_id)
    session.flash.append("Ban lifted.")
    return redirect(request, "/moderation/bans")
