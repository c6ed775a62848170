"""Atom feeds of the latest published articles: the whole site's, each section's, each tag's
and each author's."""

from __future__ import annotations

from urllib.parse import quote

from feedgen.feed import FeedGenerator  # type: ignore[import-untyped]

from broadsheet_articles.domain import Article, author_slug, url_path
from broadsheet_articles.service import ArticleService, SectionService
from broadsheet_shared.errors import NotFound


def atom_feed(
    *, title: str, subtitle: str, self_path: str, articles: list[Article], base_url: str
) -> bytes:
    """An Atom document; links are absolute under ``base_url`` (the public site)."""
    base = base_url.rstrip("/")
    feed = FeedGenerator()
    feed.id(f"{base}{self_path}")
    feed.title(title)
    feed.subtitle(subtitle)
    feed.link(href=f"{base}{self_path}", rel="self")
    feed.link(href=f"{base}/", rel="alternate")
    feed.language("en")
    latest = max((a.updated_at for a in articles), default=None)
    if latest is not None:
        feed.updated(latest)
    for article in articles:
        entry = feed.add_entry(order="append")
        entry.id(f"urn:uuid:{article.id}")
        entry.title(article.title)
        entry.link(href=f"{base}{url_path(article.slug)}")
        entry.published(article.published_at)
        entry.updated(article.updated_at)
        if article.summary:
            entry.summary(article.summary)
        for author in article.authors:
            entry.author({"name": author})
        entry.category(term=article.section.slug, label=article.section.name)
    xml: bytes = feed.atom_str(pretty=False)
    return xml


class Feeds:
    """The feeds' use cases: the latest ``size`` published articles, as Atom."""

    def __init__(
        self, articles: ArticleService, sections: SectionService, *, size: int, base_url: str
    ) -> None:
        self._articles = articles
        self._sections = sections
        self._size = size
        self._base_url = base_url

    async def site(self) -> bytes:
        items = await self._articles.list_public(
            section=None, tag=None, after=None, limit=self._size
        )
        return atom_feed(
            title="Broadsheet",
            subtitle="Latest articles",
            self_path="/feed.xml",
            articles=items,
            base_url=self._base_url,
        )

    async def section(self, slug: str) -> bytes:
        section = await self._sections.get(slug)
        items = await self._articles.list_public(
            section=section.slug, tag=None, after=None, limit=self._size
        )
        return atom_feed(
            title=f"Broadsheet: {section.name}",
            subtitle=f"Latest in {section.name}",
            self_path=f"/sections/{section.slug}/feed.xml",
            articles=items,
            base_url=self._base_url,
        )

    async def tag(self, tag: str) -> bytes:
        items = await self._articles.list_public(
            section=None, tag=tag, after=None, limit=self._size
        )
        if not items:
            raise NotFound("No article has this tag.")
        wanted = tag.strip().lower()
        return atom_feed(
            title=f"Broadsheet: {wanted}",
            subtitle=f"Latest articles tagged {wanted}",
            self_path=f"/tags/{quote(wanted, safe='')}/feed.xml",
            articles=items,
            base_url=self._base_url,
        )

    async def author(self, slug: str) -> bytes:
        items = await self._articles.list_public(
            section=None, tag=None, after=None, limit=self._size, author=slug
        )
        name = next((n for a in items for n in a.authors if author_slug(n) == slug), None)
        if name is None:
            raise NotFound("No article is by this author.")
        return atom_feed(
            title=f"Broadsheet: {name}",
            subtitle=f"Latest articles by {name}",
            self_path=f"/authors/{slug}/feed.xml",
            articles=items,
            base_url=self._base_url,
        )
