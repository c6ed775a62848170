from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from broadsheet_comments.rendering import clean_text, plain_name, render_body, sanitize_html

pytestmark = pytest.mark.unit

# From the OWASP XSS Filter Evasion Cheat Sheet.
OWASP_VECTORS = [
    "<script>alert('XSS')</script>",
    "<SCRIPT SRC=https://cdn.jsdelivr.net/gh/Moksh45/host-xss.rocks/index.js></SCRIPT>",
    "javascript:/*--></title></style></textarea></script></xmp><svg/onload='+/\"/+/onmouseover=1/+/[*/[]/+alert(1)//'>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=javascript:alert('XSS')>",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
    '<a onmouseover="alert(document.cookie)">xxs link</a>',
    '<IMG """><SCRIPT>alert("XSS")</SCRIPT>"\\>',
    '<IMG SRC=/ onerror="alert(String.fromCharCode(88,83,83))"></img>',
    '<img src=x onerror="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041">',  # noqa: E501
    "<IMG SRC=\"jav\tascript:alert('XSS');\">",
    "<IMG SRC=\"jav&#x0A;ascript:alert('XSS');\">",
    '<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert("XSS")>',
    '<<SCRIPT>alert("XSS");//\\<</SCRIPT>',
    "<iframe src=http://xss.rocks/scriptlet.html <",
    '<svg/onload=alert("XSS")>',
    "<BODY BACKGROUND=\"javascript:alert('XSS')\">",
    "<STYLE>li {list-style-image: url(\"javascript:alert('XSS')\");}</STYLE><UL><LI>XSS</br>",
    '<LINK REL="stylesheet" HREF="javascript:alert(\'XSS\');">',
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(\'XSS\');">',
    "<TABLE BACKGROUND=\"javascript:alert('XSS')\">",
    "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">",
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JAVASCRIPT:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    '[x](http://a.com "onmouseover=alert(1)")',
    '<OBJECT TYPE="text/x-scriptlet" DATA="http://xss.rocks/scriptlet.html"></OBJECT>',
    '<EMBED SRC="data:image/svg+xml;base64,PHN2ZyB4bWxuczpzdmc9Imh0dH A6Ly93d3cudzMub3JnLzIwMDAvc3ZnIiB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHhtbG5zOnhsaW5rPSJodHRwOi8vd3d3LnczLm9yZy8xOTk5L3hsaW5rIiB2ZXJzaW9uPSIxLjAiIHg9IjAiIHk9IjAiIHdpZHRoPSIxOTQiIGhlaWdodD0iMjAwIiBpZD0ieHNzIj48c2NyaXB0IHR5cGU9InRleHQvZWNtYXNjcmlwdCI+YWxlcnQoIlhTUyIpOzwvc2NyaXB0Pjwvc3ZnPg==" type="image/svg+xml" AllowScriptAccess="always"></EMBED>',  # noqa: E501
    "`<script>alert(1)</script>`",
]

_ALLOWED = {
    "p",
    "br",
    "em",
    "strong",
    "a",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "s",
    "del",
}


class _Elements(HTMLParser):
    """The elements and attributes a browser would build from the fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def assert_inert(html: str) -> None:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.elements:
        assert tag in _ALLOWED, html
        assert tag != "script", html
        for name, value in attrs:
            assert not name.startswith("on"), html
            assert name in {"href", "rel"}, html
            if name == "href":
                # Relative links are harmless (``<javascript:`` is a relative path: a scheme
                # starts with a letter); any scheme must be one we allow. Browsers drop control
                # characters and spaces before they read the scheme, so the check does too.
                url = re.sub(r"[\x00-\x20]", "", value or "")
                scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", url)
                assert scheme is None or scheme.group(1).lower() in {"http", "https", "mailto"}, (
                    html
                )


@pytest.mark.parametrize("vector", OWASP_VECTORS)
def test_owasp_vectors_in_the_body_are_inert(vector: str) -> None:
    assert_inert(render_body(vector))


@pytest.mark.parametrize("vector", OWASP_VECTORS)
def test_owasp_vectors_in_the_author_name_leave_no_markup(vector: str) -> None:
    name = plain_name(vector)
    assert "<" not in name
    assert ">" not in name


def test_markdown_subset_and_link_rel() -> None:
    html = render_body("**bold** _em_ [site](https://example.com)\n\n> quoted\n\n- a\n- b")
    assert "<strong>bold</strong>" in html
    assert "<em>em</em>" in html
    assert '<a href="https://example.com" rel="nofollow ugc noopener">site</a>' in html
    assert "<blockquote>" in html
    assert "<li>a</li>" in html


def test_headings_and_images_are_not_rendered() -> None:
    html = render_body("# big\n\n![img](https://example.com/a.png)")
    assert "<h1" not in html
    assert "<img" not in html


def test_plain_name_keeps_ordinary_names() -> None:
    assert plain_name("  Zoë   O'Brien ") == "Zoë O'Brien"
    assert plain_name("A & B") == "A & B"


BIDI_CONTROLS = [*map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))]
INVISIBLE = [*BIDI_CONTROLS, "\u200e", "\u200f", "\u061c", "\u200b", "\u200c", "\u200d"]
INVISIBLE += ["\u2060", "\ufeff", "\u00ad", "\U000e0041"]  # + soft hyphen, a tag character


@pytest.mark.parametrize("char", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
def test_plain_name_drops_bidi_controls_and_zero_width_characters(char: str) -> None:
    assert plain_name(f"Ad{char}min") == "Admin"
    assert plain_name(f"{char}Ann{char}") == "Ann"
    assert plain_name(char * 3) == ""  # nothing visible left: the form refuses it


def test_plain_name_drops_them_written_as_entities_too() -> None:
    # "Ann" then a right-to-left override: "txt.exe" would read backwards after it.
    assert plain_name("Ann&#x202E;txt.exe") == "Anntxt.exe"


_PIECES = st.sampled_from(
    [
        *"<>\"'=/ :;&#()[]!`*_-\nabcjsvptrio",
        "javascript:",
        "<script",
        "onerror",
        "<a href=",
        "](",
        "<img",
        "<svg",
        "&#x6A;",
        "data:",
        "<style",
        "http://",
    ]
)


@settings(max_examples=300, deadline=None)
@example("<a href=<javascript:>x</a>")  # a relative link that merely contains "javascript:"
@given(st.one_of(st.lists(_PIECES, max_size=60).map("".join), st.text(max_size=200)))
def test_sanitizer_output_is_stable_and_inert(text: str) -> None:
    once = render_body(text)
    assert sanitize_html(once) == once
    assert_inert(once)
    raw = sanitize_html(text)
    assert sanitize_html(raw) == raw
    assert_inert(raw)


@pytest.mark.parametrize(
    "char", ["\x00", "\x0b", "\x0c", "\x7f", "\x85", "\x9d", "\ufdd0", "\uffff"]
)
def test_what_readers_type_loses_controls_and_noncharacters(char: str) -> None:
    # The page drops them anyway (HTML forbids them); kept, the API would answer with text
    # the page does not show. Tabs, newlines and other text stay.
    assert clean_text(f"Well{char} said,\tfriend\r\nÇa va \U0001f600") == (
        "Well said,\tfriend\nÇa va \U0001f600"
    )
    assert char not in render_body(f"Well{char} said")
