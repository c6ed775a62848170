"""A streaming reader of WordPress eXtended RSS (WXR) exports, versions 1.0, 1.1 and 1.2.

WordPress exports a site as one RSS 2.0 document with its own ``wp:`` namespace (Tools → Export).
The file of a large news site runs to hundreds of megabytes, so it is never loaded whole:
:func:`read_wxr` walks it with lxml's ``iterparse`` and yields one record at a time: the site
(once, before anything else), each author, category and tag declared in the channel, then each
``<item>`` (post, page, attachment, menu item…) with its terms, postmeta and comments. Every
element is cleared as soon as its record is built and dropped from its parent, so memory stays
flat whatever the file's size; there is no size limit for that reason. The one bound is lxml's
own: a single text node (one post's content) over 10 MB is refused as not well-formed, which no
real post reaches and which keeps a hostile file from ballooning the process.

Field names follow WordPress's own importer (``wordpress-importer/src/parsers``). The namespace
URI of ``wp:`` carries the version (``http://wordpress.org/export/1.2/``; some exporters write
``https``), so elements are matched by local name inside any ``wordpress.org/export/`` namespace.
Entities are never resolved and nothing is fetched from the network (no XXE, no billion laughs),
and a document with a DOCTYPE is refused, as WordPress's importer refuses it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

SUPPORTED_VERSIONS = frozenset({"1.0", "1.1", "1.2"})

_WP_NAMESPACE = re.compile(r"^https?://wordpress\.org/export/\d+\.\d+/$")
_EXCERPT_NAMESPACE = re.compile(r"^https?://wordpress\.org/export/\d+\.\d+/excerpt/$")
_CONTENT_NAMESPACE = "http://purl.org/rss/1.0/modules/content/"
_DC_NAMESPACE = "http://purl.org/dc/elements/1.1/"
# Old exports (and the theme preview file) have no wp:post_id; WordPress's own links carry it.
_POST_ID_IN_URL = re.compile(r"[?&]p=(\d+)(?:&|$)")


class WxrError(Exception):
    """The file cannot be imported; the message says why in words an editor can act on."""


class NotXml(WxrError):
    """The file is not well-formed XML (or not XML at all, or cut short)."""


class NotWxr(WxrError):
    """Well-formed XML, but not a WordPress export: no RSS, no ``wp:`` namespace, no version."""


class UnsupportedVersion(WxrError):
    """A WXR version this reader does not know (WordPress has written 1.0, 1.1 and 1.2)."""


@dataclass(frozen=True)
class WxrSite:
    title: str
    base_site_url: str
    base_blog_url: str
    wxr_version: str


@dataclass(frozen=True)
class WxrAuthor:
    login: str
    email: str
    display_name: str
    first_name: str
    last_name: str


@dataclass(frozen=True)
class WxrCategory:
    nicename: str
    name: str
    parent: str


@dataclass(frozen=True)
class WxrTag:
    slug: str
    name: str


@dataclass(frozen=True)
class WxrTerm:
    """A category or tag on one item: ``<category domain="post_tag" nicename="x">X</category>``.

    ``domain`` is ``category``, ``post_tag``, another taxonomy, or empty for the plain RSS
    categories old exporters wrote beside the real ones."""

    domain: str
    nicename: str
    name: str


@dataclass(frozen=True)
class WxrComment:
    comment_id: int
    parent: int
    author: str
    author_email: str
    author_url: str
    author_ip: str
    date: str
    date_gmt: str
    content: str
    approved: str  # "1", "0", "spam", "trash" (or "post-trashed")
    type: str  # "", "comment", "pingback", "trackback", or a plugin's type


@dataclass(frozen=True)
class WxrItem:
    post_id: int
    title: str
    link: str
    guid: str
    creator: str
    post_name: str
    post_type: str
    status: str
    post_date: str
    post_date_gmt: str
    post_modified: str
    post_modified_gmt: str
    post_password: str
    comment_status: str
    post_parent: int
    excerpt: str
    content: str
    attachment_url: str
    terms: tuple[WxrTerm, ...] = ()
    postmeta: tuple[tuple[str, str], ...] = ()
    comments: tuple[WxrComment, ...] = field(default=())


WxrRecord = WxrSite | WxrAuthor | WxrCategory | WxrTag | WxrItem


@functools.lru_cache(maxsize=256)
def _local(tag: object) -> tuple[str, str]:
    """(namespace kind, local name) of an element tag: kind is wp, excerpt, content, dc or ''."""
    if not isinstance(tag, str):  # comments and processing instructions
        return ("", "")
    if not tag.startswith("{"):
        return ("", tag)
    uri, local = tag[1:].split("}", 1)
    if _WP_NAMESPACE.match(uri):
        return ("wp", local)
    if _EXCERPT_NAMESPACE.match(uri):
        return ("excerpt", local)
    if uri == _CONTENT_NAMESPACE:
        return ("content", local)
    if uri == _DC_NAMESPACE:
        return ("dc", local)
    return ("other", local)


def _fields(element: etree._Element) -> dict[tuple[str, str], str]:
    """The text of each direct child, by (kind, local name), as written (content keeps its
    whitespace); the first of repeated children."""
    found: dict[tuple[str, str], str] = {}
    for child in element:
        found.setdefault(_local(child.tag), child.text or "")
    return found


def _wp(fields: dict[tuple[str, str], str], name: str) -> str:
    """A ``wp:`` child's text, trimmed; empty when absent."""
    return fields.get(("wp", name), "").strip()


