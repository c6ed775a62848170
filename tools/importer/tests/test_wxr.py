"""The streaming WXR reader: the two real exports, every field, every version, bad input, and
flat memory on a large file."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from broadsheet_import.wxr import (
    NotWxr,
    NotXml,
    UnsupportedVersion,
    WxrAuthor,
    WxrCategory,
    WxrError,
    WxrItem,
    WxrSite,
    WxrTag,
    read_wxr,
)

from .wxr_factory import Comment, Item, document, header, write, write_large_export

pytestmark = pytest.mark.unit

BLOCKS = "64-block-test-data.xml"
PREVIEW = "theme-preview.xml"


def kinds(path: Path) -> Counter[str]:
    return Counter(type(record).__name__ for record in read_wxr(path))


def items(path: Path) -> list[WxrItem]:
    return [r for r in read_wxr(path) if isinstance(r, WxrItem)]


def test_block_test_data_as_its_readme_counts_it(real_exports: Path) -> None:
    blocks = real_exports / BLOCKS
    records = list(read_wxr(blocks))
    assert records[0] == WxrSite(
        title="Theme test data: Blocks",
        base_site_url="https://wordpress.com/",
        base_blog_url="https://wpthemetestdata.wordpress.com",
        wxr_version="1.2",
    )
    assert kinds(blocks) == Counter(WxrSite=1, WxrAuthor=2, WxrCategory=7, WxrTag=4, WxrItem=72)
    types = Counter(item.post_type for item in items(blocks))
    assert types == Counter(post=61, attachment=9, page=1, wp_navigation=1)
    comments = [c for item in items(blocks) for c in item.comments]
    assert [(c.comment_id, c.parent) for c in comments] == [(2, 0), (3, 2)]
    authors = [r for r in records if isinstance(r, WxrAuthor)]
    assert {a.login: a.display_name for a in authors} == {
        "themedemos": "Theme Buster",
        "themereviewer": "Theme Reviewer",
    }
    assert WxrCategory(nicename="design", name="Design", parent="") in records
    assert WxrTag(slug="block-spacing", name="Block spacing") in records


def test_theme_preview_without_post_ids_takes_them_from_the_links(real_exports: Path) -> None:
    posts = items(real_exports / PREVIEW)
    assert [p.post_id for p in posts] == [19, 36, 14, 8, 6, 4, 1]
    assert all(p.post_type == "post" and p.status == "publish" for p in posts)
    assert sum(len(p.comments) for p in posts) == 2
    first = posts[0]
    assert first.post_date == "2008-10-17 04:33:51"
    assert first.post_date_gmt == ""
    # Plain RSS categories (no domain, no nicename): kept as such, for the mapping to judge.
    assert [(t.domain, t.name) for t in first.terms] == [
        ("", "Uncategorized"),
        ("", "boat"),
        ("", "lake"),
    ]


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_every_field_in_every_version(tmp_path: Path, version: str) -> None:
    path = write(
        tmp_path / "one.xml",
        [
            Item(
                id=7,
                title="Title & more",
                name="the-slug",
                content="<p>Body</p>\n\n  spaced  ",
                excerpt="Short",
                password="pw",
                terms=[("category", "news", "News"), ("post_tag", "t", "T")],
                comments=[
                    Comment(id=1, approved="0", type="", content="Hi\n  there"),
                    Comment(id=2, parent=1, approved="spam", type="pingback"),
                ],
            )
        ],
        version=version,
    )
    records = list(read_wxr(path))
    assert isinstance(records[0], WxrSite)
    assert records[0].wxr_version == version
    [item] = [r for r in records if isinstance(r, WxrItem)]
    assert (item.post_id, item.title, item.post_name, item.post_type, item.status) == (
        7,
        "Title & more",
        "the-slug",
        "post",
        "publish",
    )
    assert item.link == "https://old.example/?p=7"
    assert item.guid == item.link
    assert (item.post_date, item.post_date_gmt) == ("2020-01-01 12:00:00", "2020-01-01 11:00:00")
    assert item.post_modified_gmt == "2020-01-03 09:00:00"
    assert (item.post_password, item.excerpt, item.creator) == ("pw", "Short", "editor")
    assert item.content == "<p>Body</p>\n\n  spaced  "  # content keeps its whitespace
    assert [(t.domain, t.nicename, t.name) for t in item.terms] == [
        ("category", "news", "News"),
        ("post_tag", "t", "T"),
    ]
    assert item.postmeta == (("_edit_last", "1"),)
    first, second = item.comments
    assert (first.comment_id, first.parent, first.approved, first.type) == (1, 0, "0", "")
    assert first.content == "Hi\n  there"
    assert (first.author, first.author_email, first.author_ip) == (
        "Reader",
        "reader@example.com",
        "192.0.2.1",
    )
    assert first.author_url == "https://reader.example"
    assert first.date_gmt == "2020-01-02 10:00:00"
    assert (second.parent, second.approved, second.type) == (1, "spam", "pingback")


def test_cdata_terminator_inside_content_survives(tmp_path: Path) -> None:
    path = write(tmp_path / "cdata.xml", [Item(id=1, content="a ]]> b")])
    assert items(path)[0].content == "a ]]> b"


def test_site_is_announced_even_for_an_export_with_no_items(tmp_path: Path) -> None:
    path = tmp_path / "empty.xml"
    path.write_text(document([]))
    assert kinds(path)["WxrSite"] == 1
    assert kinds(path)["WxrItem"] == 0


@pytest.mark.parametrize(
    ("content", "error", "words"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", NotXml, "not well-formed"),
        (b"", NotXml, "not well-formed"),
        (b"just some text", NotXml, "not well-formed"),
        (
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed</title>'
            b"<item><title>x</title></item></channel></rss>",
            NotWxr,
            "without the WordPress (wp:) namespace",
        ),
        (b"<html><body>hello</body></html>", NotWxr, "<html>, not RSS"),
        (
            b'<!DOCTYPE rss [<!ENTITY x "boom">]><rss xmlns:wp="http://wordpress.org/export/1.2/">'
            b"<channel>&x;</channel></rss>",
            NotWxr,
            "DOCTYPE",
        ),
        (
            header().replace("<wp:wxr_version>1.2</wp:wxr_version>", "").encode()
            + b"</channel></rss>",
            NotWxr,
            "no <wp:wxr_version>",
        ),
        (
            header().replace(">1.2</wp:wxr_version>", ">1.3</wp:wxr_version>").encode()
            + b"</channel></rss>",
            UnsupportedVersion,
            "'1.3' is not supported",
        ),
    ],
    ids=["binary", "empty", "text", "plain-rss", "html", "doctype", "no-version", "version-1.3"],
)
def test_bad_input_ends_with_a_clear_error(
    tmp_path: Path, content: bytes, error: type[Exception], words: str
) -> None:
    path = tmp_path / "bad.xml"
    path.write_bytes(content)
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        list(read_wxr(path))


def test_a_truncated_export_yields_what_it_read_then_fails(tmp_path: Path) -> None:
    full = document([Item(id=n) for n in range(1, 6)])
    path = tmp_path / "cut.xml"
    path.write_text(full[: full.index("<item>", full.index("<wp:post_id>4")) - 200])
    read: list[int] = []

    def read_all() -> None:
        read.extend(r.post_id for r in read_wxr(path) if isinstance(r, WxrItem))

    with pytest.raises(NotXml, match="is the file complete"):
        read_all()
    assert read == [1, 2, 3]


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WxrError, match=r"cannot read .*missing\.xml"):
        list(read_wxr(tmp_path / "missing.xml"))


_MEASURE = """
import json, resource, sys, tracemalloc
from pathlib import Path
from broadsheet_import.wxr import read_wxr
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
count = sum(1 for _ in read_wxr(Path(sys.argv[1])))
traced = tracemalloc.get_traced_memory()[1]
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
print(json.dumps({"records": count, "traced": traced, "rss_growth": grown}))
"""


def test_memory_stays_flat_on_a_large_export(tmp_path: Path) -> None:
    """~30 MB read in a fresh process: Python's traced peak and the process's peak RSS (lxml's
    tree lives in C, out of tracemalloc's sight) both stay far below the file's size."""
    path = write_large_export(tmp_path / "large.xml", posts=1800, comments_per_post=10)
    size = path.stat().st_size
    assert size > 25_000_000
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    )
    measured = json.loads(result.stdout)
    assert measured["records"] == 1 + 2 + 1 + 1 + 1800  # site, authors, category, tag, items
    assert measured["traced"] < size / 20, measured
    assert measured["rss_growth"] < size / 5, measured
