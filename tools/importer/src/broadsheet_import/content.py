"""WordPress post and comment HTML → the Markdown Broadsheet stores, safely and faithfully.

Broadsheet stores Markdown and renders it with markdown-it (CommonMark + tables, raw HTML off)
and nh3, so the conversion aims at Markdown that renders to what WordPress showed: paragraphs,
headings, nested lists, quotes, links, images by URL with their alt text, code blocks, tables
and line breaks. The pipeline:

1. Shortcodes (``[caption]``, ``[embed]``, ``[gallery]``…) are text to an HTML parser, so they
   are handled first: a caption becomes a figure (image, then its caption as text), an embed,
   audio or video becomes a link to its URL, a gallery or playlist (it needs WordPress's media
   library) is removed; every shortcode met is reported by name, unknown ones stay as text.
2. beautifulsoup4 parses the HTML; comments go (that drops Gutenberg's ``<!-- wp:… -->`` block
   delimiters and ``<!--more-->``), and so do script, style, iframe (its http(s) address is kept
   as a link), forms, objects and embeds, links whose scheme is not http(s)/mailto/relative
   (their text stays) and images whose source is not http(s)/relative.
3. Classic-editor content (no block delimiters) is stored by WordPress *without* ``<p>`` tags:
   ``wpautop`` adds them when the post is shown. :func:`_autop` does the same on the tree: blank
   lines separate paragraphs, single newlines become line breaks, block elements stay as they are.
   Block-editor content already has its tags and is left alone, as WordPress leaves it.
4. markdownify writes the Markdown (ATX headings, ``-`` bullets, fenced code with the language
   from ``language-*`` classes, pipe tables).

Markdown cannot carry raw HTML here, so attributes (``on*``, ``style``) are gone by construction;
the tests render the result with the articles service's own renderer to prove it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from bs4 import BeautifulSoup
from bs4.element import Comment, NavigableString, Tag
from markdownify import ATX, BACKSLASH, MarkdownConverter

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "caption", "dd", "details", "div", "dl",
        "dt", "fieldset", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hgroup", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary",
        "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "audio", "video",
    }
)  # fmt: skip
# Containers whose loose text wpautop turns into paragraphs; <pre> never is.
_AUTOP_CONTAINERS = frozenset(
    {"blockquote", "div", "section", "article", "aside", "main", "header", "footer", "figure"}
)
# Where loose text is a line of its own, not a paragraph, unless a blank line splits it.
_AUTOP_INLINE_CONTAINERS = frozenset({"li", "td", "th", "dd", "dt", "figcaption"})
_DROPPED_TAGS = (
    "script", "style", "iframe", "object", "embed", "applet", "form", "input", "button",
    "select", "textarea", "noscript", "template", "svg", "math", "frame", "frameset", "link",
    "meta", "base", "canvas",
)  # fmt: skip
_SAFE_SCHEMES = frozenset({"http", "https", "mailto", ""})

# WordPress core's shortcodes; others (plugins') are reported when they look like shortcodes.
_SHORTCODE = re.compile(
    r"\[(?P<name>caption|wp_caption|gallery|embed|audio|video|playlist)\b(?P<attrs>[^\]]*)\]"
    r"(?:(?P<inner>.*?)\[/(?P=name)\])?",
    re.DOTALL,
)
# Any bracketed word: a shortcode when it has attributes (``[form id="3"]``) or a closing tag
# somewhere (``[note]…[/note]``); ``[top]`` alone is text.
_BRACKETED = re.compile(r"\[(?P<close>/?)(?P<name>[a-zA-Z][\w-]*)(?P<attrs>\s[^\]]*)?\]")
_ATTR = re.compile(r"([\w-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|(\S+))")
_CAPTIONED_IMAGE = re.compile(
    r"^\s*((?:<a\b[^>]*>\s*)?<img\b[^>]*>(?:\s*</a>)?)(.*)$", re.DOTALL | re.IGNORECASE
)
_BARE_URL = re.compile(r"^https?://\S+$")
_MARKUP = re.compile(r"[<>&]")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_EXTRA_BLANK_LINES = re.compile(r"\n{3,}")
_LINE_START_MARKUP = re.compile(r"^([ \t]*(?:\d+)?)([#>+-]|(?<=\d)[.)])", re.MULTILINE)


@dataclass(frozen=True)
class Converted:
    """Markdown, plus what the editor should hear about: shortcodes met and unsafe parts dropped."""

    markdown: str
    shortcodes: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()


@dataclass
class _Report:
    shortcodes: dict[str, None] = field(default_factory=dict)
    dropped: dict[str, None] = field(default_factory=dict)


def _attrs(text: str) -> dict[str, str]:
    return {m[1].lower(): m[2] or m[3] or m[4] or "" for m in _ATTR.finditer(text)}


def _link(url: str) -> str:
    escaped = url.replace('"', "&quot;")
    return f'<p><a href="{escaped}">{escaped}</a></p>'


def _expand_shortcodes(html: str, report: _Report) -> str:
    """Replace WordPress core's shortcodes by the HTML they stand for; note every one met."""

    def core(match: re.Match[str]) -> str:
        name, attrs, inner = match["name"], _attrs(match["attrs"]), match["inner"] or ""
        report.shortcodes.setdefault(name, None)
        if name in {"caption", "wp_caption"}:
            image = _CAPTIONED_IMAGE.match(inner)
            if image is None:
                return inner
            caption = image[2].strip() or attrs.get("caption", "")
            return f"<figure>{image[1]}<figcaption>{caption}</figcaption></figure>"
        if name == "embed":
            url = inner.strip()
            return _link(url) if _BARE_URL.match(url) else ""
        if name in {"audio", "video"}:
            sources = [attrs[k] for k in ("src", "mp4", "mp3", "m4a", "ogg", "webm") if k in attrs]
            return _link(sources[0]) if sources else ""
        return ""  # gallery, playlist: they list attachments by id, which do not come along

    html = _SHORTCODE.sub(core, html)
    found = list(_BRACKETED.finditer(html))
    closed = {m["name"] for m in found if m["close"]}
    for match in found:
        if not match["close"] and ("=" in (match["attrs"] or "") or match["name"] in closed):
            report.shortcodes.setdefault(match["name"], None)
    return html