def _int(text: str) -> int:
    return int(text) if text.strip().isdigit() else 0


def _comment(element: etree._Element) -> WxrComment:
    f = _fields(element)
    return WxrComment(
        comment_id=_int(_wp(f, "comment_id")),
        parent=_int(_wp(f, "comment_parent")),
        author=_wp(f, "comment_author"),
        author_email=_wp(f, "comment_author_email"),
        author_url=_wp(f, "comment_author_url"),
        author_ip=_wp(f, "comment_author_IP"),
        date=_wp(f, "comment_date"),
        date_gmt=_wp(f, "comment_date_gmt"),
        content=f.get(("wp", "comment_content"), ""),
        approved=_wp(f, "comment_approved"),
        type=_wp(f, "comment_type"),
    )


def _item(element: etree._Element) -> WxrItem:
    f = _fields(element)
    content = excerpt = ""
    terms: list[WxrTerm] = []
    postmeta: list[tuple[str, str]] = []
    comments: list[WxrComment] = []
    for child in element:
        key = _local(child.tag)
        if key == ("content", "encoded"):
            content = child.text or ""
        elif key == ("excerpt", "encoded"):
            excerpt = child.text or ""
        elif key == ("", "category"):
            terms.append(
                WxrTerm(
                    domain=child.get("domain", ""),
                    nicename=child.get("nicename", ""),
                    name=(child.text or "").strip(),
                )
            )
        elif key == ("wp", "postmeta"):
            meta = _fields(child)
            postmeta.append((meta.get(("wp", "meta_key"), ""), meta.get(("wp", "meta_value"), "")))
        elif key == ("wp", "comment"):
            comments.append(_comment(child))
    link = f.get(("", "link"), "").strip()
    guid = f.get(("", "guid"), "").strip()
    post_id = _int(_wp(f, "post_id"))
    if not post_id:
        match = _POST_ID_IN_URL.search(link) or _POST_ID_IN_URL.search(guid)
        post_id = int(match.group(1)) if match else 0
    return WxrItem(
        post_id=post_id,
        title=f.get(("", "title"), "").strip(),
        link=link,
        guid=guid,
        creator=f.get(("dc", "creator"), "").strip(),
        post_name=_wp(f, "post_name"),
        post_type=_wp(f, "post_type") or "post",
        status=_wp(f, "status"),
        post_date=_wp(f, "post_date"),
        post_date_gmt=_wp(f, "post_date_gmt"),
        post_modified=_wp(f, "post_modified"),
        post_modified_gmt=_wp(f, "post_modified_gmt"),
        post_password=_wp(f, "post_password"),
        comment_status=_wp(f, "comment_status"),
        post_parent=_int(_wp(f, "post_parent")),
        excerpt=excerpt,
        content=content,
        attachment_url=_wp(f, "attachment_url"),
        terms=tuple(terms),
        postmeta=tuple(postmeta),
        comments=tuple(comments),
    )


