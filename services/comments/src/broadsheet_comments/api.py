"""HTTP routes. Public reading and posting, the author's edits, and staff moderation."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import ValidationError
from starlette.convertors import Convertor, register_url_convertor

from broadsheet_comments.avatars import Avatars
from broadsheet_comments.commands import (
    BanAuthor,
    DeleteComment,
    EditComment,
    LiftBan,
    ModerateComment,
    ModerateComments,
    PostComment,
    VoteForComment,
)
from broadsheet_comments.domain import Ban, BanKind, Comment, ModerationAction, Status
from broadsheet_comments.feeds import FEED_SIZE, comments_feed
from broadsheet_comments.mydata import ReaderData
from broadsheet_comments.queries import CommentQueries, QueueEntry
from broadsheet_comments.schemas import (
    ArticleOut,
    BanCreate,
    BanOut,
    BansOut,
    BulkModeration,
    BulkModerationOut,
    BulkOutcome,
    CommentCreate,
    CommentEdit,
    CommentExport,
    CommentOut,
    CommentsExport,
    CountOut,
    CountsOut,
    LocatedCommentOut,
    PostedComment,
    QueueArticle,
    QueueComment,
    QueueOrder,
    QueueOut,
    QueueParent,
    RecentArticle,
    RecentComment,
    RecentOut,
    StaffComment,
    StatusCountOut,
    ThreadOut,
    VoteCreate,
    VoteOut,
    WordPressCommentOut,
)
from broadsheet_comments.service import CommentsService
from broadsheet_comments.settings import Settings
from broadsheet_comments.threads import Sort, ThreadSort
from broadsheet_shared.auth import ModeratorPrincipal, Principal, StaffPrincipal
from broadsheet_shared.errors import Conflict, Forbidden
from broadsheet_shared.http.clients import client_address
from broadsheet_shared.http.contract import raises
from broadsheet_shared.http.json_body import read_json
from broadsheet_shared.http.problems import Problem
from broadsheet_shared.identifiers import (
    OBJECT_ID_PATTERN,
    QUEUE_CURSOR_PATTERN,
    SLUG_MAX_LENGTH,
    SLUG_PATTERN,
    THREAD_CURSOR_PATTERN,
    THREAD_PAGE_MAX,
)


class _CommentIdConvertor(Convertor[str]):
    """Comment ids as routes match them: ``/comments/count`` and ``/comments/bans`` are not
    comments, so a wrong method there is answered with their own methods in ``Allow``."""

    regex = OBJECT_ID_PATTERN.strip("^$")

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("comment_id", _CommentIdConvertor())

public_router = APIRouter(tags=["comments"])
staff_router = APIRouter(prefix="/api/editor/comments", tags=["moderation"])


async def get_service(request: Request) -> CommentsService:
    service: CommentsService = request.app.state.service
    return service


async def get_queries(request: Request) -> CommentQueries:
    queries: CommentQueries = request.app.state.queries
    return queries


async def get_avatars(request: Request) -> Avatars:
    avatars: Avatars = request.app.state.avatars
    return avatars


async def get_reader_data(request: Request) -> ReaderData:
    reader_data: ReaderData = request.app.state.reader_data
    return reader_data


async def client_identity(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return client_address(request, settings.trusted_proxies)


Service = Annotated[CommentsService, Depends(get_service)]
Queries = Annotated[CommentQueries, Depends(get_queries)]
Client = Annotated[str, Depends(client_identity)]
AvatarsDep = Annotated[Avatars, Depends(get_avatars)]
ReaderDataDep = Annotated[ReaderData, Depends(get_reader_data)]
Slug = Annotated[str, Path(max_length=SLUG_MAX_LENGTH, pattern=SLUG_PATTERN)]
CommentId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN)]
EditToken = Annotated[str | None, Header(alias="X-Edit-Token", max_length=500)]

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_FORM_BOOLEANS = {"true": True, "on": True, "false": False}
_create_schema = CommentCreate.model_json_schema()
_POST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _create_schema},
            "application/x-www-form-urlencoded": {"schema": _create_schema},
        },
    }
}


def comment_out(comment: Comment, in_reply_to: str | None, avatars: Avatars) -> CommentOut:
    return CommentOut(
        id=comment.id,
        parent_id=comment.parent_id,
        root_id=comment.root_id,
        depth=comment.display_depth,
        author_name=comment.author_name,
        body_html=comment.body_html,
        created_at=comment.created_at,
        edited=comment.edited_at is not None,
        reply_count=comment.reply_count,
        in_reply_to=in_reply_to,
        wordpress_id=comment.wordpress_id,
        avatar=avatars.seed(comment),
        votes=comment.votes,
    )


def staff_comment(comment: Comment) -> StaffComment:
    return StaffComment(
        id=comment.id,
        article_id=comment.article_id,
        parent_id=comment.parent_id,
        author_name=comment.author_name,
        author_email=comment.author_email,
        client=comment.client,
        status=comment.status,
        body_markdown=comment.body_markdown,
        body_html=comment.body_html,
        created_at=comment.created_at,
        edited=comment.edited_at is not None,
        moderation_reasons=list(comment.moderation_reasons),
    )


def queue_comment(entry: QueueEntry) -> QueueComment:
    article, parent = entry.article, entry.parent
    return QueueComment(
        **staff_comment(entry.comment).model_dump(),
        article=QueueArticle(title=article.title, slug=article.slug, url_path=article.url_path)
        if article is not None
        else None,
        parent=QueueParent(id=parent.id, author_name=parent.author_name, excerpt=parent.excerpt)
        if parent is not None
        else None,
    )


def ban_out(ban: Ban) -> BanOut:
    return BanOut(id=ban.id, kind=ban.kind, value=ban.value, until=ban.until, reason=ban.reason)


async def _comment_input(request: Request) -> CommentCreate:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw: Any
    is_json = content_type == "application/json" or content_type.endswith("+json")
    if is_json:
        raw = await read_json(request)
    elif content_type in _FORM_TYPES:
        form = await request.form()
        raw = {key: value for key, value in form.items() if isinstance(value, str)}
        # A form's values are all text: its boolean is the schema's "true" or "false", or a
        # checked box's "on"; any other text ("0", "yes") is refused, as JSON would refuse it.
        if "notify_replies" in raw:
            raw["notify_replies"] = _FORM_BOOLEANS.get(raw["notify_replies"], raw["notify_replies"])
    else:
        raise Problem(415, "Send the comment as JSON or as an HTML form.")
    if not isinstance(raw, dict):
        raise Problem(422, "The body must be an object.")
    try:
        return CommentCreate.model_validate(raw, strict=True)
    except ValidationError as exc:
        errors = [
            {"loc": ["body", *map(str, error["loc"])], "msg": error["msg"], "type": error["type"]}
            for error in exc.errors()
        ]
        raise Problem(422, "The comment is not valid.", errors=errors) from None


# --- public -----------------------------------------------------------------------------------


@public_router.get(
    "/api/articles/{slug}/comments",
    response_model=ThreadOut,
    description=(
        "A page of the thread: at most `limit` public comments in total, in thread order "
        "(each top-level comment, then its replies depth first, oldest reply first; `sort` "
        "orders the top-level comments: `best` by votes, most first, ties oldest first). "
        "A page may start or end inside a thread: `root_id` "
        "names each comment's top-level comment, and a reply whose parent is not on the page "
        "carries `in_reply_to`. Pass `next_cursor` back as `cursor` for the next page."
    ),
)
async def list_comments(
    slug: Slug,
    queries: Queries,
    avatars: AvatarsDep,
    sort: ThreadSort = "oldest",
    cursor: Annotated[str | None, Query(pattern=THREAD_CURSOR_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=THREAD_PAGE_MAX)] = 50,
) -> Response:
    page = await queries.thread(slug, sort=sort, cursor=cursor, limit=limit)
    article = page.article
    thread = ThreadOut(
        article=ArticleOut(
            id=article.article_id,
            slug=article.slug,
            title=article.title,
            url_path=article.url_path,
            comments_open=article.comments_open,
        ),
        total=page.total,
        items=[comment_out(item.comment, item.in_reply_to, avatars) for item in page.items],
        next_cursor=page.next_cursor,
    )
    # Serialized by pydantic-core straight to JSON: FastAPI would dump to Python objects and
    # then run the stdlib encoder, ~3x the cost on a 50-comment page.
    return Response(thread.model_dump_json(), media_type="application/json")


@public_router.post(
    "/api/articles/{slug}/comments",
    status_code=201,
    response_model=PostedComment,
    openapi_extra=_POST_BODY,
    responses={
        **raises(Forbidden),
        404: {"description": "Unknown article"},
        409: {"description": "Comments are closed"},
        413: {"description": "Body too large"},
        422: {"description": "Invalid fields or a banned word"},
        429: {"description": "Rate-limited"},
    },
)
async def post_comment(
    slug: Slug,
    request: Request,
    service: Service,
    client: Client,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
    ] = None,
) -> PostedComment:
    body = await _comment_input(request)
    posted = await service.post(
        PostComment(
            slug=slug,
            author_name=body.author_name,
            author_email=body.author_email,
            body=body.body,
            parent_id=body.parent_id,
            notify_replies=body.notify_replies,
            website=body.website,
            client=client,
            idempotency_key=idempotency_key,
        )
    )
    return PostedComment(
        id=posted.comment.id,
        status="approved" if posted.public_status == "approved" else "pending",
        created_at=posted.comment.created_at,
        edit_token=posted.edit_token,
        edit_token_expires_at=posted.edit_token_expires_at,
    )


@public_router.patch(
    "/api/articles/{slug}/comments/{comment_id:comment_id}",
    response_model=CommentOut,
    responses=raises(Forbidden, Conflict),
)
async def edit_comment(
    slug: Slug,
    comment_id: CommentId,
    edit: CommentEdit,
    service: Service,
    avatars: AvatarsDep,
    token: EditToken = None,
) -> CommentOut:
    edited = await service.edit(EditComment(slug, comment_id, token, edit.body))
    return comment_out(edited, edited.in_reply_to, avatars)


@public_router.delete(
    "/api/articles/{slug}/comments/{comment_id:comment_id}",
    status_code=204,
    responses=raises(Forbidden, Conflict),
)
async def delete_comment(
    slug: Slug, comment_id: CommentId, service: Service, token: EditToken = None
) -> Response:
    await service.delete_own(DeleteComment(slug, comment_id, token))
    return Response(status_code=204)


@public_router.post(
    "/api/articles/{slug}/comments/{comment_id:comment_id}/votes",
    response_model=VoteOut,
    responses={
        404: {"description": "The article has no public comment with this id"},
        409: {"description": "Comments are closed"},
    },
)
async def vote_for_comment(
    slug: Slug, comment_id: CommentId, vote: VoteCreate, service: Service, client: Client
) -> VoteOut:
    """A reader's vote: one per comment for each of the reader's client (an IPv6 /64 is one),
    voter cookie and email address; a second one is answered with `counted: false`."""
    voted = await service.vote(
        VoteForComment(slug, comment_id, client, voter=vote.voter, email=vote.email)
    )
    return VoteOut(votes=voted.votes, counted=voted.counted)


@public_router.get(
    "/api/articles/{slug}/comments/{comment_id:comment_id}",
    response_model=LocatedCommentOut,
    responses={404: {"description": "The article has no public comment with this id"}},
)
async def get_comment(
    slug: Slug,
    comment_id: CommentId,
    queries: Queries,
    avatars: AvatarsDep,
    sort: Sort = "oldest",
    limit: Annotated[
        int, Query(ge=1, le=THREAD_PAGE_MAX, description="The page size of `cpage`")
    ] = 50,
) -> LocatedCommentOut:
    """One public comment, wherever it is in the thread, and a page of `limit` comments that
    holds it: the one beginning with its top-level comment if it is on it, else with its
    parent, else with the comment itself."""
    located = await queries.comment(slug, comment_id, sort=sort, limit=limit)
    out = comment_out(located.item.comment, located.item.in_reply_to, avatars)
    return LocatedCommentOut(
        **out.model_dump(), body_markdown=located.item.comment.body_markdown, cpage=located.cursor
    )


@public_router.get(
    "/api/my-data/comments",
    response_model=CommentsExport,
    responses=raises(Forbidden),
    tags=["my-data"],
)
async def export_reader_comments(
    reader_data: ReaderDataDep,
    grant: Annotated[str, Header(alias="X-Data-Grant", max_length=500)],
) -> CommentsExport:
    """Every comment of the address a data grant names (issued by notifications for a my-data
    link, five minutes): the gateway gathers a reader's download with it."""
    return CommentsExport(comments=[CommentExport(**c) for c in await reader_data.export(grant)])