def _safe_url(url: str) -> str | None:
    """The URL when its scheme is safe (http, https, mailto, relative), spaces and brackets
    escaped so Markdown keeps it whole; ``None`` for ``javascript:``, ``data:`` and the like."""
    url = url.strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    if scheme not in _SAFE_SCHEMES:
        return None
    return quote(url, safe="/:?#[]@!$&'*+,;=%~.-_")


def _clean(soup: BeautifulSoup, report: _Report) -> None:
    """Remove comments and everything unsafe; make embeds and iframes plain links (one walk)."""
    for node in soup.find_all(string=lambda text: isinstance(text, Comment)):
        node.extract()
    for element in soup.find_all(["figure", "a", "img", *_DROPPED_TAGS]):
        if element.decomposed or element.parent is None:
            continue  # inside something already removed
        name = element.name
        if name == "figure":
            wrapper = element.select_one(".wp-block-embed__wrapper")
            url = wrapper.get_text(strip=True) if wrapper else ""
            if wrapper is not None and _BARE_URL.match(url):
                wrapper.replace_with(BeautifulSoup(_link(url), "html.parser"))
        elif name == "a":
            href = element.get("href")
            safe = _safe_url(str(href)) if href is not None else ""
            if safe is None:
                report.dropped.setdefault("unsafe link", None)
                element.unwrap()
            elif safe:
                element["href"] = safe
        elif name == "img":
            safe = _safe_url(str(element.get("src", "")))
            if not safe or safe.startswith("mailto:"):
                report.dropped.setdefault("unsafe image", None)
                element.decompose()
            else:
                element["src"] = safe
        elif name == "iframe" and str(element.get("src", "")).startswith(("http://", "https://")):
            element.replace_with(BeautifulSoup(_link(str(element["src"])), "html.parser"))
        else:
            report.dropped.setdefault(name, None)
            element.decompose()


def _is_block(node: object) -> bool:
    return isinstance(node, Tag) and node.name in _BLOCK_TAGS