def _channel_record(kind: str, element: etree._Element) -> WxrAuthor | WxrCategory | WxrTag:
    f = _fields(element)
    if kind == "author":
        return WxrAuthor(
            login=_wp(f, "author_login"),
            email=_wp(f, "author_email"),
            display_name=_wp(f, "author_display_name"),
            first_name=_wp(f, "author_first_name"),
            last_name=_wp(f, "author_last_name"),
        )
    if kind == "category":
        return WxrCategory(
            nicename=_wp(f, "category_nicename"),
            name=_wp(f, "cat_name"),
            parent=_wp(f, "category_parent"),
        )
    return WxrTag(slug=_wp(f, "tag_slug"), name=_wp(f, "tag_name"))


class _Header:
    """The channel's own fields, gathered until the first record needs the site announced."""

    def __init__(self) -> None:
        self.title = self.base_site_url = self.base_blog_url = self.version = ""
        self.announced = False

    def take(self, key: tuple[str, str], text: str) -> None:
        if key == ("", "title") and not self.title:
            self.title = text
        elif key == ("wp", "base_site_url"):
            self.base_site_url = text
        elif key == ("wp", "base_blog_url"):
            self.base_blog_url = text
        elif key == ("wp", "wxr_version"):
            if text not in SUPPORTED_VERSIONS:
                raise UnsupportedVersion(
                    f"WXR version {text!r} is not supported (this importer reads "
                    f"{', '.join(sorted(SUPPORTED_VERSIONS))}): export again from WordPress or "
                    "check the file is a WordPress export"
                )
            self.version = text

    def announce(self) -> WxrSite:
        if not self.version:
            raise NotWxr(
                "not a WordPress export: the channel has no <wp:wxr_version> "
                "(export it from WordPress with Tools → Export)"
            )
        self.announced = True
        return WxrSite(
            title=self.title,
            base_site_url=self.base_site_url,
            base_blog_url=self.base_blog_url or self.base_site_url,
            wxr_version=self.version,
        )


_CHANNEL_RECORDS = {
    ("wp", "author"): "author",
    ("wp", "category"): "category",
    ("wp", "tag"): "tag",
}


def read_wxr(path: Path) -> Iterator[WxrRecord]:
    """Yield the site, then authors, categories, tags and items, one at a time, as they come.

    Raises :class:`WxrError` subclasses for bad input: :class:`NotXml` (not XML, truncated),
    :class:`NotWxr` (XML that is not a WordPress export, or has a DOCTYPE),
    :class:`UnsupportedVersion`. Records already yielded stay valid: a caller that planned them
    and then meets the error has planned nothing wrong, only too little.
    """
    header = _Header()
    depth = 0
    try:
        events = etree.iterparse(
            str(path),
            events=("start", "end"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            remove_comments=True,
            remove_pis=True,
        )
        for event, element in events:
            if event == "start":
                depth += 1
                if depth == 1:
                    _check_root(element)
                continue
            depth -= 1
            # depth now is the element's parent level: rss=0, channel=1, channel children=2.
            if depth != 2:
                continue
            key = _local(element.tag)
            if key == ("", "item") or key in _CHANNEL_RECORDS:
                if not header.announced:
                    yield header.announce()
                if key == ("", "item"):
                    yield _item(element)
                else:
                    yield _channel_record(_CHANNEL_RECORDS[key], element)
            else:
                header.take(key, (element.text or "").strip())
            element.clear()
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
    except etree.XMLSyntaxError as error:
        raise NotXml(f"not well-formed XML ({error.msg}); is the file complete?") from error
    except OSError as error:
        raise WxrError(f"cannot read {path}: {error.strerror or error}") from error
    if not header.announced:
        yield header.announce()


def _check_root(root: etree._Element) -> None:
    """Refuse what is not RSS with the ``wp:`` namespace before reading any further."""
    if root.getroottree().docinfo.doctype:
        raise NotWxr("not a WordPress export: the file has a DOCTYPE, which WXR never has")
    if _local(root.tag) != ("", "rss"):
        raise NotWxr(
            f"not a WordPress export: the document is <{etree.QName(root).localname}>, not RSS"
        )
    if not any(_WP_NAMESPACE.match(uri or "") for uri in root.nsmap.values()):
        raise NotWxr(
            "not a WordPress export: RSS without the WordPress (wp:) namespace; "
            "export the site from WordPress with Tools → Export"
        )
