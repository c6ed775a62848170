"""Import routes (admin, under /api/editor/import) and the public old-link lookup
(/api/redirects). The use cases are in :mod:`broadsheet_articles.imports`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field, model_validator

from broadsheet_articles.domain import ArticleStatus, ImportedContent
from broadsheet_articles.imports import (
    EnsureSection,
    ImportArticle,
    ImportService,
    OldLinks,
    Outcome,
)
from broadsheet_articles.schemas import (
    MAX_BODY,
    AuthorName,
    Flag,
    SectionName,
    SectionOut,
    Slug,
    Strict,
    Summary,
    Tag,
    Text,
    Title,
)
from broadsheet_shared.auth import AdminPrincipal
from broadsheet_shared.errors import Conflict, NotFound
from broadsheet_shared.http.contract import raises
from broadsheet_shared.timestamps import Timestamp

Fingerprint = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256, hex")]
Source = Annotated[str, Query(min_length=1, max_length=500, description="The old site's base URL.")]
WordPressId = Annotated[int, Path(ge=1, le=2**53)]


class WordPressOrigin(Strict):
    link: Annotated[str, Field(max_length=2000)] = Field(description="The post's old URL.")
    post_name: Annotated[str, Field(max_length=600)] = Field(
        description="Its WordPress slug (as exported; may be percent-encoded)."
    )


class ArticleImportIn(Strict):
    title: Title
    slug: Slug = Field(description="Wanted; another article's slug gets -2, -3…")
    summary: Summary = ""
    body: Annotated[Text, Field(max_length=MAX_BODY)] = ""
    section: Slug = Field(description="A section's slug (PUT /import/sections/… answers it).")
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    authors: list[AuthorName] = Field(default_factory=list, max_length=10)
    status: Literal["draft", "scheduled", "published"]
    published_at: Timestamp | None = None
    scheduled_at: Timestamp | None = None
    created_at: Timestamp
    updated_at: Timestamp
    comments_open: Flag = True
    wordpress: WordPressOrigin
    fingerprint: Fingerprint

    @model_validator(mode="after")
    def _dates_match_status(self) -> ArticleImportIn:
        if self.status == "published" and self.published_at is None:
            raise ValueError("a published article needs published_at")
        if self.status == "scheduled" and self.scheduled_at is None:
            raise ValueError("a scheduled article needs scheduled_at")
        return self

    def content(self) -> ImportedContent:
        return ImportedContent(
            title=self.title,
            summary=self.summary,
            body=self.body,
            tags=list(self.tags),
            authors=list(self.authors),
            comments_open=self.comments_open,
            status=ArticleStatus(self.status),
            published_at=self.published_at if self.status == "published" else None,
            scheduled_at=self.scheduled_at if self.status == "scheduled" else None,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


class ArticleImportOut(BaseModel):
    id: str
    slug: str
    outcome: Outcome
    revision: int


class ImportedArticleOut(BaseModel):
    wordpress_id: int
    id: str
    fingerprint: str


class ImportedArticlesOut(BaseModel):
    items: list[ImportedArticleOut]
    next_cursor: int | None = Field(description="Pass as after= for the next page.")


class SectionImportIn(Strict):
    name: SectionName


class RedirectOut(BaseModel):
    location: str = Field(description="The reader site's path that replaced the old URL.")


async def _imports(request: Request) -> ImportService:
    service: ImportService = request.app.state.container.imports
    return service


async def _old_links(request: Request) -> OldLinks:
    service: OldLinks = request.app.state.container.old_links
    return service


Imports = Annotated[ImportService, Depends(_imports)]

import_router = APIRouter(prefix="/api/editor/import", tags=["import"])


@import_router.put("/sections/{wordpress_slug}", response_model=SectionOut)
async def import_section(
    wordpress_slug: Annotated[str, Path(min_length=1, max_length=200)],
    body: SectionImportIn,
    imports: Imports,
    _: AdminPrincipal,
) -> SectionOut:
    section = await imports.ensure_section(EnsureSection(body.name, wordpress_slug))
    return SectionOut(slug=section.slug, name=section.name)


@import_router.get("/articles", response_model=ImportedArticlesOut)
async def imported_articles(
    source: Source,
    imports: Imports,
    _: AdminPrincipal,
    after: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> ImportedArticlesOut:
    records = await imports.imported(source, after, limit)
    return ImportedArticlesOut(
        items=[
            ImportedArticleOut(
                wordpress_id=r.wordpress_id, id=r.article_id, fingerprint=r.fingerprint
            )
            for r in records
        ],
        next_cursor=records[-1].wordpress_id if len(records) == limit else None,
    )


@import_router.put(
    "/articles/{wordpress_id}",
    response_model=ArticleImportOut,
    # 409: a post scheduled for a time already past (ScheduleInPast).
    responses={201: {"model": ArticleImportOut, "description": "Created"}, **raises(Conflict)},
)
async def import_article(
    wordpress_id: WordPressId,
    source: Source,
    body: ArticleImportIn,
    imports: Imports,
    editor: AdminPrincipal,
    response: Response,
) -> ArticleImportOut:
    command = ImportArticle(
        source=source,
        wordpress_id=wordpress_id,
        slug=body.slug,
        section=body.section,
        content=body.content(),
        link=body.wordpress.link,
        post_name=body.wordpress.post_name,
        fingerprint=body.fingerprint,
    )
    done = await imports.import_article(command, editor)
    if done.outcome is Outcome.CREATED:
        response.status_code = 201
    article = done.article
    return ArticleImportOut(
        id=article.id, slug=article.slug, outcome=done.outcome, revision=article.revision
    )


redirects_router = APIRouter(prefix="/api", tags=["public"])


@redirects_router.get("/redirects", response_model=RedirectOut, responses=raises(NotFound))
async def old_link(
    path: Annotated[str, Query(min_length=1, max_length=2000, description="e.g. /?p=12")],
    old_links: Annotated[OldLinks, Depends(_old_links)],
) -> RedirectOut:
    """Where an URL of an imported WordPress site lives now; 404 when it names nothing here."""
    location_path, _, query = path.partition("?")
    return RedirectOut(location=await old_links.location(location_path, query))
