"""Routes only: staff routes under /api/editor (by id), public routes under /api (by slug)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Form, Header, Query, Request, Response
from fastapi.responses import RedirectResponse
from feedgen.feed import FeedGenerator  # type: ignore[import-untyped]
from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import Match, Route
from starlette.types import Scope

from broadsheet_articles.domain import Article, ArticleStatus, Revision, Section, url_path
from broadsheet_articles.schemas import (
    ArticleCreate,
    ArticleListOut,
    ArticlePublicOut,
    ArticleUpdate,
    EditorCreate,
    EditorOut,
    EditorsOut,
    EditorUpdate,
    PublishRequest,
    RefreshRequest,
    RevisionOut,
    RevisionsOut,
    SectionCreate,
    SectionOut,
    SectionsOut,
    SectionUpdate,
    StaffArticleListOut,
    StaffArticleOut,
    TokenOut,
)
from broadsheet_articles.service import (
    ArticleService,
    AuthService,
    CreateArticle,
    EditArticle,
    Redirect,
    SectionService,
    TokenPair,
)
from broadsheet_articles.settings import Settings
from broadsheet_shared.auth import AdminPrincipal, StaffPrincipal
from broadsheet_shared.http.clients import client_address
from broadsheet_shared.http.problems import Problem

JSON = "application/json"


async def _articles(request: Request) -> ArticleService:
    service: ArticleService = request.app.state.container.articles
    return service


async def _sections(request: Request) -> SectionService:
    service: SectionService = request.app.state.container.sections
    return service


async def _auth(request: Request) -> AuthService:
    service: AuthService = request.app.state.container.auth
    return service


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@dataclass(frozen=True)
class PublicReads:
    """What the public read routes need, as one dependency: FastAPI solves each dependency on
    every request, and these routes are the hot path."""

    articles: ArticleService
    sections: SectionService
    cache_control: str
    feed_size: int
    base_url: str

    @classmethod
    def build(
        cls, articles: ArticleService, sections: SectionService, settings: Settings
    ) -> PublicReads:
        return cls(
            articles=articles,
            sections=sections,
            cache_control=f"public, max-age={settings.public_cache_seconds}",
            feed_size=settings.feed_size,
            base_url=settings.public_base_url,
        )


async def _public(request: Request) -> PublicReads:
    reads: PublicReads = request.app.state.public_reads
    return reads


Public = Annotated[PublicReads, Depends(_public)]
Articles = Annotated[ArticleService, Depends(_articles)]
Sections = Annotated[SectionService, Depends(_sections)]
Auth = Annotated[AuthService, Depends(_auth)]
AppSettings = Annotated[Settings, Depends(_settings)]

# -- representation ----------------------------------------------------------------------------


def section_out(section: Section) -> dict[str, str]:
    return {"slug": section.slug, "name": section.name}


def summary_out(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "slug": article.slug,
        "title": article.title,
        "summary": article.summary,
        "section": section_out(article.section),
        "tags": article.tags,
        "authors": article.authors,
        "hero_image_url": article.hero_image_url,
        "published_at": article.published_at,
        "url_path": url_path(article.slug),
    }


def public_out(article: Article) -> dict[str, Any]:
    return {
        **summary_out(article),
        "body_html": article.body_html,
        "updated_at": article.updated_at,
        "revision": article.revision,
        "comments_open": article.comments_open,
    }


def staff_out(article: Article) -> dict[str, Any]:
    return {
        **public_out(article),
        "body": article.body,
        "status": article.status.value,
        "created_at": article.created_at,
        "scheduled_at": article.scheduled_at,
        "previous_slugs": article.previous_slugs,
    }


def revision_out(revision: Revision) -> RevisionOut:
    content = revision.content
    return RevisionOut(
        revision=revision.revision,
        reason=revision.reason,
        editor=revision.editor,
        created_at=revision.created_at,
        status=revision.status,
        title=content["title"],
        slug=content["slug"],
        summary=content["summary"],
        body=content["body"],
        section=content["section"],
        tags=content["tags"],
        authors=content["authors"],
        hero_image_url=content["hero_image_url"],
        comments_open=content["comments_open"],
    )


def etag(article: Article) -> str:
    return f'"{article.revision}"'


def json_response(
    content: Any, *, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    # orjson straight to bytes: the hot public reads skip a second pydantic pass.
    return Response(
        orjson.dumps(content), status_code=status_code, media_type=JSON, headers=headers
    )


def staff_response(article: Article, status_code: int = 200, **headers: str) -> Response:
    return json_response(
        staff_out(article),
        status_code=status_code,
        headers={"ETag": etag(article), "Cache-Control": "no-store", **headers},
    )


_IF_MATCH = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


def expected_revision(if_match: str | None) -> int | None:
    """The revision an If-Match names; ``*`` matches any; no header at all is refused (428)."""
    if if_match is None:
        raise Problem(428, "PATCH needs an If-Match header with the ETag you read.")
    if if_match.strip() == "*":
        return None
    match = _IF_MATCH.match(if_match)
    # An ETag we never issued cannot match the current one.
    return int(match.group(1)) if match else -1


def encode_cursor(article: Article) -> str | None:
    if article.published_at is None:
        return None
    raw = orjson.dumps([article.published_at.isoformat(), article.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        published_at, article_id = orjson.loads(raw)
        parsed = datetime.fromisoformat(published_at)
        if parsed.tzinfo is None or not isinstance(article_id, str):
            raise ValueError("bad cursor")
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise Problem(
            422,
            "The request is not valid.",
            errors=[{"loc": ["query", "cursor"], "msg": "Invalid cursor.", "type": "cursor"}],
        ) from None
    return parsed, article_id


def token_out(pair: TokenPair) -> Response:
    return json_response(
        TokenOut(
            access_token=pair.access_token,
            expires_in=pair.expires_in,
            refresh_token=pair.refresh_token,
        ).model_dump(),
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def build_feed(
    *, title: str, self_path: str, articles: list[Article], base_url: str, subtitle: str
) -> bytes:
    base = base_url.rstrip("/")
    feed = FeedGenerator()
    feed.id(f"{base}{self_path}")
    feed.title(title)
    feed.subtitle(subtitle)
    feed.link(href=f"{base}{self_path}", rel="self")
    feed.link(href=f"{base}/", rel="alternate")
    feed.language("en")
    latest = max((a.updated_at for a in articles), default=None)
    if latest is not None:
        feed.updated(latest)
    for article in articles:
        entry = feed.add_entry(order="append")
        entry.id(f"urn:uuid:{article.id}")
        entry.title(article.title)
        entry.link(href=f"{base}{url_path(article.slug)}")
        entry.published(article.published_at)
        entry.updated(article.updated_at)
        if article.summary:
            entry.summary(article.summary)
        for author in article.authors:
            entry.author({"name": author})
        entry.category(term=article.section.slug, label=article.section.name)
    xml: bytes = feed.atom_str(pretty=False)
    return xml


# -- auth --------------------------------------------------------------------------------------

auth_router = APIRouter(prefix="/api/auth", tags=["auth"])


@auth_router.post("/token", response_model=TokenOut)
async def issue_token(
    request: Request,
    auth: Auth,
    settings: AppSettings,
    username: Annotated[str, Form(min_length=1, max_length=254)],
    password: Annotated[str, Form(min_length=1, max_length=256)],
) -> Response:
    """OAuth2 password grant: an access token (≤ 15 minutes) and a one-use refresh token."""
    client = client_address(request, settings.trusted_proxies)
    return token_out(await auth.login(username, password, client))


@auth_router.post("/refresh", response_model=TokenOut)
async def refresh_token(auth: Auth, body: RefreshRequest) -> Response:
    """Trade a refresh token for a new pair; the old one is spent (rotation)."""
    return token_out(await auth.refresh(body.refresh_token))


# -- public ------------------------------------------------------------------------------------

public_router = APIRouter(prefix="/api", tags=["public"])


@public_router.get("/articles", response_model=ArticleListOut)
async def list_articles(
    reads: Public,
    section: Annotated[str | None, Query(max_length=100)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> Response:
    after = decode_cursor(cursor) if cursor else None
    items = await reads.articles.list_public(section=section, tag=tag, after=after, limit=limit + 1)
    next_cursor = encode_cursor(items[limit - 1]) if len(items) > limit else None
    return json_response(
        {"items": [summary_out(a) for a in items[:limit]], "next_cursor": next_cursor},
        headers={"Cache-Control": reads.cache_control},
    )


@public_router.get("/articles/feed.xml", response_class=Response)
async def site_feed(reads: Public) -> Response:
    items = await reads.articles.list_public(
        section=None, tag=None, after=None, limit=reads.feed_size
    )
    xml = build_feed(
        title="Broadsheet",
        subtitle="Latest articles",
        self_path="/feed.xml",
        articles=items,
        base_url=reads.base_url,
    )
    return Response(
        xml, media_type="application/atom+xml", headers={"Cache-Control": reads.cache_control}
    )


@public_router.get(
    "/articles/{slug}",
    response_model=ArticlePublicOut,
    responses={
        301: {"description": "The article moved to a new slug"},
        304: {"description": "Not modified: the If-None-Match ETag is current"},
        404: {},
    },
    # If-None-Match is read from the request itself: as a Header() parameter FastAPI would spend
    # ~10 µs a request on it, on the hottest route of the site. Declared here for the docs.
    openapi_extra={
        "parameters": [
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "ETag(s) of a copy the client holds",
            }
        ]
    },
)
async def get_article(slug: str, reads: Public, request: Request) -> Response:
    # Documents the route; requests are served by FAST_ROUTES below, ahead of FastAPI's router.
    return await article_response(reads, slug, request.headers.get("if-none-match"))


async def article_response(reads: PublicReads, slug: str, if_none_match: str | None) -> Response:
    found = await reads.articles.public_article(slug)
    if isinstance(found, Redirect):
        return RedirectResponse(f"/api/articles/{found.slug}", status_code=301)
    tag = etag(found)
    headers = {"ETag": tag, "Cache-Control": reads.cache_control}
    if if_none_match is not None and tag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return json_response(public_out(found), headers=headers)


async def _serve_article(request: Request) -> Response:
    reads: PublicReads = request.app.state.public_reads
    slug: str = request.path_params["slug"]
    return await article_response(reads, slug, request.headers.get("if-none-match"))


class _SlugConvertor(Convertor[str]):
    """Slugs as the service makes them (no dots: /api/articles/feed.xml stays FastAPI's)."""

    regex = "[a-z0-9][a-z0-9-]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("article_slug", _SlugConvertor())


# The article read is the site's hottest route. As a plain Starlette route matched before
# FastAPI's router it skips FastAPI's routing and request handling: 2,740 → 3,500-3,800
# requests/s in one process (docs/articles.md). Middleware, problem handlers and the response
# are the same. The FastAPI route above stays for the OpenAPI document and any other slug form.
class _NamedRoute(Route):
    """Records itself in the scope as FastAPI's routes do, so metrics label it by template."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


FAST_ROUTES = [_NamedRoute("/api/articles/{slug:article_slug}", _serve_article, methods=["GET"])]


@public_router.get("/sections", response_model=SectionsOut)
async def list_sections(reads: Public) -> Response:
    return json_response(
        {"items": [section_out(s) for s in await reads.sections.all()]},
        headers={"Cache-Control": reads.cache_control},
    )


@public_router.get("/sections/{slug}/feed.xml", response_class=Response)
async def section_feed(slug: str, reads: Public) -> Response:
    section = await reads.sections.get(slug)
    items = await reads.articles.list_public(
        section=section.slug, tag=None, after=None, limit=reads.feed_size
    )
    xml = build_feed(
        title=f"Broadsheet: {section.name}",
        subtitle=f"Latest in {section.name}",
        self_path=f"/sections/{section.slug}/feed.xml",
        articles=items,
        base_url=reads.base_url,
    )
    return Response(
        xml, media_type="application/atom+xml", headers={"Cache-Control": reads.cache_control}
    )


# -- staff: articles ---------------------------------------------------------------------------

editor_router = APIRouter(prefix="/api/editor", tags=["editor"])


@editor_router.post("/articles", status_code=201, response_model=StaffArticleOut)
async def create_article(
    body: ArticleCreate, articles: Articles, editor: StaffPrincipal
) -> Response:
    article = await articles.create(
        CreateArticle(
            title=body.title,
            body=body.body,
            section=body.section,
            summary=body.summary,
            tags=body.tags,
            authors=body.authors,
            hero_image_url=str(body.hero_image_url) if body.hero_image_url else None,
            comments_open=body.comments_open,
        ),
        editor,
    )
    return staff_response(article, 201, Location=f"/api/editor/articles/{article.id}")


@editor_router.get("/articles", response_model=StaffArticleListOut)
async def list_staff_articles(
    articles: Articles,
    _: StaffPrincipal,
    status: ArticleStatus | None = None,
    section: Annotated[str | None, Query(max_length=100)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    items, total = await articles.list_staff(
        status=status, section=section, tag=tag, offset=offset, limit=limit
    )
    return json_response(
        {"items": [staff_out(a) for a in items], "total": total, "offset": offset, "limit": limit},
        headers={"Cache-Control": "no-store"},
    )


@editor_router.get("/articles/{article_id}", response_model=StaffArticleOut)
async def get_staff_article(article_id: str, articles: Articles, _: StaffPrincipal) -> Response:
    return staff_response(await articles.get(article_id))


@editor_router.patch(
    "/articles/{article_id}",
    response_model=StaffArticleOut,
    responses={412: {"description": "Stale If-Match"}, 428: {"description": "No If-Match"}},
)
async def edit_article(
    article_id: str,
    body: ArticleUpdate,
    articles: Articles,
    editor: StaffPrincipal,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    expected = expected_revision(if_match)
    given = body.model_fields_set
    article = await articles.edit(
        article_id,
        EditArticle(
            title=body.title,
            body=body.body,
            section=body.section,
            summary=body.summary,
            tags=body.tags,
            authors=body.authors,
            hero_image_url=str(body.hero_image_url) if body.hero_image_url else None,
            clear_hero_image="hero_image_url" in given and body.hero_image_url is None,
            comments_open=body.comments_open,
            slug=body.slug,
        ),
        expected,
        editor,
    )
    return staff_response(article)


@editor_router.delete("/articles/{article_id}", status_code=204)
async def delete_article(article_id: str, articles: Articles, _: StaffPrincipal) -> Response:
    await articles.delete(article_id)
    return Response(status_code=204)


@editor_router.post("/articles/{article_id}/publish", response_model=StaffArticleOut)
async def publish_article(
    article_id: str,
    articles: Articles,
    editor: StaffPrincipal,
    body: Annotated[PublishRequest | None, Body()] = None,
) -> Response:
    at = body.at if body is not None else None
    return staff_response(await articles.publish(article_id, at, editor))


@editor_router.post("/articles/{article_id}/unpublish", response_model=StaffArticleOut)
async def unpublish_article(
    article_id: str, articles: Articles, editor: StaffPrincipal
) -> Response:
    return staff_response(await articles.unpublish(article_id, editor))


@editor_router.get("/articles/{article_id}/revisions", response_model=RevisionsOut)
async def article_revisions(article_id: str, articles: Articles, _: StaffPrincipal) -> RevisionsOut:
    return RevisionsOut(items=[revision_out(r) for r in await articles.revisions(article_id)])


# -- staff: sections ---------------------------------------------------------------------------


@editor_router.get("/sections", response_model=SectionsOut)
async def staff_sections(sections: Sections, _: StaffPrincipal) -> SectionsOut:
    return SectionsOut(items=[SectionOut(slug=s.slug, name=s.name) for s in await sections.all()])


@editor_router.post("/sections", status_code=201, response_model=SectionOut)
async def create_section(body: SectionCreate, sections: Sections, _: AdminPrincipal) -> SectionOut:
    section = await sections.create(body.name, body.slug)
    return SectionOut(slug=section.slug, name=section.name)


@editor_router.patch("/sections/{slug}", response_model=SectionOut)
async def rename_section(
    slug: str, body: SectionUpdate, articles: Articles, admin: AdminPrincipal
) -> SectionOut:
    section = await articles.rename_section(slug, body.name, admin)
    return SectionOut(slug=section.slug, name=section.name)


@editor_router.delete("/sections/{slug}", status_code=204)
async def delete_section(slug: str, sections: Sections, _: AdminPrincipal) -> Response:
    await sections.delete(slug)
    return Response(status_code=204)


# -- staff: editor accounts (admins only) ------------------------------------------------------


def editor_out(editor: Any) -> EditorOut:
    return EditorOut(
        id=editor.id,
        email=editor.email,
        name=editor.name,
        role=editor.role,
        disabled=editor.disabled,
        created_at=editor.created_at,
    )


@editor_router.get("/users", response_model=EditorsOut)
async def list_editors(auth: Auth, _: AdminPrincipal) -> EditorsOut:
    return EditorsOut(items=[editor_out(e) for e in await auth.editors()])


@editor_router.post("/users", status_code=201, response_model=EditorOut)
async def create_editor(body: EditorCreate, auth: Auth, _: AdminPrincipal) -> EditorOut:
    editor = await auth.create_editor(
        email=body.email, name=body.name, password=body.password, role=body.role
    )
    return editor_out(editor)


@editor_router.patch("/users/{editor_id}", response_model=EditorOut)
async def update_editor(
    editor_id: str, body: EditorUpdate, auth: Auth, admin: AdminPrincipal
) -> EditorOut:
    editor = await auth.update_editor(
        editor_id,
        acting=admin,
        name=body.name,
        role=body.role,
        disabled=body.disabled,
        password=body.password,
    )
    return editor_out(editor)


ROUTERS = [public_router, auth_router, editor_router]  # public reads are matched first
