"""Comment text to safe HTML: a Markdown subset rendered by markdown-it-py, then sanitized by nh3.

Two layers on purpose: the renderer never emits raw HTML (``html`` is off and dangerous link
schemes are refused), and the sanitizer's allow-list removes whatever a renderer bug lets
through. Author names are plain text: tags and angle brackets are stripped, so no renderer that
forgets to escape can turn one into markup, and so are invisible format characters (below).
"""

from __future__ import annotations

import html
import re
import unicodedata

import nh3
from markdown_it import MarkdownIt

from broadsheet_shared.http.html import FORBIDDEN_IN_HTML

ALLOWED_TAGS = frozenset(
    {"p", "br", "em", "strong", "a", "code", "pre", "blockquote", "ul", "ol", "li", "s", "del"}
)
# "*" overrides ammonia's default generic attributes (lang, title): nothing beyond href.
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href"}, "*": set()}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow ugc noopener"

_markdown = (
    MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
    .enable("strikethrough")
    # Headings, images, rules and tables do not belong in a comment.
    .disable(["heading", "lheading", "image", "hr"])
)

# What a page cannot carry (controls other than tab and newlines, C1 among them, and the
# noncharacters), and form feed, which the feeds' XML cannot either: one rule with the pages'.
_CONTROL = re.compile(f"[{FORBIDDEN_IN_HTML}\\x0c]")


def sanitize_html(fragment: str) -> str:
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


def render_body(markdown: str) -> str:
    return sanitize_html(_markdown.render(clean_text(markdown))).strip()


def clean_text(text: str) -> str:
    """NFC, no control characters other than newlines and tabs and no noncharacters, Windows
    newlines unified."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _CONTROL.sub("", text)


def without_format_characters(text: str) -> str:
    """``text`` without Unicode format characters (category Cf): the bidi controls (U+202A-E,
    U+2066-9, U+200E/F, U+061C), the zero-width ones (U+200B-D, U+2060, U+FEFF), soft hyphens
    and tag characters. Invisible, they let one name pass for another ("Ad\u200bmin") or turn
    the text after it around (U+202E).

    Stripped rather than refused: imported names from the old site must still import, and a
    reader's name loses nothing they can see (ZWNJ and ZWJ only change how letters join or an
    emoji sequence combines)."""
    return "".join(char for char in text if unicodedata.category(char) != "Cf")


def plain_name(name: str) -> str:
    """An author name as plain text: no tags, no angle brackets, no invisible format
    characters, whitespace collapsed. The one rule for every name that enters (a new comment,
    an imported one)."""
    stripped = html.unescape(nh3.clean(clean_text(name), tags=set()))
    stripped = without_format_characters(stripped.replace("<", "").replace(">", ""))
    return " ".join(stripped.split())
