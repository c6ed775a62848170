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
    "edited": "Your comment has been updated.",
    "edit-pending": "Your edited comment is awaiting moderation.",
    "deleted": "Your comment has been deleted.",
    "voted": "Thank you, your vote has been counted.",
    "already-voted": "You have already voted for this comment.",
    # The same words whatever the address's state: the page must tell nobody anything about it.
    "following": "Check your inbox: nothing is sent about this article until you confirm it by "
    "the link we email (a few emails a day at most). If no new email arrives, the link in an "
    "earlier confirmation email from us lists this request too.",
    # The same words whatever the address: whether we know it is nobody's business.
    "manage_link_sent": "Check your inbox: if this address gets email from us, a link to manage "
    "it is on its way (a few emails a day at most). The link works for a few days.",
    # The same words whatever the address, as for the manage link.
    "data_link_sent": "Check your inbox: if we may email this address, a link to its data is on "
    "its way (a few emails a day at most). The link works for a few days.",
    "data_erased": "Done: everything we held about that address is erased. Its comments now read "
    "“[deleted]”, and it cannot be subscribed to anything again.",
    "unsubscribed": "Done: you will not get these emails any more.",
    "unsubscribed_all": "Done: we will not email this address any more, unless you subscribe "
    "again and confirm it.",
}


def notice_for(code: str | None) -> str | None:
    return NOTICES.get(code) if code else None


ERROR_TITLES: Mapping[int, str] = {
    403: "Not yours to change",
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
        "nothing": "Nothing is waiting to be confirmed through this link.",
        "later": "Also asked for since that email was sent. Confirm each only if you asked for "
        "it yourself:",
        "later_button": "Confirm this one",
    },
    "unsubscribe": {
        "heading": "Unsubscribe",
        "message": "Press the button to stop these emails.",
        "button": "Unsubscribe",
        "done": "You are unsubscribed. You will not get these emails any more.",
    },
}
