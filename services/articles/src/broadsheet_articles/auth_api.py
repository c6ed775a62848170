"""Staff sign-in and sign-out under /api/auth, and staff accounts (admins only) under
/api/editor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request, Response

from broadsheet_articles.auth import AuthService
from broadsheet_articles.commands import CreateEditor, LogIn, SetPassword, UpdateEditor
from broadsheet_articles.responses import editor_out, token_response
from broadsheet_articles.schemas import (
    EditorCreate,
    EditorOut,
    EditorsOut,
    EditorUpdate,
    PasswordSet,
    RefreshRequest,
    TokenOut,
)
from broadsheet_articles.settings import Settings
from broadsheet_shared.auth import AdminPrincipal
from broadsheet_shared.errors import Conflict, InvalidLink, NotFound, RateLimited, Unauthenticated
from broadsheet_shared.http.clients import client_address
from broadsheet_shared.http.contract import raises
from broadsheet_shared.identifiers import UUID_PATTERN


async def _auth(request: Request) -> AuthService:
    service: AuthService = request.app.state.container.auth
    return service


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Auth = Annotated[AuthService, Depends(_auth)]
AppSettings = Annotated[Settings, Depends(_settings)]

# -- sign-in -----------------------------------------------------------------------------------

auth_router = APIRouter(prefix="/api/auth", tags=["auth"])


@auth_router.post("/token", response_model=TokenOut, responses=raises(Unauthenticated))
async def issue_token(
    request: Request,
    auth: Auth,
    settings: AppSettings,
    username: Annotated[str, Form(min_length=1, max_length=254)],
    password: Annotated[str, Form(min_length=1, max_length=256)],
) -> Response:
    """OAuth2 password grant: an access token (≤ 15 minutes) and a one-use refresh token."""
    client = client_address(request, settings.trusted_proxies)
    return token_response(await auth.login(LogIn(username, password, client)))


@auth_router.post("/refresh", response_model=TokenOut, responses=raises(Unauthenticated))
async def refresh_token(auth: Auth, body: RefreshRequest) -> Response:
    """Trade a refresh token for a new pair; the old one is spent (rotation)."""
    return token_response(await auth.refresh(body.refresh_token))


@auth_router.post("/logout", status_code=204)
async def log_out(auth: Auth, body: RefreshRequest) -> Response:
    """Sign out: the refresh token and every token of its chain stop working. The answer is
    the same for an unknown or spent token. Access tokens already issued expire on their own
    (≤ 15 minutes); disabling the account ends those too."""
    await auth.log_out(body.refresh_token)
    return Response(status_code=204)


@auth_router.post("/password", status_code=204, responses=raises(InvalidLink, RateLimited))
async def set_password(
    request: Request, auth: Auth, settings: AppSettings, body: PasswordSet
) -> Response:
    """Set a new account's password with the one-time token of the link mailed to its owner.
    The link works once and expires; an unknown, spent or expired one is the same 400."""
    client = client_address(request, settings.trusted_proxies)
    await auth.set_password(SetPassword(body.token, body.password, client))
    return Response(status_code=204)


# -- editor accounts (admins only) -------------------------------------------------------------

accounts_router = APIRouter(prefix="/api/editor", tags=["editor"])


@accounts_router.get("/users", response_model=EditorsOut)
async def list_editors(auth: Auth, _: AdminPrincipal) -> EditorsOut:
    return EditorsOut(items=[editor_out(e) for e in await auth.editors()])


@accounts_router.post(
    "/users", status_code=201, response_model=EditorOut, responses=raises(Conflict)
)
async def create_editor(body: EditorCreate, auth: Auth, admin: AdminPrincipal) -> EditorOut:
    return editor_out(await auth.create_editor(CreateEditor(**body.model_dump()), acting=admin))


@accounts_router.patch("/users/{editor_id}", response_model=EditorOut, responses=raises(Conflict))
async def update_editor(
    editor_id: Annotated[str, Path(pattern=UUID_PATTERN)],
    body: EditorUpdate,
    auth: Auth,
    admin: AdminPrincipal,
) -> EditorOut:
    command = UpdateEditor(editor_id, **body.model_dump())
    return editor_out(await auth.update_editor(command, acting=admin))


@accounts_router.post(
    "/users/{editor_id}/password-link", status_code=204, responses=raises(NotFound, Conflict)
)
async def send_password_link(
    editor_id: Annotated[str, Path(pattern=UUID_PATTERN)], auth: Auth, admin: AdminPrincipal
) -> Response:
    """Mail the account's owner a new one-time set-password link; an earlier one stops
    working. For a link that expired unused, or a forgotten password."""
    await auth.send_password_link(editor_id, acting=admin)
    return Response(status_code=204)
