"""The Subscribers page: the notifications service's deliveries by state, a page at a time,
**Retry** on a failed one, and suppressing an address. Errors, CSRF, sessions and layout are
:mod:`broadsheet_newsroom.pages`."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

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
from broadsheet_newsroom.subscribers_service import STATES, DeliveryState
from broadsheet_newsroom.upstream import FieldErrors, Refused
from broadsheet_shared.identifiers import DIGEST_PATTERN

ModeratorSession = Annotated[Session, require(*MODERATORS)]

subscribers_pages = APIRouter(dependencies=[Depends(refuse_cross_site)])


def _listing(state: str) -> str:
    return "/subscribers" + (f"?{urlencode({'state': state})}" if state in STATES else "")


async def _page(
    request: Request,
    session: Session,
    state: DeliveryState | None,
    cursor: str | None,
    *,
    email: str = "",
    errors: dict[str, str] | None = None,
) -> Response:
    page = await container_of(request).subscribers.deliveries(session, state, cursor)
    return render(
        request,
        "subscribers.html",
        status=422 if errors else 200,
        title="Subscribers",
        states=STATES,
        state=state or "",
        items=page.items,
        next_cursor=page.next_cursor,
        first_page=cursor is None,
        email=email,
        errors=errors or {},
    )


@subscribers_pages.get("/subscribers", response_class=HTMLResponse)
async def deliveries(
    request: Request,
    session: ModeratorSession,
    state: DeliveryState | None = None,
    cursor: Annotated[str | None, Query(pattern=DIGEST_PATTERN)] = None,
) -> Response:
    return await _page(request, session, state, cursor)


@subscribers_pages.post("/subscribers/deliveries/{delivery_id}/retry", response_class=HTMLResponse)
async def retry(
    request: Request,
    session: ModeratorSession,
    delivery_id: Annotated[str, Path(pattern=DIGEST_PATTERN)],
    form: CheckedForm,
) -> Response:
    """A delivery that is no longer failed (retried by someone else, or twice) is the service's
    409: said on the page, not as an error page, since nothing went wrong for the reader."""
    try:
        await container_of(request).subscribers.retry(session, delivery_id)
    except Refused as refused:
        session.flash.append(f"Not retried: {refused.message}")
    else:
        session.flash.append("Delivery queued again; it goes out with the next sending round.")
    return redirect(request, _listing(str(form.get("state", ""))))


@subscribers_pages.post("/subscribers/suppressions", response_class=HTMLResponse)
async def suppress(request: Request, session: ModeratorSession, form: CheckedForm) -> Response:
    email = str(form.get("email", "")).strip()
    errors: dict[str, str] = {}
    if not email:
        errors["email"] = "Enter the email address to suppress."
    else:
        try:
            await container_of(request).subscribers.suppress(session, email)
        except FieldErrors as refused:
            errors["email"] = " ".join([*refused.fields.values(), *refused.general])
    if errors:
        return await _page(request, session, None, None, email=email, errors=errors)
    session.flash.append(
        f"{email} is suppressed: no more mail goes to it, and what was waiting is cancelled."
    )
    return redirect(request, "/subscribers")
