"""Import routes (admin, under /api/editor/import/comments): what ``broadsheet-import`` writes.
The use case is :class:`broadsheet_comments.imports.ImportService`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from broadsheet_comments.commands import ImportComment
from broadsheet_comments.domain import MAX_AUTHOR_NAME
from broadsheet_comments.imports import ImportOutcome, ImportService
from broadsheet_shared.auth import AdminPrincipal
from broadsheet_shared.timestamps import Timestamp


async def get_import_service(request: Request) -> ImportService:
    imports: ImportService = request.app.state.imports
    return imports


Service = Annotated[ImportService, Depends(get_import_service)]
Source = Annotated[str, Query(min_length=1, max_length=500, description="The old site's base URL.")]
# History can be longer than a new comment may be (5,000 characters): the request size limit
# (COMMENTS_MAX_REQUEST_BYTES) is the bound.
MAX_IMPORTED_BODY = 60_000


class CommentImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    article_id: Annotated[str, Field(min_length=1, max_length=64)]
    parent_id: Annotated[str | None, Field(min_length=1, max_length=64)] = Field(
        default=None, description="This service's id of the imported parent; null: top level."
    )
    author_name: Annotated[str, Field(min_length=1, max_length=MAX_AUTHOR_NAME)]
    author_email: Annotated[str, Field(max_length=320)] = Field(
        default="", description="Kept for moderation; empty when the old site had none."
    )
    created_at: Timestamp
    body: Annotated[str, Field(min_length=1, max_length=MAX_IMPORTED_BODY)]
    status: Literal["approved", "pending"]
    fingerprint: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class CommentImportOut(BaseModel):
    id: str
    outcome: ImportOutcome


class ImportedCommentOut(BaseModel):
    wordpress_id: int
    id: str
    fingerprint: str


class ImportedCommentsOut(BaseModel):
    items: list[ImportedCommentOut]
    next_cursor: int | None = Field(description="Pass as after= for the next page.")


import_router = APIRouter(prefix="/api/editor/import/comments", tags=["import"])


@import_router.get("", response_model=ImportedCommentsOut)
async def imported_comments(
    source: Source,
    service: Service,
    _: AdminPrincipal,
    after: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> ImportedCommentsOut:
    records = await service.imported(source, after, limit)
    return ImportedCommentsOut(
        items=[
            ImportedCommentOut(
                wordpress_id=r.wordpress_id, id=r.comment_id, fingerprint=r.fingerprint
            )
            for r in records
        ],
        next_cursor=records[-1].wordpress_id if len(records) == limit else None,
    )


@import_router.put(
    "/{wordpress_id}",
    response_model=CommentImportOut,
    responses={
        201: {"model": CommentImportOut, "description": "Created"},
        404: {
            "description": "type /problems/article-not-visible: the article is not in this "
            "service's projection yet (retry with backoff)"
        },
    },
)
async def import_comment(
    wordpress_id: Annotated[int, Path(ge=1, le=2**53)],
    source: Source,
    body: CommentImportIn,
    service: Service,
    _: AdminPrincipal,
    response: Response,
) -> CommentImportOut:
    done = await service.import_comment(
        ImportComment(
            source=source,
            wordpress_id=wordpress_id,
            article_id=body.article_id,
            parent_id=body.parent_id,
            author_name=body.author_name,
            author_email=body.author_email if "@" in body.author_email else None,
            body=body.body,
            status=body.status,
            created_at=body.created_at,
            fingerprint=body.fingerprint,
        )
    )
    if done.outcome is ImportOutcome.CREATED:
        response.status_code = 201
    return CommentImportOut(id=done.comment.id, outcome=done.outcome)
