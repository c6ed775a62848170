"""The integration events this service emits, built from the domain's comments and articles."""

from __future__ import annotations

from datetime import datetime

from broadsheet_comments.domain import Article, Comment, Status
from broadsheet_shared.events import (
    CommentApprovedData,
    CommentApprovedV1,
    CommentDeletedData,
    CommentDeletedV1,
    CommentEditedData,
    CommentEditedV1,
    CommentImportedData,
    CommentImportedV1,
    CommentPostedData,
    CommentPostedV1,
    CommentRejectedData,
    CommentRejectedV1,
)
from broadsheet_shared.events.comments import CommentStatus


def _posted_status(status: Status) -> CommentStatus:
    if status == "approved" or status == "spam":
        return status
    return "pending"


def posted_event(article: Article, comment: Comment) -> CommentPostedV1:
    return CommentPostedV1(
        subject=comment.id,
        data=CommentPostedData(
            comment_id=comment.id,
            article_id=article.article_id,
            article_slug=article.slug,
            parent_id=comment.parent_id,
            author_name=comment.author_name,
            status=_posted_status(comment.status),
            created_at=comment.created_at,
            notify_replies=comment.notify_replies,
            # The address travels only to the service that emails replies, and only if asked.
            author_email=comment.author_email if comment.notify_replies else None,
            author_email_hash=comment.author_email_hash,
        ),
    )


def approved_event(article: Article, comment: Comment, avatar: str) -> CommentApprovedV1:
    return CommentApprovedV1(
        subject=comment.id,
        data=CommentApprovedData(
            comment_id=comment.id,
            article_id=article.article_id,
            article_slug=article.slug,
            article_title=article.title,
            article_url_path=article.url_path,
            parent_id=comment.parent_id,
            parent_author_name=comment.parent_author_name,
            author_name=comment.author_name,
            author_email_hash=comment.author_email_hash,
            excerpt=comment.excerpt,
            body_html=comment.body_html,
            # Shown as the thread page shows it: live pages need not know the depth rule.
            depth=comment.display_depth,
            in_reply_to=comment.in_reply_to,
            created_at=comment.created_at,
            approved_at=comment.approved_at or comment.created_at,
            author_avatar=avatar,
        ),
    )


def edited_event(
    comment: Comment, slug: str, edited_at: datetime, *, held: bool
) -> CommentEditedV1:
    return CommentEditedV1(
        subject=comment.id,
        data=CommentEditedData(
            comment_id=comment.id,
            article_id=comment.article_id,
            # A held edit's text is not public: consumers get no copy of it.
            excerpt="" if held else comment.excerpt,
            body_html="" if held else comment.body_html,
            edited_at=edited_at,
            article_slug=slug,
        ),
    )


def rejected_event(comment: Comment, slug: str | None) -> CommentRejectedV1:
    return CommentRejectedV1(
        subject=comment.id,
        data=CommentRejectedData(
            comment_id=comment.id,
            article_id=comment.article_id,
            parent_id=comment.parent_id,
            reason="spam" if comment.status == "spam" else "rejected",
            article_slug=slug,
        ),
    )


def deleted_event(comment: Comment, slug: str | None) -> CommentDeletedV1:
    return CommentDeletedV1(
        subject=comment.id,
        data=CommentDeletedData(
            comment_id=comment.id, article_id=comment.article_id, article_slug=slug
        ),
    )


def imported_event(article: Article, comment: Comment) -> CommentImportedV1:
    assert comment.wordpress_id is not None, "only imported comments are announced as imported"
    return CommentImportedV1(
        subject=comment.id,
        data=CommentImportedData(
            comment_id=comment.id,
            article_id=article.article_id,
            article_slug=article.slug,
            parent_id=comment.parent_id,
            status="approved" if comment.status == "approved" else "pending",
            created_at=comment.created_at,
            wordpress_id=comment.wordpress_id,
        ),
    )
