"""What the fault scenarios of this folder share: waiting for a condition, and the reader's
comment that makes the notifications service send one mail."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

from broadsheet_shared.events import CommentPostedData, CommentPostedV1
from broadsheet_shared.testing import DEV_DIGEST


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def reply_request(article_id: str, email: str) -> CommentPostedV1:
    """A reader's comment asking for replies: one confirmation mail is due to ``email``."""
    comment_id = f"c-{secrets.token_hex(4)}"
    return CommentPostedV1(
        subject=comment_id,
        data=CommentPostedData(
            comment_id=comment_id,
            article_id=article_id,
            article_slug="story",
            parent_id=None,
            author_name="Reader",
            status="approved",
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            notify_replies=True,
            author_email=email,
            author_email_hash=DEV_DIGEST(email),
        ),
    )
