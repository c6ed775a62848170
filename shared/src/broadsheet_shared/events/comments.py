"""Events published by the comments service on the ``broadsheet.comments`` topic.

A comment that is approved on posting gets both ``comment.posted`` (status ``approved``) and
``comment.approved``; one held for moderation gets ``comment.approved`` when a moderator approves
it. Readers of public comments (notifications, live updates) listen to ``comment.approved`` only.

An imported comment (``broadsheet-import``) gets ``comment.imported`` alone, approved or pending:
no subscription comes from it, no mail and no live update, since it is the site's history and not
something that happened now. Approving an imported pending comment later is an ordinary approval.

The commenter's email travels only in ``comment.posted`` with ``notify_replies`` set, which is
how the notifications service learns whom to email. Elsewhere an ``author_email_hash`` lets it
recognise self-replies without seeing the address: it is the
:class:`~broadsheet_shared.addresses.AddressDigest` of the address, a keyed digest that only a
holder of the platform's address digest key can compute, so a reader of the events (or of a link
carrying the digest) cannot confirm an address by hashing a guess.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import EmailStr, Field, model_validator

from broadsheet_shared.events import topics
from broadsheet_shared.events.base import EventData, IntegrationEvent

# Added to version 1 of the rejected, edited and deleted events after it shipped (optional, so no
# breaking change): live pages are open by slug, and the gateway pushes these changes to them.
LateSlug = Annotated[
    str | None, Field(description="The article's slug when the comment changed (if known)")
]

CommentStatus = Literal["approved", "pending", "spam"]


AuthorDigest = Annotated[
    str | None,
    Field(
        description="The author's address digest (HMAC-SHA256 of the normalized address under "
        "the platform's ADDRESS_DIGEST_KEY, hex): compare it only with the digest of an address"
    ),
]


class CommentPostedData(EventData):
    comment_id: str
    article_id: str
    article_slug: str
    parent_id: str | None
    author_name: str
    status: CommentStatus
    created_at: datetime
    notify_replies: bool = False
    author_email: EmailStr | None = None
    author_email_hash: AuthorDigest = None

    @model_validator(mode="after")
    def _email_only_for_notifications(self) -> CommentPostedData:
        if self.author_email is not None and not self.notify_replies:
            raise ValueError("author_email travels only with notify_replies")
        return self


class CommentApprovedData(EventData):
    comment_id: str
    article_id: str
    article_slug: str
    article_title: str
    article_url_path: str
    parent_id: str | None
    parent_author_name: str | None = None
    author_name: str
    author_email_hash: AuthorDigest = None
    excerpt: str
    body_html: str = ""
    # How deep the comments service shows the comment (it owns the rule: deeper replies are
    # shown at the deepest level), and whom it answers when that depth hides it.
    depth: int = 0
    in_reply_to: str | None = None
    created_at: datetime
    approved_at: datetime
    # Added to version 1 after it shipped (optional, so no breaking change): live pages draw
    # the author's avatar from it as the thread page does.
    author_avatar: str | None = Field(
        default=None,
        description="The seed of the author's generated avatar (a keyed digest, 16 hex digits)",
    )


class CommentRejectedData(EventData):
    comment_id: str
    article_id: str
    parent_id: str | None
    reason: Literal["rejected", "spam"]
    article_slug: LateSlug = None


class CommentEditedData(EventData):
    comment_id: str
    article_id: str
    excerpt: str
    body_html: str = ""
    edited_at: datetime
    article_slug: LateSlug = None


class CommentDeletedData(EventData):
    comment_id: str
    article_id: str
    article_slug: LateSlug = None


class CommentImportedData(EventData):
    """A comment brought over from another site (a WordPress import): history, not news."""

    comment_id: str
    article_id: str
    article_slug: str
    parent_id: str | None
    status: Literal["approved", "pending"]
    created_at: datetime
    wordpress_id: int


class _CommentEvent(IntegrationEvent):
    TOPIC: ClassVar[str] = topics.COMMENTS
    source: str = "comments"

    def article_key(self) -> str:
        article_id: str = self.data.article_id  # type: ignore[attr-defined]
        return article_id


class CommentPostedV1(_CommentEvent):
    type: Literal["comment.posted"] = "comment.posted"
    version: Literal[1] = 1
    data: CommentPostedData


class CommentApprovedV1(_CommentEvent):
    type: Literal["comment.approved"] = "comment.approved"
    version: Literal[1] = 1
    data: CommentApprovedData


class CommentRejectedV1(_CommentEvent):
    type: Literal["comment.rejected"] = "comment.rejected"
    version: Literal[1] = 1
    data: CommentRejectedData


class CommentEditedV1(_CommentEvent):
    type: Literal["comment.edited"] = "comment.edited"
    version: Literal[1] = 1
    data: CommentEditedData


class CommentDeletedV1(_CommentEvent):
    type: Literal["comment.deleted"] = "comment.deleted"
    version: Literal[1] = 1
    data: CommentDeletedData


class CommentImportedV1(_CommentEvent):
    type: Literal["comment.imported"] = "comment.imported"
    version: Literal[1] = 1
    data: CommentImportedData