def _autop(soup: BeautifulSoup, container: Tag) -> None:
    """wpautop on a tree: loose text and inline elements between blocks become paragraphs,
    split at blank lines, with single newlines as line breaks; recurse into container blocks."""
    children = [child.extract() for child in list(container.contents)]
    wrap = container.name not in _AUTOP_INLINE_CONTAINERS or any(
        isinstance(c, NavigableString) and _BLANK_LINE.search(c) for c in children
    )
    run: list[NavigableString | Tag] = []

    def flush() -> None:
        paragraphs: list[list[NavigableString | Tag]] = [[]]
        for node in run:
            if isinstance(node, NavigableString):
                pieces = _BLANK_LINE.split(str(node))
                paragraphs[-1].append(NavigableString(pieces[0]))
                paragraphs.extend([NavigableString(p)] for p in pieces[1:])
            else:
                paragraphs[-1].append(node)
        for paragraph in paragraphs:
            if all(isinstance(n, NavigableString) and not n.strip() for n in paragraph):
                continue
            target: Tag = soup.new_tag("p") if wrap else container
            _append_with_breaks(soup, target, paragraph)
            if wrap:
                container.append(target)
        run.clear()

    for child in children:
        if _is_block(child):
            flush()
            assert isinstance(child, Tag)
            if child.name in _AUTOP_CONTAINERS or child.name in _AUTOP_INLINE_CONTAINERS:
                _autop(soup, child)
            elif child.name in {"ul", "ol", "dl", "table", "thead", "tbody", "tfoot", "tr"}:
                for part in child.find_all(list(_AUTOP_INLINE_CONTAINERS), recursive=True):
                    if not part.find_parent("pre"):
                        _autop(soup, part)
            container.append(child)
        elif isinstance(child, NavigableString | Tag):
            run.append(child)
    flush()


def _append_with_breaks(
    soup: BeautifulSoup, target: Tag, nodes: list[NavigableString | Tag]
) -> None:
    """Append one paragraph's nodes, trimmed at both ends, with each newline as a <br>."""
    last = len(nodes) - 1
    for index, node in enumerate(nodes):
        if isinstance(node, Tag):
            target.append(node)
            continue
        text = str(node)
        if index == 0:
            text = text.lstrip()
        if index == last:
            text = text.rstrip()
        lines = text.split("\n")
        for number, line in enumerate(lines):
            if number:
                previous = target.contents[-1] if target.contents else None
                if not (isinstance(previous, Tag) and previous.name == "br"):
                    target.append(soup.new_tag("br"))
                line = line.lstrip()
            if line:
                target.append(NavigableString(line))


class _Converter(MarkdownConverter):
    """markdownify, with figure captions as their own paragraph and a lighter escaping: only
    what CommonMark would read as markup (``*``, ``_``, backticks, backslashes, and ``#``, ``>``,
    ``-``, ``+``, ``1.`` where a line could start), so URLs and ``=`` stay as they were typed."""

    def escape(self, text: str, parent_tags: set[str]) -> str:
        text = text.replace("\\", "\\\\").replace("`", "\\`")
        text = _LINE_START_MARKUP.sub(r"\1\\\2", text)
        return text.replace("*", "\\*").replace("_", "\\_")

    def convert_figcaption(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        caption = text.strip()
        return f"\n\n{caption}\n\n" if caption else ""


def _code_language(element: Tag) -> str | None:
    for node in (element, element.find("code")):
        if isinstance(node, Tag):
            for css_class in node.get("class") or []:
                for prefix in ("language-", "lang-"):
                    if css_class.startswith(prefix):
                        return str(css_class[len(prefix) :])
    return None


_converter = _Converter(
    heading_style=ATX,
    bullets="-",
    newline_style=BACKSLASH,
    code_language_callback=_code_language,
    table_infer_header=True,
    escape_misc=False,
)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment (titles, excerpts, names), whitespace collapsed."""
    if _MARKUP.search(html):
        html = BeautifulSoup(html, "html.parser").get_text()
    return " ".join(html.split())


def _plain_text_to_markdown(text: str) -> str:
    """What the full pipeline makes of text with no tags, entities or shortcodes (most comments),
    without parsing it: paragraphs at blank lines, line breaks at newlines, markup escaped."""
    paragraphs = (p.strip() for p in _BLANK_LINE.split(text))
    return "\n\n".join(
        "\\\n".join(_converter.escape(" ".join(line.split()), set()) for line in p.split("\n"))
        for p in paragraphs
        if p
    )


def html_to_markdown(html: str) -> Converted:
    """Convert one post's or comment's stored HTML (classic or block markup) to safe Markdown."""
    html = html.replace("\r\n", "\n").replace("\r", "\n")
    if not _MARKUP.search(html) and "[" not in html:
        return Converted(markdown=_plain_text_to_markdown(html))
    report = _Report()
    html = _expand_shortcodes(html, report)
    soup = BeautifulSoup(html, "html.parser")
    _clean(soup, report)
    if "<!-- wp:" not in html:
        _autop(soup, soup)
    markdown = _converter.convert_soup(soup)
    markdown = _EXTRA_BLANK_LINES.sub("\n\n", markdown).strip()
    return Converted(
        markdown=markdown,
        shortcodes=tuple(report.shortcodes),
        dropped=tuple(report.dropped),
    )
