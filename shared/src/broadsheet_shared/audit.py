"""The audit log's vocabulary: every staff action has one name, defined here.

The service that owns an action records it with :func:`recorded` in the unit of work of the
action itself (``tx.emit``), so the entry commits with the change or not at all; the articles
service keeps the readable log (``GET /api/editor/audit``). The table of names is in
docs/security.md ("The audit log").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from broadsheet_shared.auth import Principal
from broadsheet_shared.events.staff import StaffActionData, StaffActionRecordedV1


class StaffAction(StrEnum):
    """What staff did, as ``<thing>.<past tense>``."""

    # articles
    ARTICLE_CREATED = "article.created"
    ARTICLE_EDITED = "article.edited"
    ARTICLE_DELETED = "article.deleted"
    ARTICLE_PUBLISHED = "article.published"
    ARTICLE_SCHEDULED = "article.scheduled"
    ARTICLE_UNPUBLISHED = "article.unpublished"
    SECTION_CREATED = "section.created"
    SECTION_RENAMED = "section.renamed"
    SECTION_DELETED = "section.deleted"
    SECTIONS_REORDERED = "sections.reordered"
    STAFF_CREATED = "staff.created"
    STAFF_RENAMED = "staff.renamed"
    STAFF_ROLE_CHANGED = "staff.role_changed"
    STAFF_DISABLED = "staff.disabled"
    STAFF_ENABLED = "staff.enabled"
    STAFF_PASSWORD_SET = "staff.password_set"  # noqa: S105 - an action's name, not a secret
    STAFF_PASSWORD_LINK_SENT = "staff.password_link_sent"  # noqa: S105 - an action's name
    STAFF_PASSWORD_LINK_USED = "staff.password_link_used"  # noqa: S105 - an action's name
    STAFF_SIGNED_IN = "staff.signed_in"
    STAFF_SIGN_IN_FAILED = "staff.sign_in_failed"
    # comments
    COMMENT_APPROVED = "comment.approved"
    COMMENT_REJECTED = "comment.rejected"
    COMMENT_MARKED_SPAM = "comment.marked_spam"
    COMMENT_DELETED = "comment.deleted"
    BAN_CREATED = "ban.created"
    BAN_LIFTED = "ban.lifted"
    # notifications
    ADDRESS_SUPPRESSED = "address.suppressed"
    DELIVERY_RETRIED = "delivery.retried"


def recorded(
    actor: Principal,
    action: StaffAction,
    target: str,
    *,
    source: str,
    at: datetime,
    details: Mapping[str, str] | None = None,
) -> StaffActionRecordedV1:
    """The audit entry of ``actor`` doing ``action`` to ``target`` (an id, a slug, an address
    hash) from ``actor.client``; keyed by the actor's id so one person's entries stay in order."""
    return StaffActionRecordedV1(
        source=source,
        subject=actor.subject,
        data=StaffActionData(
            actor_id=actor.subject,
            actor_name=actor.name,
            actor_role=actor.role,
            action=action.value,
            target=target,
            details=dict(details or {}),
            client=actor.client,
            at=at,
        ),
    )


def sign_in_failed(username: str, client: str, *, at: datetime) -> StaffActionRecordedV1:
    """A refused sign-in: no actor id (nobody proved who they are), the username they tried."""
    return StaffActionRecordedV1(
        source="articles",
        subject=username,
        data=StaffActionData(
            actor_id=None,
            actor_name=username,
            actor_role=None,
            action=StaffAction.STAFF_SIGN_IN_FAILED.value,
            target=username,
            client=client,
            at=at,
        ),
    )
