"""Article and section routes: public reads under /api (by slug), staff routes under
/api/editor (by id). Sign-in and editor accounts are in :mod:`auth_api`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import Match, Route
from starlette.types import Scope

from broadsheet_articles.commands import (
    CreateArticle,
    CreateSection,
    EditArticle,
    PublishArticle,
    RenameSection,
    ReorderSections,
)
from broadsheet_articles.cursors import decode_cursor, encode_cursor
from broadsheet_articles.domain import ArticleChanges, ArticleStatus
from broadsheet_articles.feeds import Feeds
from broadsheet_articles.responses import (
    ATOM,
    SITEMAP,
    etag,
    json_response,
    public_out,
    revision_out,
    section_model,
    section_out,
    staff_out,
    staff_response,
    summary_out,
)
from broadsheet_articles.schemas import (
    ArticleCreate,
    ArticleListOut,
    ArticlePublicOut,
    ArticleUpdate,
    PublishRequest,
    RevisionsOut,
    SectionCreate,
    SectionOrder,
    SectionOut,
    SectionsOut,
    SectionUpdate,
    StaffArticleListOut,
    StaffArticleOut,
)
from broadsheet_articles.service import ArticleService, Redirect, SectionService
from broadsheet_articles.settings import Settings
from broadsheet_articles.sitemaps import Sitemaps
from broadsheet_shared.auth import AdminPrincipal, EditorPrincipal
from broadsheet_shared.errors import Conflict, NotFound, StaleRevision
from broadsheet_shared.http.contract import raises
from broadsheet_shared.http.problems import Problem
from broadsheet_shared.identifiers import (
    ARTICLE_CURSOR_PATTERN,
    SLUG_MAX_LENGTH,
    SLUG_PATTERN,
    UUID_PATTERN,
)


async def _articles(request: Request) -> ArticleService:
    service: ArticleService = request.app.state.container.articles
    return service


async def _sections(request: Request) -> SectionService:
    service: SectionService = request.app.state.container.sections
    return service


@dataclass(frozen=True)
class PublicReads:
    """What the public read routes need, as one dependency: FastAPI solves each dependency on
    every request, and these routes are the hot path."""

    articles: ArticleService
    sections: SectionService
    feeds: Feeds
    cache_control: str

    @classmethod
    def build(
        cls, articles: ArticleService, sections: SectionService, feeds: Feeds, settings: Settings
    ) -> PublicReads:
        return cls(
            articles=articles,
            sections=sections,
            feeds=feeds,
            cache_control=f"public, max-age={settings.public_cache_seconds}",
        )


async def _public(request: Request) -> PublicReads:
    reads: PublicReads = request.app.state.public_reads
    return reads


Public = Annotated[PublicReads, Depends(_public)]
Slug = Annotated[str, Path(max_length=SLUG_MAX_LENGTH, pattern=SLUG_PATTERN)]
ArticleId = Annotated[str, Path(pattern=UUID_PATTERN)]
Articles = Annotated[ArticleService, Depends(_articles)]
Sections = Annotated[SectionService, Depends(_sections)]

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


# -- public ------------------------------------------------------------------------------------

public_router = APIRouter(prefix="/api", tags=["public"])


@public_router.get("/articles", response_model=ArticleListOut)
async def list_articles(
    reads: Public,
    section: Annotated[str | None, Query(max_length=100)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    author: Annotated[
        str | None,
        Query(max_length=SLUG_MAX_LENGTH, pattern=SLUG_PATTERN, description="An author's slug"),
    ] = None,
    cursor: Annotated[str | None, Query(pattern=ARTICLE_CURSOR_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> Response:
    after = decode_cursor(cursor) if cursor else None
    items = await reads.articles.list_public(
        section=section, tag=tag, after=after, limit=limit + 1, author=author
    )
    next_cursor = encode_cursor(items[limit - 1]) if len(items) > limit else None
    return json_response(
        {"items": [summary_out(a) for a in items[:limit]], "next_cursor": next_cursor},
        headers={"Cache-Control": reads.cache_control},
    )


@public_router.get("/articles/feed.xml", response_class=Response)
async def site_feed(reads: Public) -> Response:
    xml = await reads.feeds.site()
    return Response(xml, media_type=ATOM, headers={"Cache-Control": reads.cache_control})


@public_router.get(
    "/tags/{tag}/feed.xml",
    response_class=Response,
    summary="Atom feed of the latest articles with a tag",
    responses=raises(NotFound),
)
async def tag_feed(
    tag: Annotated[str, Path(min_length=1, max_length=50)], reads: Public
) -> Response:
    xml = await reads.feeds.tag(tag)
    return Response(xml, media_type=ATOM, headers={"Cache-Control": reads.cache_control})


@public_router.get(
    "/authors/{slug}/feed.xml",
    response_class=Response,
    summary="Atom feed of an author's latest articles",
    responses=raises(NotFound),
)
async def author_feed(slug: Slug, reads: Public) -> Response:
    xml = await reads.feeds.author(slug)
    return Response(xml, media_type=ATOM, headers={"Cache-Control": reads.cache_control})


async def _sitemaps(request: Request) -> Sitemaps:
    sitemaps: Sitemaps = request.app.state.container.sitemaps
    return sitemaps


SiteMaps = Annotated[Sitemaps, Depends(_sitemaps)]


def _sitemap_response(xml: bytes, reads: PublicReads) -> Response:
    return Response(xml, media_type=SITEMAP, headers={"Cache-Control": reads.cache_control})


@public_router.get("/sitemap.xml", response_class=Response, summary="The sitemap index")
async def sitemap_index(sitemaps: SiteMaps, reads: Public) -> Response:
    return _sitemap_response(await sitemaps.index(), reads)


@public_router.get(
    "/sitemaps/articles-{number}.xml",
    response_class=Response,
    summary="A sitemap of published articles (50,000 a file, newest first)",
    responses=raises(NotFound),
)
async def articles_sitemap(
    number: Annotated[int, Path(ge=1, le=100_000)], sitemaps: SiteMaps, reads: Public
) -> Response:
    return _sitemap_response(await sitemaps.articles(number), reads)


@public_router.get(
    "/sitemaps/pages.xml", response_class=Response, summary="A sitemap of section and tag pages"
)
async def pages_sitemap(sitemaps: SiteMaps, reads: Public) -> Response:
    return _sitemap_response(await sitemaps.pages(), reads)


@public_router.get(
    "/news-sitemap.xml",
    response_class=Response,
    summary="A Google News sitemap of the last 48 hours' articles",
)
async def news_sitemap(sitemaps: SiteMaps, reads: Public) -> Response:
    return _sitemap_response(await sitemaps.news(), reads)


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
async def get_article(slug: Slug, reads: Public, request: Request) -> Response:
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
async def section_feed(slug: Slug, reads: Public) -> Response:
    xml = await reads.feeds.section(slug)
    return Response(xml, media_type=ATOM, headers={"Cache-Control": reads.cache_control})


# -- staff: articles ---------------------------------------------------------------------------

editor_router = APIRouter(prefix="/api/editor", tags=["editor"])


@editor_router.post(
    "/articles", status_code=201, response_model=StaffArticleOut, responses=raises(Conflict)
)
async def create_article(
    body: ArticleCreate, articles: Articles, editor: EditorPrincipal
) -> Response:
    # mode="json": the image URL as the string it was given; every other field is plain already.
    article = await articles.create(CreateArticle(**body.model_dump(mode="json")), editor)
    return staff_response(article, 201, Location=f"/api/editor/articles/{article.id}")


@editor_router.post("/articles/preview", response_model=ArticlePublicOut)
async def preview_article(
    body: ArticleCreate, articles: Articles, editor: EditorPrincipal
) -> Response:
    """The article as readers would see it if published now (Markdown rendered), without
    saving anything: the Newsroom's Preview."""
    article = await articles.preview(CreateArticle(**body.model_dump(mode="json")), editor)
    return json_response(public_out(article), headers={"Cache-Control": "no-store"})


