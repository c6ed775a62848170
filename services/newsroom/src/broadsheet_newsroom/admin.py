"""The admins' pages: staff accounts, sections and the audit log; and the public page where a
new staff member sets their password with the link mailed to them. Errors, CSRF, sessions and
layout are :mod:`broadsheet_newsroom.pages`."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from broadsheet_newsroom.admin_service import AuditQuery
from broadsheet_newsroom.pages import (
    ADMINS,
    SIGN_IN_COOKIE,
    CheckedForm,
    CrossSite,
    container_of,
    form_of,
    redirect,
    refuse_cross_site,
    render,
    require,
    set_cookie,
    zone_of,
)
from broadsheet_newsroom.session import Session
from broadsheet_newsroom.timezones import to_utc
from broadsheet_newsroom.upstream import FieldErrors, Refused
from broadsheet_shared.audit import StaffAction
from broadsheet_shared.identifiers import SLUG_PATTERN, UUID_PATTERN

AdminSession = Annotated[Session, require(*ADMINS)]
ROLES = ("editor", "moderator", "admin")
ACTIONS = tuple(action.value for action in StaffAction)
SectionSlug = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=100)]
AccountId = Annotated[str, Path(pattern=UUID_PATTERN)]
# The set-password link's token: what the articles service issues (token_urlsafe(32)).
LinkToken = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{20,100}$")]

admin_pages = APIRouter(dependencies=[Depends(refuse_cross_site)])


# -- staff accounts ----------------------------------------------------------------------------


async def _staff_page(
    request: Request,
    session: Session,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    accounts = await container_of(request).admin.accounts(session)
    return render(
        request,
        "admin/staff.html",
        status=422 if errors else 200,
        title="Staff",
        accounts=accounts,
        roles=ROLES,
        typed=typed or {"email": "", "name": "", "role": "editor"},
        errors=errors or {},
    )


@admin_pages.get("/staff", response_class=HTMLResponse)
async def staff(request: Request, session: AdminSession) -> Response:
    return await _staff_page(request, session)


@admin_pages.post("/staff", response_class=HTMLResponse)
async def add_account(request: Request, session: AdminSession, form: CheckedForm) -> Response:
    typed = {name: str(form.get(name, "")).strip() for name in ("email", "name", "role")}
    errors: dict[str, str] = {}
    if typed["role"] not in ROLES:
        errors["role"] = "Choose a role."
    if not errors:
        try:
            await container_of(request).admin.add_account(session, **typed)
        except FieldErrors as refused:
            errors = refused.fields or {"email": " ".join(refused.general)}
        except Refused as refused:  # an account with this email exists
            errors = {"email": refused.message}
    if errors:
        return await _staff_page(request, session, typed=typed, errors=errors)
    session.flash.append(
        f"Added {typed['name']}. A link to set their password was mailed to {typed['email']}."
    )
    return redirect(request, "/staff")


@admin_pages.post("/staff/{account_id}", response_class=HTMLResponse)
async def change_account(
    request: Request, session: AdminSession, account_id: AccountId, form: CheckedForm
) -> Response:
    """``act`` is ``role`` (with the ``role`` field), ``disable``, ``enable`` or ``link`` (mail
    a new set-password link: the first expired unused, or the password is forgotten)."""
    act = str(form.get("act", ""))
    role = str(form.get("role", ""))
    admin = container_of(request).admin
    try:
        if act == "role" and role in ROLES:
            changed = await admin.change_account(session, account_id, role=role, disabled=None)
            session.flash.append(f"{changed['name']} is now {role}.")
        elif act in ("disable", "enable"):
            disabled = act == "disable"
            changed = await admin.change_account(session, account_id, role=None, disabled=disabled)
            session.flash.append(f"{changed['name']} is {'disabled' if disabled else 'enabled'}.")
        elif act == "link":
            await admin.send_password_link(session, account_id)
            session.flash.append("A new link to set a password was mailed.")
        else:
            session.flash.append("Choose a role, Disable, Enable or Send a password link.")
    except Refused as refused:  # an admin disabling or demoting themselves, a disabled account
        session.flash.append(f"Not changed: {refused.message}")
    return redirect(request, "/staff")


# -- sections ----------------------------------------------------------------------------------


async def _sections_page(
    request: Request, session: Session, *, name: str = "", errors: dict[str, str] | None = None
) -> HTMLResponse:
    sections = await container_of(request).admin.sections(session)
    return render(
        request,
        "admin/sections.html",
        status=422 if errors else 200,
        title="Sections",
        sections=sections,
        name=name,
        errors=errors or {},
    )


@admin_pages.get("/sections", response_class=HTMLResponse)
async def sections(request: Request, session: AdminSession) -> Response:
    return await _sections_page(request, session)


@admin_pages.post("/sections", response_class=HTMLResponse)
async def add_section(request: Request, session: AdminSession, form: CheckedForm) -> Response:
    name = str(form.get("name", "")).strip()
    try:
        await container_of(request).admin.add_section(session, name)
    except FieldErrors as refused:
        message = refused.fields.get("name") or " ".join(refused.general)
        return await _sections_page(request, session, name=name, errors={"name": message})
    except Refused as refused:  # a section of this name or slug exists
        return await _sections_page(request, session, name=name, errors={"name": refused.message})
    session.flash.append(f"Added the section {name}.")
    return redirect(request, "/sections")


@admin_pages.post("/sections/{slug}/rename", response_class=HTMLResponse)
async def rename_section(
    request: Request, session: AdminSession, slug: SectionSlug, form: CheckedForm
) -> Response:
    name = str(form.get("name", "")).strip()
    try:
        await container_of(request).admin.rename_section(session, slug, name)
    except FieldErrors as refused:
        message = refused.fields.get("name") or " ".join(refused.general)
        session.flash.append(f"Not renamed: {message}")
        return redirect(request, "/sections")
    session.flash.append(f"Renamed to {name}; its articles follow.")
    return redirect(request, "/sections")


@admin_pages.post("/sections/{slug}/move", response_class=HTMLResponse)
async def move_section(
    request: Request, session: AdminSession, slug: SectionSlug, form: CheckedForm
) -> Response:
    step = {"up": -1, "down": 1}.get(str(form.get("direction", "")))
    if step is None:
        session.flash.append("Choose up or down.")
    else:
        await container_of(request).admin.move_section(session, slug, step)
        session.flash.append("Order saved: the reader site's navigation follows it.")
    return redirect(request, "/sections")


# -- the audit log -----------------------------------------------------------------------------


@admin_pages.get("/audit", response_class=HTMLResponse)
async def audit(
    request: Request,
    session: AdminSession,
    actor: Annotated[str, Query(max_length=64)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Filter by person (an account), action and time (From / Until, in the admin's zone)."""
    zone = zone_of(request, session)
    errors: dict[str, str] = {}
    bounds = {}
    for name, value in (("since", since), ("until", until)):
        try:
            bounds[name] = to_utc(value, zone) if value else None
        except ValueError:
            errors[name] = "Enter a date and time."
            bounds[name] = None
    query = AuditQuery(
        actor=actor,
        action=action if action in ACTIONS else "",
        since=bounds["since"],
        until=bounds["until"],
        cursor=cursor,
    )
    admin = container_of(request).admin
    page = await admin.audit(session, query) if not errors else {"items": [], "next_cursor": None}
    more = {"actor": actor, "action": query.action, "since": since, "until": until}
    return render(
        request,
        "admin/audit.html",
        status=422 if errors else 200,
        title="Audit log",
        accounts=await admin.accounts(session),
        actions=ACTIONS,
        filters=more,
        errors=errors,
        items=page["items"],
        next_query=urlencode({**more, "cursor": page["next_cursor"]})
        if page.get("next_cursor")
        else "",
    )


