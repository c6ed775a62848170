"""WXR files for the edges, generated (no big files in the repository).

:func:`document` writes an export the way WordPress does (namespaces, CDATA, channel header,
authors, categories, tags, items with terms, postmeta and comments); :func:`edge_cases` is one
export with every edge the importer must handle; :func:`write_large_export` streams a big one
(the memory test, and the 100,000-comment benchmark in tools/bench/bench_import.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

NAMESPACES = {
    "1.0": "http://wordpress.org/export/1.0/",
    "1.1": "http://wordpress.org/export/1.1/",
    "1.2": "http://wordpress.org/export/1.2/",
}


def cdata(text: str) -> str:
    """Text as CDATA, split where it contains the CDATA terminator, as WordPress does."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass
class Comment:
    id: int
    content: str = "A comment."
    parent: int = 0
    author: str = "Reader"
    email: str = "reader@example.com"
    date_gmt: str = "2020-01-02 10:00:00"
    approved: str = "1"
    type: str = "comment"

    def xml(self) -> str:
        return (
            "<wp:comment>"
            f"<wp:comment_id>{self.id}</wp:comment_id>"
            f"<wp:comment_author>{cdata(self.author)}</wp:comment_author>"
            f"<wp:comment_author_email>{cdata(self.email)}</wp:comment_author_email>"
            "<wp:comment_author_url>https://reader.example</wp:comment_author_url>"
            "<wp:comment_author_IP>192.0.2.1</wp:comment_author_IP>"
            f"<wp:comment_date>{self.date_gmt}</wp:comment_date>"
            f"<wp:comment_date_gmt>{self.date_gmt}</wp:comment_date_gmt>"
            f"<wp:comment_content>{cdata(self.content)}</wp:comment_content>"
            f"<wp:comment_approved>{cdata(self.approved)}</wp:comment_approved>"
            f"<wp:comment_type>{cdata(self.type)}</wp:comment_type>"
            f"<wp:comment_parent>{self.parent}</wp:comment_parent>"
            "<wp:comment_user_id>0</wp:comment_user_id>"
            "</wp:comment>"
        )


@dataclass
class Item:
    id: int
    title: str = "A post"
    content: str = "<p>Hello.</p>"
    name: str = ""
    type: str = "post"
    status: str = "publish"
    creator: str = "editor"
    date: str = "2020-01-01 12:00:00"
    date_gmt: str = "2020-01-01 11:00:00"
    modified_gmt: str = "2020-01-03 09:00:00"
    password: str = ""
    excerpt: str = ""
    terms: list[tuple[str, str, str]] = field(
        default_factory=lambda: [("category", "news", "News")]
    )
    comments: list[Comment] = field(default_factory=list)
    link: str = ""

    def xml(self) -> str:
        terms = "".join(
            f'<category domain="{domain}" nicename="{nicename}">{cdata(name)}</category>'
            for domain, nicename, name in self.terms
        )
        return (
            "<item>"
            f"<title>{cdata(self.title)}</title>"
            f"<link>{self.link or f'https://old.example/?p={self.id}'}</link>"
            f'<guid isPermaLink="false">https://old.example/?p={self.id}</guid>'
            f"<dc:creator>{cdata(self.creator)}</dc:creator>"
            "<description></description>"
            f"<content:encoded>{cdata(self.content)}</content:encoded>"
            f"<excerpt:encoded>{cdata(self.excerpt)}</excerpt:encoded>"
            f"<wp:post_id>{self.id}</wp:post_id>"
            f"<wp:post_date>{cdata(self.date)}</wp:post_date>"
            f"<wp:post_date_gmt>{cdata(self.date_gmt)}</wp:post_date_gmt>"
            f"<wp:post_modified_gmt>{cdata(self.modified_gmt)}</wp:post_modified_gmt>"
            "<wp:comment_status>open</wp:comment_status>"
            f"<wp:post_name>{cdata(self.name)}</wp:post_name>"
            f"<wp:status>{cdata(self.status)}</wp:status>"
            "<wp:post_parent>0</wp:post_parent>"
            f"<wp:post_type>{cdata(self.type)}</wp:post_type>"
            f"<wp:post_password>{cdata(self.password)}</wp:post_password>"
            f"{terms}"
            "<wp:postmeta><wp:meta_key>_edit_last</wp:meta_key>"
            "<wp:meta_value>1</wp:meta_value></wp:postmeta>"
            + "".join(c.xml() for c in self.comments)
            + "</item>"
        )


AUTHORS = [("editor", "Ed Itor"), ("مريم", "مريم العربية")]