@public_router.get(
    "/api/articles/{slug}/comments/feed.xml",
    response_class=Response,
    summary="Atom feed of an article's latest public comments",
    responses={
        200: {"content": {"application/atom+xml": {}}},
        404: {"description": "Unknown article"},
    },
)
async def comments_feed_xml(slug: Slug, queries: Queries, request: Request) -> Response:
    article, comments = await queries.article_recent(slug, FEED_SIZE)
    settings: Settings = request.app.state.settings
    return Response(
        comments_feed(article, comments, settings.public_base_url),
        media_type="application/atom+xml",
        headers={"Cache-Control": "public, max-age=60"},
    )


@public_router.get("/api/articles/{slug}/comments/count", response_model=CountOut)
async def count_comments(slug: Slug, queries: Queries) -> CountOut:
    article, count = await queries.count(slug)
    return CountOut(article_slug=article.slug, count=count)


@public_router.get(
    "/api/articles/{slug}/comments/wordpress/{wordpress_id}",
    response_model=WordPressCommentOut,
    responses={404: {"description": "No public comment of the article has this WordPress id"}},
)
async def wordpress_comment(
    slug: Slug,
    wordpress_id: Annotated[int, Path(ge=1, le=2**53)],
    queries: Queries,
    sort: Sort = "oldest",
) -> WordPressCommentOut:
    anchor = await queries.wordpress_comment(slug, wordpress_id, sort=sort)
    return WordPressCommentOut(id=anchor.comment_id, cpage=anchor.cursor)


