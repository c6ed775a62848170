"""The seed of each author's generated avatar: a keyed digest of their address.

The reader site draws an identicon from it (``broadsheet_gateway.avatars``), so one author's
comments look alike, made locally with no request to a third party. Keyed (HMAC-SHA256 under
``COMMENTS_AVATAR_KEY``, a key of its own): a reader of the page cannot confirm a guessed address
by hashing it, as they could with a plain hash (Gravatar's) or with the address digest the
services share in events. An author with no address (an imported comment) is seeded by name.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from broadsheet_comments.domain import Comment
from broadsheet_shared.addresses import normalize_email

SEED_HEX_DIGITS = 16  # 64 bits: plenty to tell authors apart, little to work on


@dataclass(frozen=True)
class Avatars:
    key: bytes = field(repr=False)

    def seed(self, comment: Comment) -> str:
        source = (
            f"email:{normalize_email(comment.author_email)}"
            if comment.author_email
            else f"name:{comment.author_name}"
        )
        digest = hmac.new(self.key, source.encode(), hashlib.sha256).hexdigest()
        return digest[:SEED_HEX_DIGITS]
