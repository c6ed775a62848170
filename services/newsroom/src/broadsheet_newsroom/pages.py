"""The Newsroom's edge, shared by every page: the signed-in session as a dependency, the CSRF
check of every form, role-aware navigation, rendering into ``base.html`` and the one mapping of
errors to pages. A new section of the Newsroom adds its routes and a :data:`NAV` entry; it
never renders an error or checks a token itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from broadsheet_newsroom.bootstrap import Container
from broadsheet_newsroom.session import COOKIE, Session
from broadsheet_newsroom.timezones import valid_zone
from broadsheet_newsroom.upstream import (
    NotAllowed,
    PageError,
    ServiceUnavailable,
    SignInRequired,
    TooManyAttempts,
)
from broadsheet_shared.auth import Role
from broadsheet_shared.http.clients import in_networks

# Before sign-in there is no session to bind a CSRF token to: the sign-in form's token is
# bound to this cookie instead (a double submit).
SIGN_IN_COOKIE = "newsroom_sign_in"
ALL_ROLES: tuple[Role, ...] = ("admin", "editor", "moderator")
EDITORS: tuple[Role, ...] = ("admin", "editor")
MODERATORS: tuple[Role, ...] = ("admin", "moderator")
ADMINS: tuple[Role, ...] = ("admin",)

TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Not done",
    422: "Check what you typed",
    429: "Too many attempts",
    503: "Service unavailable",
}


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    roles: tuple[Role, ...]


# The navigation, in order; each person sees the entries of their role.
NAV: list[NavItem] = [
    NavItem("Dashboard", "/", EDITORS),
    NavItem("Articles", "/articles", EDITORS),
    NavItem("New article", "/articles/new", EDITORS),
    NavItem("Moderation", "/moderation", MODERATORS),
    NavItem("Find comments", "/moderation/find", MODERATORS),
    NavItem("Bans", "/moderation/bans", MODERATORS),
    NavItem("Subscribers", "/subscribers", MODERATORS),
    NavItem("Staff", "/staff", ADMINS),
    NavItem("Sections", "/sections", ADMINS),
    NavItem("Audit log", "/audit", ADMINS),
]


class SignedOut(Exception):
    """No live session: the person signs in, then comes back here."""


class CrossSite(Exception):
    """A form post without this session's CSRF token, or from another site."""


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def base(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


def is_https(request: Request) -> bool:
    """Served over https: directly, or by a trusted proxy that says so (the gateway's
    trusted-proxy rules, as for the client address)."""
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else ""
    proto = request.headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
    return proto == "https" and in_networks(peer, container_of(request).trusted_proxies)


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=base(request) + "/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


async def current_session(request: Request) -> Session:
    session = container_of(request).sessions.get(request.cookies.get(COOKIE))
    if session is None:
        raise SignedOut
    request.state.session = session
    return session


def require(*roles: Role) -> Any:
    async def check(session: Annotated[Session, Depends(current_session)]) -> Session:
        if session.principal.role not in roles:
            raise NotAllowed("Your role may not see this page.")
        return session

    return Depends(check)


EditorSession = Annotated[Session, require(*EDITORS)]
AnySession = Annotated[Session, require(*ALL_ROLES)]


def same_site(request: Request) -> bool:
    """Whether a browser says the form came from this site: Origin (when sent) must be ours,
    and Sec-Fetch-Site (when sent) same-origin or none (typed by the person). A client that
    sends neither is no browser of another site; the CSRF token still applies to it."""
    origin = request.headers.get("origin")
    ours = f"{'https' if is_https(request) else 'http'}://{request.url.netloc}"
    if origin is not None and origin.rstrip("/") != ours:
        return False
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


async def form_of(request: Request) -> FormData:
    """The posted form, kept on the request so an error page can show what was typed."""
    form = await request.form()
    request.state.typed = form
    return form


async def refuse_cross_site(request: Request) -> None:
    """Every router's first dependency: a form another site posts is refused (403 page) before
    the session is even looked up (SameSite=Lax keeps the cookie off such a post anyway)."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and not same_site(request):
        raise CrossSite


async def checked_form(
    request: Request, session: Annotated[Session, Depends(current_session)]
) -> FormData:
    """A form of this session: it carries the session's CSRF token, or it is a 403 page."""
    form = await form_of(request)
    token = form.get("csrf_token")
    if not session.csrf_matches(token if isinstance(token, str) else None):
        raise CrossSite
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def zone_of(request: Request, session: Session | None) -> str:
    settings_zone = container_of(request).settings.time_zone
    return (session.time_zone if session else None) or valid_zone(settings_zone) or "UTC"


def render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    session: Session | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    session = session or getattr(request.state, "session", None)
    here = request.url.path[len(base(request)) :] or "/"
    nav = [
        {"label": item.label, "path": item.path, "current": item.path == here}
        for item in NAV
        if session is not None and session.principal.role in item.roles
    ]
    page = (
        container_of(request)
        .templates.get_template(template)
        .render(
            base=base(request),
            session=session,
            nav=nav,
            csrf_token=session.csrf if session else context.pop("csrf_token", ""),
            flash=session.take_flash() if session else [],
            zone=zone_of(request, session),
            **context,
        )
    )
    return HTMLResponse(
        page,
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def redirect(request: Request, path: str) -> RedirectResponse:
    return RedirectResponse(base(request) + path, status_code=303)


def _typed(request: Request) -> list[tuple[str, str]]:
    form = getattr(request.state, "typed", None)
    if form is None:
        return []
    # Never shown back: secrets (passwords) and the form's own machinery.
    hidden = {
        "csrf_token",
        "password",
        "password_again",
        "revision",
        "action",
        "next",
        "time_zone",
    }
    return [(k, v) for k, v in form.multi_items() if k not in hidden and isinstance(v, str) and v]


def error_page(request: Request, status: int, message: str, **headers: str) -> HTMLResponse:
    return render(
        request,
        "error.html",
        status=status,
        title=TITLES.get(status, "Something went wrong"),
        message=message,
        typed=_typed(request),
        headers=headers,
    )


def sign_in_redirect(request: Request) -> RedirectResponse:
    here = request.url.path[len(base(request)) :] or "/"
    if request.method != "GET":
        here = "/"
    query = f"?{request.url.query}" if request.url.query and request.method == "GET" else ""
    return RedirectResponse(
        f"{base(request)}/sign-in?{urlencode({'next': here + query})}", status_code=303
    )


def safe_next(value: str | None) -> str:
    """A return path inside the Newsroom, never another site (//evil, /\\evil, https://…)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    return quote(value, safe="/?&=%-._~+")


def install_errors(app: FastAPI) -> None:
    """Every error of the Newsroom is a page: never a problem document, never a trace."""

    @app.exception_handler(SignedOut)
    async def _signed_out(request: Request, _: SignedOut) -> Response:
        return sign_in_redirect(request)

    @app.exception_handler(SignInRequired)
    async def _sign_in_again(request: Request, _: SignInRequired) -> Response:
        response = sign_in_redirect(request)
        response.delete_cookie(COOKIE, path=base(request) + "/")
        return response

    @app.exception_handler(CrossSite)
    async def _cross_site(request: Request, _: CrossSite) -> Response:
        return error_page(
            request,
            403,
            "This form did not come from this Newsroom page (or the page is too old). "
            "Reload the page and send it again.",
        )

    @app.exception_handler(TooManyAttempts)
    async def _too_many(request: Request, exc: TooManyAttempts) -> Response:
        return error_page(request, 429, exc.message, **{"Retry-After": str(exc.retry_after)})

    @app.exception_handler(ServiceUnavailable)
    async def _unavailable(request: Request, exc: ServiceUnavailable) -> Response:
        return error_page(
            request,
            503,
            f"The {exc.service} service is unavailable — what you typed is kept below. "
            "Try again in a moment.",
            **{"Retry-After": "5"},
        )

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> Response:
        return error_page(request, exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = "There is no such page." if exc.status_code == 404 else str(exc.detail)
        return error_page(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return error_page(request, 400, "This address or form is not one the Newsroom knows.")


def page_query(query: Any, page: int, names: Sequence[str] = ("status", "section", "q")) -> str:
    params = {name: getattr(query, name) for name in names if getattr(query, name)}
    return urlencode({**params, "page": page})
