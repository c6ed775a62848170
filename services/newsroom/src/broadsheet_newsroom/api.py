"""The Newsroom's routes: sign-in and sign-out (:data:`session_pages`) and the editors' pages
(:data:`editor_pages`). Errors, sessions, CSRF and layout are :mod:`broadsheet_newsroom.pages`."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from broadsheet_newsroom.pages import (
    EDITORS,
    MODERATORS,
    NAV,
    SIGN_IN_COOKIE,
    AnySession,
    CheckedForm,
    CrossSite,
    EditorSession,
    container_of,
    form_of,
    page_query,
    redirect,
    refuse_cross_site,
    render,
    safe_next,
    set_cookie,
    zone_of,
)
from broadsheet_newsroom.schemas import ArticleForm
from broadsheet_newsroom.service import STATUSES, ArticleQuery, Conflict
from broadsheet_newsroom.session import COOKIE, Session
from broadsheet_newsroom.timezones import valid_zone
from broadsheet_newsroom.upstream import FieldErrors, NotAllowed, SignInRequired
from broadsheet_shared.identifiers import UUID_PATTERN

ArticleId = Annotated[str, Path(pattern=UUID_PATTERN)]

# -- sign-in and sign-out ----------------------------------------------------------------------

session_pages = APIRouter(dependencies=[Depends(refuse_cross_site)])


def _sign_in_page(
    request: Request, *, next_: str, email: str = "", error: str = "", status: int = 200
) -> HTMLResponse:
    token = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "sign_in.html",
        status=status,
        title="Sign in",
        next=next_,
        email=email,
        error=error,
        csrf_token=token,
    )
    set_cookie(request, response, SIGN_IN_COOKIE, token, max_age=3600)
    return response


@session_pages.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(
    request: Request,
    next: Annotated[str, Query(max_length=2000)] = "/",
    signed_out: Annotated[bool, Query()] = False,
) -> Response:
    if container_of(request).sessions.get(request.cookies.get(COOKIE)) is not None:
        return redirect(request, safe_next(next))
    notice = "You have signed out." if signed_out else ""
    return _sign_in_page(request, next_=safe_next(next), error=notice)


@session_pages.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    form = await form_of(request)
    bound = request.cookies.get(SIGN_IN_COOKIE)
    submitted = form.get("csrf_token")
    if not bound or not isinstance(submitted, str) or not hmac.compare_digest(submitted, bound):
        raise CrossSite
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    next_ = safe_next(str(form.get("next", "/")))
    if not email or not password:
        return _sign_in_page(
            request, next_=next_, email=email, error="Enter your email and password.", status=422
        )
    container = container_of(request)
    peer = request.client.host if request.client else None
    try:
        session = await container.staff.sign_in(
            email,
            password,
            time_zone=valid_zone(str(form.get("time_zone", ""))),
            client_ip=container.client_ip(peer, request.headers.get("x-forwarded-for")),
        )
    except (SignInRequired, FieldErrors):
        return _sign_in_page(
            request, next_=next_, email=email, error="Wrong email or password.", status=401
        )
    response = redirect(request, next_)
    set_cookie(
        request,
        response,
        COOKIE,
        session.id,
        max_age=int(container.sessions.lifetime.total_seconds()),
    )
    response.delete_cookie(SIGN_IN_COOKIE, path=str(request.scope.get("root_path", "")) + "/")
    return response


@session_pages.post("/sign-out", response_class=HTMLResponse)
async def sign_out(request: Request, session: AnySession, _: CheckedForm) -> Response:
    await container_of(request).staff.sign_out(session)
    response = redirect(request, "/sign-in?signed_out=true")
    response.delete_cookie(COOKIE, path=str(request.scope.get("root_path", "")) + "/")
    return response


# -- editors -----------------------------------------------------------------------------------

editor_pages = APIRouter(dependencies=[Depends(refuse_cross_site)])


@editor_pages.get("/", response_class=HTMLResponse)
async def home(request: Request, session: AnySession) -> Response:
    if session.principal.role in EDITORS:
        data = await container_of(request).desk.dashboard(session)
        # Editors see how many comments and deliveries wait, not the lists: those show readers'
        # emails and addresses, which are for moderators (docs/newsroom.md, Dashboard).
        moderates = session.principal.role in MODERATORS
        return render(request, "dashboard.html", title="Dashboard", moderates=moderates, **data)
    # Other roles start at the first page they may see.
    first = next((item for item in NAV if session.principal.role in item.roles), None)
    if first is None or first.path == "/":
        raise NotAllowed("Your role has no pages in the Newsroom.")
    return redirect(request, first.path)


@editor_pages.get("/articles", response_class=HTMLResponse)
async def articles(
    request: Request,
    session: EditorSession,
    status: Annotated[str, Query(max_length=20)] = "",
    section: Annotated[str, Query(max_length=100)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    query = ArticleQuery(status if status in STATUSES else "", section, q.strip(), page)
    desk = container_of(request).desk
    found = await desk.articles(session, query)
    return render(
        request,
        "articles.html",
        title="Articles",
        query=query,
        statuses=STATUSES,
        sections=await desk.sections(session),
        page_query=lambda n: page_query(query, n),
        **found,
    )


async def _form_page(
    request: Request,
    session: Session,
    form: ArticleForm,
    *,
    article: dict[str, Any] | None = None,
    errors: FieldErrors | None = None,
) -> HTMLResponse:
    desk = container_of(request).desk
    action = f"/articles/{article['id']}" if article else "/articles"
    return render(
        request,
        "article_form.html",
        status=422 if errors else 200,
        title=f"Edit “{article['title']}”" if article else "New article",
        form=form,
        article=article,
        sections=await desk.sections(session),
        errors=errors.fields if errors else {},
        general=errors.general if errors else [],
        action=str(request.scope.get("root_path", "")) + action,
    )


@editor_pages.get("/articles/new", response_class=HTMLResponse)
async def new_article(request: Request, session: EditorSession) -> Response:
    return await _form_page(request, session, ArticleForm())


async def _preview(request: Request, session: Session, form: ArticleForm) -> Response:
    container = container_of(request)
    article = await container.desk.preview(session, form)
    # The reader site's page, as is: what readers will see.
    return HTMLResponse(container.render_article(article), headers={"Cache-Control": "no-store"})


async def _after_save(
    request: Request, session: Session, article: dict[str, Any], form: ArticleForm, action: str
) -> Response:
    desk = container_of(request).desk
    if action == "publish":
        article = await desk.publish(session, article["id"])
        session.flash.append("Published.")
    elif action == "schedule":
        at = desk.schedule_time(session, form, zone_of(request, session))
        article = await desk.publish(session, article["id"], at)
        session.flash.append("Scheduled.")
    else:
        session.flash.append("Draft saved.")
    return redirect(request, f"/articles/{article['id']}")


@editor_pages.post("/articles", response_class=HTMLResponse)
async def create_article(request: Request, session: EditorSession, data: CheckedForm) -> Response:
    form = ArticleForm.from_form(data)
    action = str(data.get("action", "save"))
    desk = container_of(request).desk
    try:
        if action == "preview":
            return await _preview(request, session, form)
        if action == "schedule":
            desk.schedule_time(session, form, zone_of(request, session))
        article = await desk.create(session, form)
    except FieldErrors as errors:
        return await _form_page(request, session, form, errors=errors)
    try:
        return await _after_save(request, session, article, form, action)
    except FieldErrors as errors:
        return await _form_page(request, session, form, article=article, errors=errors)


@editor_pages.get("/articles/{article_id}", response_class=HTMLResponse)
async def edit_article(request: Request, session: EditorSession, article_id: ArticleId) -> Response:
    article = await container_of(request).desk.article(session, article_id)
    form = ArticleForm.from_article(article, zone_of(request, session))
    return await _form_page(request, session, form, article=article)


@editor_pages.post("/articles/{article_id}", response_class=HTMLResponse)
async def save_article(
    request: Request, session: EditorSession, article_id: ArticleId, data: CheckedForm
) -> Response:
    form = ArticleForm.from_form(data)
    action = str(data.get("action", "save"))
    desk = container_of(request).desk
    if action == "preview":
        return await _preview(request, session, form)
    try:
        if action == "schedule":
            desk.schedule_time(session, form, zone_of(request, session))
        saved = await desk.save(session, article_id, form)
        if isinstance(saved, Conflict):
            return render(
                request,
                "conflict.html",
                status=409,
                title="Someone else saved this article",
                yours=saved.yours,
                theirs=saved.theirs,
            )
        return await _after_save(request, session, saved, form, action)
    except FieldErrors as errors:
        article = await desk.article(session, article_id)
        return await _form_page(request, session, form, article=article, errors=errors)


@editor_pages.post("/articles/{article_id}/unpublish", response_class=HTMLResponse)
async def unpublish_article(
    request: Request, session: EditorSession, article_id: ArticleId, _: CheckedForm
) -> Response:
    await container_of(request).desk.unpublish(session, article_id)
    session.flash.append("Unpublished: readers no longer see it.")
    return redirect(request, f"/articles/{article_id}")


@editor_pages.get("/articles/{article_id}/revisions", response_class=HTMLResponse)
async def revisions(request: Request, session: EditorSession, article_id: ArticleId) -> Response:
    desk = container_of(request).desk
    article = await desk.article(session, article_id)
    return render(
        request,
        "revisions.html",
        title="Revisions",
        article=article,
        revisions=await desk.revisions(session, article_id),
    )


@editor_pages.get("/articles/{article_id}/diff", response_class=HTMLResponse)
async def diff(
    request: Request,
    session: EditorSession,
    article_id: ArticleId,
    old: Annotated[int, Query(ge=1)],
    new: Annotated[int, Query(ge=1)],
) -> Response:
    first, second, lines = await container_of(request).desk.diff(session, article_id, old, new)
    return render(
        request,
        "diff.html",
        title=f"Revision {old} → {new}",
        article_id=article_id,
        old=first,
        new=second,
        lines=lines,
    )


@editor_pages.post("/articles/{article_id}/revisions/{number}/restore", response_class=HTMLResponse)
async def restore(
    request: Request,
    session: EditorSession,
    article_id: ArticleId,
    number: Annotated[int, Path(ge=1)],
    _: CheckedForm,
) -> Response:
    article = await container_of(request).desk.restore(session, article_id, number)
    session.flash.append(f"Revision {number} restored as revision {article['revision']}.")
    return redirect(request, f"/articles/{article_id}")
