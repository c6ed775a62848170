"""Sitemaps for search engines (sitemaps.org 0.9): an index naming the sitemaps of every
published article (at most ``URLS_PER_SITEMAP`` a file) and one of the section and tag pages,
each with its last modification; and a Google News sitemap of the last two days' articles.

The site's whole list is walked once and kept for ``cache_seconds``: crawlers read the index and
then each of its files, which must agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from lxml import etree

from broadsheet_articles.domain import Article, url_path
from broadsheet_articles.service import ArticleService, SectionService
from broadsheet_shared.clock import Clock, utcnow
from broadsheet_shared.errors import NotFound

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
# The protocol's limit per file (and 50 MB, far off at these few fields a URL).
URLS_PER_SITEMAP = 50_000
# Google News reads the last two days, at most 1,000 articles.
NEWS_WINDOW = timedelta(hours=48)
NEWS_LIMIT = 1_000
PUBLICATION_NAME = "Broadsheet"
PUBLICATION_LANGUAGE = "en"
_WALK_PAGE = 500


@dataclass(frozen=True)
class Entry:
    path: str
    lastmod: datetime


@dataclass(frozen=True)
class SiteMap:
    articles: list[Entry]  # newest first
    pages: list[Entry]  # section and tag pages
    latest: datetime | None


def _w3c(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _document(root_tag: str, nsmap: dict[str | None, str]) -> etree._Element:
    return etree.Element(f"{{{SITEMAP_NS}}}{root_tag}", nsmap=nsmap)


def _sub(parent: etree._Element, tag: str, text: str, ns: str = SITEMAP_NS) -> None:
    etree.SubElement(parent, f"{{{ns}}}{tag}").text = text


def _xml(root: etree._Element) -> bytes:
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data


def urlset(base_url: str, entries: Iterable[Entry]) -> bytes:
    root = _document("urlset", {None: SITEMAP_NS})
    for entry in entries:
        url = etree.SubElement(root, f"{{{SITEMAP_NS}}}url")
        _sub(url, "loc", base_url + entry.path)
        _sub(url, "lastmod", _w3c(entry.lastmod))
    return _xml(root)


def sitemap_index(base_url: str, files: Iterable[tuple[str, datetime | None]]) -> bytes:
    root = _document("sitemapindex", {None: SITEMAP_NS})
    for path, lastmod in files:
        sitemap = etree.SubElement(root, f"{{{SITEMAP_NS}}}sitemap")
        _sub(sitemap, "loc", base_url + path)
        if lastmod is not None:
            _sub(sitemap, "lastmod", _w3c(lastmod))
    return _xml(root)


def news_sitemap(base_url: str, articles: Iterable[Article]) -> bytes:
    root = _document("urlset", {None: SITEMAP_NS, "news": NEWS_NS})
    for article in articles:
        if article.published_at is None:
            continue
        url = etree.SubElement(root, f"{{{SITEMAP_NS}}}url")
        _sub(url, "loc", base_url + url_path(article.slug))
        news = etree.SubElement(url, f"{{{NEWS_NS}}}news")
        publication = etree.SubElement(news, f"{{{NEWS_NS}}}publication")
        _sub(publication, "name", PUBLICATION_NAME, NEWS_NS)
        _sub(publication, "language", PUBLICATION_LANGUAGE, NEWS_NS)
        _sub(news, "publication_date", _w3c(article.published_at), NEWS_NS)
        _sub(news, "title", article.title, NEWS_NS)
    return _xml(root)


def site_map(articles: Iterable[Article], section_slugs: Iterable[str]) -> SiteMap:
    """Every published article, and each section's and tag's page, last modified when its
    newest change was (a section with no article yet: left out, its page has nothing new)."""
    entries: list[Entry] = []
    pages: dict[str, datetime] = {}

    def touch(path: str, moment: datetime) -> None:
        if path not in pages or pages[path] < moment:
            pages[path] = moment

    for article in articles:
        entries.append(Entry(url_path(article.slug), article.updated_at))
        touch(f"/sections/{article.section.slug}", article.updated_at)
        for tag in article.tags:
            touch(f"/tags/{quote(tag, safe='')}", article.updated_at)
    known = {f"/sections/{slug}" for slug in section_slugs}
    listed = [Entry(path, moment) for path, moment in pages.items() if path in known]
    listed += [Entry(p, m) for p, m in pages.items() if p.startswith("/tags/")]
    latest = max((e.lastmod for e in entries), default=None)
    return SiteMap(articles=entries, pages=listed, latest=latest)


class Sitemaps:
    """The sitemaps' use cases."""

    def __init__(
        self,
        articles: ArticleService,
        sections: SectionService,
        *,
        base_url: str,
        cache_seconds: float,
        now: Clock = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._articles = articles
        self._sections = sections
        self._base = base_url.rstrip("/")
        self._cache_seconds = cache_seconds
        self._now = now
        self._monotonic = monotonic
        self._cached: tuple[float, SiteMap] | None = None

    async def _published(self, since: datetime | None = None) -> list[Article]:
        found: list[Article] = []
        after = None
        while True:
            page = await self._articles.list_public(
                section=None, tag=None, after=after, limit=_WALK_PAGE
            )
            for article in page:
                if since is not None and (article.published_at or since) < since:
                    return found
                found.append(article)
            if len(page) < _WALK_PAGE:
                return found
            last = page[-1]
            if last.published_at is None:
                return found
            after = (last.published_at, last.id)

    async def _site_map(self) -> SiteMap:
        now = self._monotonic()
        if self._cached is not None and now - self._cached[0] < self._cache_seconds:
            return self._cached[1]
        sections = await self._sections.all()
        built = site_map(await self._published(), [s.slug for s in sections])
        self._cached = (now, built)
        return built

    async def index(self) -> bytes:
        built = await self._site_map()
        chunks = range(0, len(built.articles), URLS_PER_SITEMAP)
        files: list[tuple[str, datetime | None]] = [
            (
                f"/sitemaps/articles-{n + 1}.xml",
                max(e.lastmod for e in built.articles[start : start + URLS_PER_SITEMAP]),
            )
            for n, start in enumerate(chunks)
        ]
        pages_lastmod = max((e.lastmod for e in built.pages), default=None)
        files.append(("/sitemaps/pages.xml", pages_lastmod))
        return sitemap_index(self._base, files)

    async def articles(self, number: int) -> bytes:
        built = await self._site_map()
        start = (number - 1) * URLS_PER_SITEMAP
        if number < 1 or (start >= len(built.articles) and number != 1):
            raise NotFound("There is no such sitemap.")
        return urlset(self._base, built.articles[start : start + URLS_PER_SITEMAP])

    async def pages(self) -> bytes:
        return urlset(self._base, (await self._site_map()).pages)

    async def news(self) -> bytes:
        since = self._now() - NEWS_WINDOW
        recent = await self._published(since)
        return news_sitemap(self._base, recent[:NEWS_LIMIT])
