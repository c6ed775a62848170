"""The reader site's words that depend on what happened: headings, notices, error titles and
the subscription pages' texts (the rest of the words are in the templates)."""

from __future__ import annotations

from collections.abc import Mapping


def comments_heading(total: int) -> str:
    if total == 0:
        return "No Comments on this post"
    if total == 1:
        return "1 Comment on this post"
    return f"{total} Comments on this post"


# Shown on the page a form post redirects to, by the ``notice`` code in its query.
NOTICES: Mapping[str, str] = {
    "pending": "Your comment is awaiting moderation.",
    "approved": "Thank you, your comment has been published.",
    "spam": "Your comment is awaiting moderation.",
    "following": "Check your inbox: we sent you a link to confirm that you follow this article.",
    "subscribed": "You already follow this article.",
}


def notice_for(code: str | None) -> str | None:
    return NOTICES.get(code) if code else None


ERROR_TITLES: Mapping[int, str] = {
    404: "Not found",
    429: "Slow down",
    503: "Unavailable",
    504: "Unavailable",
}


def error_title(status: int) -> str:
    return ERROR_TITLES.get(status, "Sorry")


SUBSCRIPTION_PAGES: Mapping[str, Mapping[str, str]] = {
    "confirm": {
        "heading": "Confirm your subscription",
        "message": "Press the button to confirm that you want these emails.",
        "button": "Confirm",
        "done": "Thank you: your subscription is confirmed.",
    },
    "unsubscribe": {
        "heading": "Unsubscribe",
        "message": "Press the button to stop these emails.",
        "button": "Unsubscribe",
        "done": "You are unsubscribed. You will not get these emails any more.",
    },
}
