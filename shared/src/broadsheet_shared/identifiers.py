"""The shapes of what the services hand out and take back in URLs: slugs, ids, cursors.

One place, so that every service's OpenAPI document (and the gateway's pages that pass them on)
states the same pattern the code checks: a request the schema allows is never refused for the
shape of one of these.
"""

from __future__ import annotations

from email_validator import SPECIAL_USE_DOMAIN_NAMES

SLUG_MAX_LENGTH = 120
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# Article and editor ids (uuid4).
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# Comment ids (MongoDB ObjectIds).
OBJECT_ID_PATTERN = r"^[0-9a-f]{24}$"
# Notification deliveries: a digest of (event, recipient).
DIGEST_PATTERN = r"^[0-9a-f]{32}$"
# Subscriptions (and requests for one): the kind, then a digest of (kind, target, recipient).
SUBSCRIPTION_ID_PATTERN = r"^(reply|follow)-[0-9a-f]{32}$"
# Signed links (itsdangerous, URL-safe: base64url parts joined by dots, a leading dot when
# compressed). Whether the signature holds no pattern can say: a forged one is refused (400).
SIGNED_LINK_PATTERN = r"^[A-Za-z0-9_.-]{1,512}$"

# The public article list continues after (published_at in microseconds since the epoch,
# article id). Any such pair is a position in the list, so every cursor of this shape is valid.
ARTICLE_CURSOR_PATTERN = r"^([0-9]{1,16})\.([A-Za-z0-9_-]{1,64})$"
# The audit log continues after (an entry's time in microseconds since the epoch, its id: the
# uuid of the event that recorded it), in the same form.
AUDIT_CURSOR_PATTERN = r"^([0-9]{1,16})\.([0-9a-f-]{36})$"
# A thread page continues after a comment's sort key (``p.`` and the base-36 path, one 7-digit
# root then 5 digits a level, as many as fit in 200 characters, ``~`` for after its replies) or,
# when that key would be too long for a URL, after the comment itself (``c.`` and its id); the
# Best order continues after (its top-level comment's votes, then the comment's path): ``b.``.
_THREAD_KEY = r"[0-9a-z]{7}(?:[0-9a-z]{5}){0,38}~?"
THREAD_CURSOR_PATTERN = (
    rf"^(?:p\.({_THREAD_KEY})|c\.([0-9a-f]{{24}})|b\.([0-9]{{1,9}})\.({_THREAD_KEY}))$"
)
# The largest page of a thread the comments API answers, and so the largest page of comments
# the gateway may ask for (its ``GATEWAY_COMMENTS_PAGE_SIZE``).
THREAD_PAGE_MAX = 200
# The moderation queue continues after a comment's sort key (time, then id).
QUEUE_CURSOR_PATTERN = r"^[0-9]{14}:[0-9a-f]{24}$"

# What email-validator refuses however an address is written, stated in the schema so that a
# schema-valid address is never refused: a domain without a dot or whose last label is not
# letters (or punycode): "0@00" (the contract run found it), "a@0.00", "a@b.c1"; and the RFC
# 6761 special-use names.
EMAIL_DOMAIN_PATTERN = (
    r"^(?=[^@]+@[^@]+\.(?:[^\W\d_](?:[^\W\d_]|-)*|xn--[A-Za-z0-9-]+)$)"
    r"(?!.*[@.](?:" + "|".join(sorted(SPECIAL_USE_DOMAIN_NAMES)) + r")\.?$)"
)