def header(version: str = "1.2", title: str = "Old Site") -> str:
    ns = NAMESPACES[version]
    authors = "".join(
        f"<wp:author><wp:author_login>{cdata(login)}</wp:author_login>"
        f"<wp:author_email>x@example.com</wp:author_email>"
        f"<wp:author_display_name>{cdata(name)}</wp:author_display_name></wp:author>"
        for login, name in AUTHORS
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n'
        f'<rss version="2.0" xmlns:excerpt="{ns}excerpt/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
        f'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="{ns}">\n'
        f"<channel><title>{title}</title><link>https://old.example</link>"
        f"<wp:wxr_version>{version}</wp:wxr_version>"
        "<wp:base_site_url>https://old.example</wp:base_site_url>"
        "<wp:base_blog_url>https://old.example</wp:base_blog_url>"
        f"{authors}"
        "<wp:category><wp:term_id>1</wp:term_id><wp:category_nicename>news</wp:category_nicename>"
        "<wp:category_parent></wp:category_parent><wp:cat_name>News</wp:cat_name></wp:category>"
        "<wp:tag><wp:term_id>2</wp:term_id><wp:tag_slug>x</wp:tag_slug>"
        "<wp:tag_name>X</wp:tag_name></wp:tag>\n"
    )


FOOTER = "</channel></rss>\n"


def document(items: Iterable[Item], version: str = "1.2") -> str:
    return header(version) + "".join(item.xml() + "\n" for item in items) + FOOTER


def write(path: Path, items: Iterable[Item], version: str = "1.2") -> Path:
    path.write_text(document(items, version), encoding="utf-8")
    return path


def nine_deep(first_id: int) -> list[Comment]:
    """A thread nine comments deep, written deepest first: every reply precedes its parent."""
    chain = [
        Comment(
            id=first_id + depth,
            parent=first_id + depth - 1 if depth else 0,
            content=f"Depth {depth}",
            date_gmt=f"2020-01-02 10:0{depth}:00",
        )
        for depth in range(9)
    ]
    return list(reversed(chain))


def edge_cases() -> list[Item]:
    """One export with every edge: a nine-deep thread, pending/spam/trash comments, pingbacks,
    a scheduled post, a password-protected one, unicode everywhere, a post with no content,
    private and trashed posts, and a page and an attachment."""
    return [
        Item(
            id=10,
            title="Threads",
            name="threads",
            comments=[
                *nine_deep(100),
                Comment(id=200, approved="0", content="Waiting for moderation"),
                Comment(id=201, approved="spam", content="Buy now"),
                Comment(id=202, approved="trash", content="Gone"),
                Comment(id=203, type="pingback", content="Linked from elsewhere"),
                Comment(id=204, type="trackback", content="Tracked"),
                Comment(id=205, parent=201, content="Reply to spam"),
            ],
        ),
        Item(
            id=11,
            title="Tomorrow",
            name="tomorrow",
            status="future",
            date="2999-01-01 08:00:00",
            date_gmt="2999-01-01 07:00:00",
        ),
        Item(id=12, title="Secret", name="secret", password="hunter2"),
        Item(
            id=13,
            title="Ünïcödé — سلام 🎉",
            name="%d8%b3%d9%84%d8%a7%d9%85",
            creator="مريم",
            content='<p dir="rtl">مرحبا بالعالم 🌍</p>\n<p>日本語のテキスト</p>',
            terms=[
                ("category", "%d8%a3%d8%ae%d8%a8%d8%a7%d8%b1", "أخبار"),
                ("post_tag", "emoji", "Émoji 🎉"),
            ],
            comments=[Comment(id=300, author="Zoë 🦊", content="שלום עולם 👋")],
        ),
        Item(id=14, title="Empty", name="empty", content=""),
        Item(
            id=15,
            title="Drafty",
            name="drafty",
            status="draft",
            date_gmt="0000-00-00 00:00:00",
            date="2021-05-05 05:05:05",
        ),
        Item(id=16, title="Pending review", status="pending"),
        Item(id=17, title="Private", status="private"),
        Item(id=18, title="Binned", status="trash"),
        Item(id=19, title="About", type="page"),
        Item(id=20, title="photo.jpg", type="attachment", status="inherit"),
        Item(id=21, title="Menu", type="nav_menu_item"),
    ]


def large_items(posts: int, comments_per_post: int) -> Iterator[Item]:
    """Posts with a realistic body and comment threads (every fifth comment a reply)."""
    body = "<!-- wp:paragraph -->\n<p>" + "News of the day, told at length. " * 40 + "</p>\n"
    body = (body + "<!-- /wp:paragraph -->\n") * 5
    next_comment = 1
    for number in range(1, posts + 1):
        comments = []
        for index in range(comments_per_post):
            parent = next_comment - 1 if index % 5 else 0
            comments.append(
                Comment(id=next_comment, parent=parent, content=f"Comment {next_comment}. " * 8)
            )
            next_comment += 1
        yield Item(
            id=number,
            title=f"Post {number}",
            name=f"post-{number}",
            content=body,
            comments=comments,
        )


def write_large_export(path: Path, posts: int, comments_per_post: int) -> Path:
    """Stream a large export to ``path`` without holding it in memory."""
    with path.open("w", encoding="utf-8") as file:
        file.write(header())
        for item in large_items(posts, comments_per_post):
            file.write(item.xml() + "\n")
        file.write(FOOTER)
    return path
