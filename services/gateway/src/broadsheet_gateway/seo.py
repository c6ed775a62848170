"""What search engines and social cards read in a page's ``<head>``: the description, the
canonical address, and the schema.org JSON-LD (``NewsArticle`` on an article, ``Organization``
and ``WebSite`` on the front page). Presentation only: every fact comes from the services'
answers; absolute URLs are made from the public address (``PUBLIC_BASE_URL``), never from a
request's Host header, which a client can set.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

import nh3

SITE_NAME = "Broadsheet"
SITE_DESCRIPTION = "Broadsheet: the latest news by section, with readers' comments."
# Search engines show about this much of a description.
DESCRIPTION_LENGTH = 160
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class PageMeta:
    """A page's ``<head>`` facts (``base.html`` renders them)."""

    title: str
    description: str
    canonical: str | None  # None: a page for one reader (a mailed link), kept out of indexes
    og_type: str = "website"
    image: str | None = None
    jsonld: list[dict[str, Any]] = field(default_factory=list)


def absolute(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def describe(text: str) -> str:
    """Plain text of at most ``DESCRIPTION_LENGTH`` characters, cut at a word."""
    plain = _SPACES.sub(" ", html.unescape(nh3.clean(text, tags=set()))).strip()
    if len(plain) <= DESCRIPTION_LENGTH:
        return plain
    cut = plain[: DESCRIPTION_LENGTH - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.") + "…"


def _organization(base_url: str) -> dict[str, Any]:
    return {
        "@type": "Organization",
        "name": SITE_NAME,
        "url": absolute(base_url, "/"),
        "logo": absolute(base_url, "/static/favicon.svg"),
    }


def front_meta(base_url: str) -> PageMeta:
    return PageMeta(
        title=SITE_NAME,
        description=SITE_DESCRIPTION,
        canonical=absolute(base_url, "/"),
        jsonld=[
            {"@context": "https://schema.org", **_organization(base_url)},
            {
                "@context": "https://schema.org",
                "@type": "WebSite",
                "name": SITE_NAME,
                "url": absolute(base_url, "/"),
                "description": SITE_DESCRIPTION,
            },
        ],
    )


def listing_meta(base_url: str, *, title: str, description: str, path: str) -> PageMeta:
    return PageMeta(title=title, description=description, canonical=absolute(base_url, path))


def article_meta(base_url: str, article: dict[str, Any], comment_count: int, path: str) -> PageMeta:
    """``path``: the page's own address (a later comment page is a page of its own)."""
    slug = str(article.get("slug", ""))
    url = absolute(base_url, f"/articles/{slug}")
    description = describe(str(article.get("summary") or article.get("body_html") or ""))
    image = article.get("hero_image_url") or None
    section = article.get("section") or {}
    news: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": str(article.get("title", ""))[:110],
        "description": description,
        "mainEntityOfPage": url,
        "url": url,
        "datePublished": article.get("published_at"),
        "dateModified": article.get("updated_at") or article.get("published_at"),
        "author": [
            {"@type": "Person", "name": name, "url": absolute(base_url, f"/authors/{slug}")}
            for name, slug in zip(
                article.get("authors") or [], article.get("author_slugs") or [], strict=False
            )
        ],
        "articleSection": section.get("name"),
        "keywords": list(article.get("tags") or []),
        "commentCount": comment_count,
        "publisher": _organization(base_url),
    }
    if image:
        news["image"] = [image]
    return PageMeta(
        title=f"{article.get('title', '')} · {SITE_NAME}",
        description=description,
        canonical=absolute(base_url, path),
        og_type="article",
        image=image,
        jsonld=[news],
    )