@editor_router.get("/articles", response_model=StaffArticleListOut)
async def list_staff_articles(
    articles: Articles,
    _: EditorPrincipal,
    status: ArticleStatus | None = None,
    section: Annotated[str | None, Query(max_length=100)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    q: Annotated[
        str | None, Query(max_length=100, description="Words the title contains (any case)")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """Newest change first."""
    items, total = await articles.list_staff(
        status=status, section=section, tag=tag, title=q, offset=offset, limit=limit
    )
    return json_response(
        {"items": [staff_out(a) for a in items], "total": total, "offset": offset, "limit": limit},
        headers={"Cache-Control": "no-store"},
    )


@editor_router.get("/articles/{article_id}", response_model=StaffArticleOut)
async def get_staff_article(
    article_id: ArticleId, articles: Articles, _: EditorPrincipal
) -> Response:
    return staff_response(await articles.get(article_id))


@editor_router.patch(
    "/articles/{article_id}",
    response_model=StaffArticleOut,
    responses={
        **raises(Conflict),
        412: {"description": "Stale If-Match"},
        428: {"description": "No If-Match"},
    },
    # Required, but its absence is a 428 (RFC 6585), not a validation error: FastAPI reads it
    # as optional, the document says what a client must send.
    openapi_extra={
        "parameters": [
            {
                "name": "If-Match",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "The ETag of the article as read (or *)",
            }
        ]
    },
)
async def edit_article(
    article_id: ArticleId,
    body: ArticleUpdate,
    articles: Articles,
    editor: EditorPrincipal,
    if_match: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    expected = expected_revision(if_match)
    content = body.model_dump(mode="json", exclude={"section", "slug"})
    # An explicit null removes the image; an absent field leaves it.
    clear_hero_image = "hero_image_url" in body.model_fields_set and body.hero_image_url is None
    command = EditArticle(
        article_id=article_id,
        expected_revision=expected,
        changes=ArticleChanges(**content, clear_hero_image=clear_hero_image),
        section=body.section,
        slug=body.slug,
    )
    return staff_response(await articles.edit(command, editor))


@editor_router.delete("/articles/{article_id}", status_code=204, responses=raises(Conflict))
async def delete_article(
    article_id: ArticleId, articles: Articles, editor: EditorPrincipal
) -> Response:
    await articles.delete(article_id, editor)
    return Response(status_code=204)


@editor_router.post(
    "/articles/{article_id}/publish",
    response_model=StaffArticleOut,
    responses=raises(Conflict, StaleRevision),
)
async def publish_article(
    article_id: ArticleId,
    articles: Articles,
    editor: EditorPrincipal,
    body: Annotated[PublishRequest | None, Body()] = None,
) -> Response:
    command = PublishArticle(article_id, at=body.at if body is not None else None)
    return staff_response(await articles.publish(command, editor))


@editor_router.post(
    "/articles/{article_id}/unpublish",
    response_model=StaffArticleOut,
    responses=raises(Conflict, StaleRevision),
)
async def unpublish_article(
    article_id: ArticleId, articles: Articles, editor: EditorPrincipal
) -> Response:
    return staff_response(await articles.unpublish(article_id, editor))


@editor_router.get("/articles/{article_id}/revisions", response_model=RevisionsOut)
async def article_revisions(
    article_id: ArticleId, articles: Articles, _: EditorPrincipal
) -> RevisionsOut:
    return RevisionsOut(items=[revision_out(r) for r in await articles.revisions(article_id)])


# -- staff: sections ---------------------------------------------------------------------------


@editor_router.get("/sections", response_model=SectionsOut)
async def staff_sections(sections: Sections, _: EditorPrincipal) -> SectionsOut:
    return SectionsOut(items=[section_model(s) for s in await sections.all()])


@editor_router.post(
    "/sections", status_code=201, response_model=SectionOut, responses=raises(Conflict)
)
async def create_section(
    body: SectionCreate, sections: Sections, admin: AdminPrincipal
) -> SectionOut:
    return section_model(await sections.create(CreateSection(body.name, body.slug), admin))


@editor_router.put("/sections", response_model=SectionsOut, responses=raises(Conflict))
async def reorder_sections(
    body: SectionOrder, sections: Sections, admin: AdminPrincipal
) -> SectionsOut:
    """Put the sections in this order (the reader site's navigation follows it). It must name
    every section once: 409 when the sections changed since the list was read."""
    ordered = await sections.reorder(ReorderSections(body.slugs), admin)
    return SectionsOut(items=[section_model(s) for s in ordered])


@editor_router.patch("/sections/{slug}", response_model=SectionOut, responses=raises(StaleRevision))
async def rename_section(
    slug: Slug, body: SectionUpdate, articles: Articles, admin: AdminPrincipal
) -> SectionOut:
    return section_model(await articles.rename_section(RenameSection(slug, body.name), admin))


@editor_router.delete("/sections/{slug}", status_code=204, responses=raises(Conflict))
async def delete_section(slug: Slug, sections: Sections, admin: AdminPrincipal) -> Response:
    await sections.delete(slug, admin)
    return Response(status_code=204)