# -- setting a password with the mailed link (no session) ---------------------------------------


def _set_password_page(
    request: Request, token: str, *, error: str = "", status: int = 200, done: bool = False
) -> HTMLResponse:
    # Before there is a session, the form's CSRF token is bound to a cookie (as for sign-in).
    csrf = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "set_password.html",
        status=status,
        title="Set your password",
        token=token,
        error=error,
        done=done,
        csrf_token=csrf,
        # The token is in this page's address: no other site may learn it from a Referer.
        # (Not no-referrer: Chromium then sends the form's post with Origin: null, which the
        # cross-site check rightly refuses.)
        headers={"Referrer-Policy": "same-origin"},
    )
    set_cookie(request, response, SIGN_IN_COOKIE, csrf, max_age=3600)
    return response


@admin_pages.get("/set-password/{token}", response_class=HTMLResponse)
async def set_password_form(request: Request, token: LinkToken) -> Response:
    return _set_password_page(request, token)


@admin_pages.post("/set-password/{token}", response_class=HTMLResponse)
async def set_password(request: Request, token: LinkToken) -> Response:
    form = await form_of(request)
    bound = request.cookies.get(SIGN_IN_COOKIE)
    submitted = form.get("csrf_token")
    if not bound or not isinstance(submitted, str) or not hmac.compare_digest(submitted, bound):
        raise CrossSite
    password = str(form.get("password", ""))
    if password != str(form.get("password_again", "")):
        return _set_password_page(request, token, error="The two passwords differ.", status=422)
    container = container_of(request)
    peer = request.client.host if request.client else None
    client_ip = container.client_ip(peer, request.headers.get("x-forwarded-for"))
    try:
        await container.admin.set_password(token, password, client_ip=client_ip)
    except FieldErrors as refused:
        message = refused.fields.get("password") or " ".join(refused.general)
        return _set_password_page(request, token, error=f"Password: {message}", status=422)
    except Refused as refused:  # used already, expired or unknown
        return _set_password_page(request, token, error=refused.message, status=400)
    return _set_password_page(request, token, done=True)