@public_router.get("/api/comments/counts", response_model=CountsOut)
async def count_many(
    queries: Queries,
    article: Annotated[list[str], Query(max_length=100)] = [],  # noqa: B006
) -> CountsOut:
    slugs = [slug for slug in article if 0 < len(slug) <= 200]
    return CountsOut(counts=await queries.counts(slugs))


@public_router.get("/api/comments/recent", response_model=RecentOut)
async def recent_comments(
    queries: Queries, limit: Annotated[int, Query(ge=1, le=50)] = 10
) -> RecentOut:
    entries = await queries.recent(limit)
    return RecentOut(
        items=[
            RecentComment(
                id=entry.comment.id,
                article=RecentArticle(
                    slug=entry.article.slug,
                    title=entry.article.title,
                    url_path=entry.article.url_path,
                ),
                author_name=entry.comment.author_name,
                excerpt=entry.comment.excerpt,
                created_at=entry.comment.created_at,
                url_path=f"{entry.article.url_path}#comment-{entry.comment.id}",
            )
            for entry in entries
        ]
    )


# --- staff ------------------------------------------------------------------------------------


@staff_router.get("", response_model=QueueOut)
async def moderation_queue(
    _: ModeratorPrincipal,
    queries: Queries,
    status: Status = "pending",
    order: Annotated[
        QueueOrder, Query(description="Newest comments first (the default) or oldest first.")
    ] = "newest",
    cursor: Annotated[str | None, Query(pattern=QUEUE_CURSOR_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> QueueOut:
    found, next_cursor = await queries.queue(status, cursor, limit, oldest_first=order == "oldest")
    return QueueOut(items=[queue_comment(entry) for entry in found], next_cursor=next_cursor)


@staff_router.get("/count", response_model=StatusCountOut)
async def count_by_status(
    _: StaffPrincipal, queries: Queries, status: Status = "pending"
) -> StatusCountOut:
    """How many comments have a status: any staff may read it (editors' dashboards show the
    queue's size); it names no one."""
    return StatusCountOut(status=status, count=await queries.status_count(status))


@staff_router.get("/search", response_model=QueueOut)
async def find_by_author(
    _: ModeratorPrincipal,
    queries: Queries,
    kind: Annotated[
        BanKind, Query(description="Look the author up by email or by client address.")
    ],
    value: Annotated[str, Query(min_length=1, max_length=320)],
    cursor: Annotated[str | None, Query(pattern=QUEUE_CURSOR_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> QueueOut:
    """An author's comments across articles, whatever their status, newest first."""
    found, next_cursor = await queries.by_author(kind, value, cursor, limit)
    return QueueOut(items=[queue_comment(entry) for entry in found], next_cursor=next_cursor)


@staff_router.post("/moderate", response_model=BulkModerationOut)
async def moderate_several(
    body: BulkModeration, moderator: ModeratorPrincipal, service: Service
) -> BulkModerationOut:
    """One action on several comments; each is answered on its own (a refusal, such as a
    comment already decided otherwise, does not stop the others)."""
    outcomes = await service.moderate_many(
        ModerateComments(tuple(body.ids), body.action), moderator
    )
    return BulkModerationOut(
        items=[
            BulkOutcome(
                id=outcome.comment_id,
                status=outcome.comment.status if outcome.comment else None,
                refused=outcome.refused,
            )
            for outcome in outcomes
        ]
    )


async def _moderate(
    service: CommentsService, comment_id: str, action: ModerationAction, moderator: Principal
) -> StaffComment:
    return staff_comment(await service.moderate(ModerateComment(comment_id, action), moderator))


@staff_router.post(
    "/{comment_id:comment_id}/approve", response_model=StaffComment, responses=raises(Conflict)
)
async def approve_comment(
    comment_id: CommentId, moderator: ModeratorPrincipal, service: Service
) -> StaffComment:
    return await _moderate(service, comment_id, "approve", moderator)


@staff_router.post(
    "/{comment_id:comment_id}/reject", response_model=StaffComment, responses=raises(Conflict)
)
async def reject_comment(
    comment_id: CommentId, moderator: ModeratorPrincipal, service: Service
) -> StaffComment:
    return await _moderate(service, comment_id, "reject", moderator)


@staff_router.post(
    "/{comment_id:comment_id}/spam", response_model=StaffComment, responses=raises(Conflict)
)
async def spam_comment(
    comment_id: CommentId, moderator: ModeratorPrincipal, service: Service
) -> StaffComment:
    return await _moderate(service, comment_id, "spam", moderator)


@staff_router.delete("/{comment_id:comment_id}", status_code=204, responses=raises(Conflict))
async def staff_delete_comment(
    comment_id: CommentId, moderator: ModeratorPrincipal, service: Service
) -> Response:
    await service.moderate(ModerateComment(comment_id, "delete"), moderator)
    return Response(status_code=204)


@staff_router.get("/bans", response_model=BansOut)
async def list_bans(_: ModeratorPrincipal, service: Service) -> BansOut:
    return BansOut(items=[ban_out(ban) for ban in await service.bans()])


@staff_router.post("/bans", status_code=201, response_model=BanOut)
async def create_ban(ban: BanCreate, principal: ModeratorPrincipal, service: Service) -> BanOut:
    created = await service.ban(
        BanAuthor(
            kind=ban.kind,
            value=ban.value,
            duration=timedelta(minutes=ban.duration_minutes),
            reason=ban.reason,
            by=principal.subject,
        ),
        principal,
    )
    return ban_out(created)


@staff_router.delete("/bans/{ban_id}", status_code=204)
async def delete_ban(
    ban_id: Annotated[str, Path(min_length=1, max_length=400)],
    moderator: ModeratorPrincipal,
    service: Service,
) -> Response:
    await service.lift_ban(LiftBan(ban_id), moderator)
    return Response(status_code=204)
