"""Mapping rules on parsed items: statuses, dates, slugs, bylines, sections and tags, skips and
reports, and comment threads in an order where every parent comes first."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from broadsheet_import.importer import permalink_structure
from broadsheet_import.mapping import (
    Planner,
    PostPlan,
    gmt_date,
    make_slug,
    normalize_tags,
    plan_comments,
)
from broadsheet_import.wxr import WxrComment, WxrItem, WxrSite, read_wxr

from .wxr_factory import Comment, Item, edge_cases, write

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def plans(path: Path, now: datetime = NOW) -> dict[int, PostPlan]:
    planner = Planner(now)
    out: dict[int, PostPlan] = {}
    for record in read_wxr(path):
        if isinstance(record, WxrItem):
            out[record.post_id] = planner.plan(record)
        elif not isinstance(record, WxrSite):
            planner.remember(record)
    return out


@pytest.fixture
def edge(tmp_path: Path) -> dict[int, PostPlan]:
    return plans(write(tmp_path / "edge.xml", edge_cases()))


def test_published_post_keeps_dates_slug_byline_section(edge: dict[int, PostPlan]) -> None:
    article = edge[10].article
    assert article is not None
    assert article.status == "published"
    assert article.published_at == datetime(2020, 1, 1, 11, tzinfo=UTC)  # GMT, not local
    assert article.created_at == article.published_at
    assert article.updated_at == datetime(2020, 1, 3, 9, tzinfo=UTC)
    assert article.slug == "threads"
    assert article.authors == ("Ed Itor",)  # the display name, not the login
    assert (article.section.name, article.section.wordpress_slug) == ("News", "news")
    assert article.wordpress_link == "https://old.example/?p=10"


def test_statuses(edge: dict[int, PostPlan]) -> None:
    future = edge[11].article
    assert future is not None
    assert (future.status, future.scheduled_at, future.published_at) == (
        "scheduled",
        datetime(2999, 1, 1, 7, tzinfo=UTC),
        None,
    )
    secret = edge[12]
    assert secret.article is not None
    assert secret.article.status == "draft"
    assert secret.article.published_at is None
    assert "password-protected: imported as a draft" in secret.reports
    assert edge[15].article is not None
    assert edge[15].article.status == "draft"
    assert edge[16].article is not None
    assert edge[16].article.status == "draft"  # pending review
    assert edge[17].skipped == "status private"
    assert edge[18].skipped == "status trash"
    assert edge[19].skipped == "type page"
    assert edge[20].skipped == "type attachment"
    assert edge[21].skipped == "type nav_menu_item"


def test_a_schedule_already_passed_is_a_draft_and_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "late.xml", [Item(id=1, status="future")])
    plan = plans(path)[1]
    assert plan.article is not None
    assert plan.article.status == "draft"
    assert "scheduled date already passed: imported as a draft" in plan.reports


def test_zero_gmt_date_falls_back_to_the_local_date(edge: dict[int, PostPlan]) -> None:
    article = edge[15].article
    assert article is not None
    assert article.created_at == datetime(2021, 5, 5, 5, 5, 5, tzinfo=UTC)
    assert gmt_date("0000-00-00 00:00:00", "") is None
    assert gmt_date("garbage", "2020-02-02 02:02:02") == datetime(2020, 2, 2, 2, 2, 2, tzinfo=UTC)


def test_unicode_everywhere(edge: dict[int, PostPlan]) -> None:
    plan = edge[13]
    article = plan.article
    assert article is not None
    assert article.title == "Ünïcödé — سلام 🎉"
    assert article.wordpress_post_name == "سلام"  # percent-decoded, for old links
    assert article.slug == "slm"  # transliterated: Broadsheet slugs are [a-z0-9-]
    assert article.authors == ("مريم العربية",)
    assert article.section.name == "أخبار"
    assert article.tags == ("émoji 🎉",)
    assert "مرحبا بالعالم 🌍" in article.body
    assert "日本語のテキスト" in article.body
    [comment] = plan.comments
    assert comment.author_name == "Zoë 🦊"
    assert comment.body == "שלום עולם 👋"


def test_a_post_with_no_content_is_imported_empty_and_reported(edge: dict[int, PostPlan]) -> None:
    plan = edge[14]
    assert plan.article is not None
    assert plan.article.body == ""
    assert "no content" in plan.reports


def test_slugs() -> None:
    assert make_slug("hello-world", "Ignored", 1) == "hello-world"
    assert make_slug("", "Hello, World!", 1) == "hello-world"
    assert make_slug("%e6%97%a5%e6%9c%ac", "", 1) == "ri-ben"
    assert make_slug("", "", 42) == "post-42"
    assert len(make_slug("x" * 300, "", 1)) <= 120


def test_first_category_is_the_section_the_rest_are_tags(tmp_path: Path) -> None:
    terms = [
        ("category", "world", "World"),
        ("post_tag", "elections", "Elections"),
        ("category", "europe", "Europe"),
        ("post_tag", "dup", "EUROPE"),
        ("series", "x", "Other taxonomy"),
    ]
    plan = plans(write(tmp_path / "t.xml", [Item(id=1, terms=terms)]))[1]
    assert plan.article is not None
    assert plan.article.section.name == "World"
    assert plan.article.tags == ("europe", "elections")


def test_wxr_1_0_tags_in_the_tag_domain(tmp_path: Path) -> None:
    path = write(
        tmp_path / "old.xml",
        [Item(id=1, terms=[("category", "news", "News"), ("tag", "old", "Old Tag")])],
        version="1.0",
    )
    plan = plans(path)[1]
    assert plan.article is not None
    assert plan.article.tags == ("old tag",)


def test_content_pointing_at_attachments_keeps_their_urls(tmp_path: Path) -> None:
    url = "https://old.example/wp-content/uploads/2020/01/photo.jpg"
    path = write(
        tmp_path / "media.xml",
        [
            Item(id=1, content=f'<img src="{url}" alt="Photo" /> <a href="{url}">full size</a>'),
            Item(id=2, title="photo.jpg", type="attachment", status="inherit"),
        ],
    )
    result = plans(path)
    assert result[2].skipped == "type attachment"
    article = result[1].article
    assert article is not None
    assert f"![Photo]({url})" in article.body
    assert f"[full size]({url})" in article.body


def test_no_category_means_uncategorized(tmp_path: Path) -> None:
    plan = plans(write(tmp_path / "t.xml", [Item(id=1, terms=[("", "", "Loose")])]))[1]
    assert plan.article is not None
    assert plan.article.section.name == "Uncategorized"
    assert plan.article.tags == ()


def test_tags_are_limited_and_reported(tmp_path: Path) -> None:
    terms = [("post_tag", f"t{n}", f"Tag {n}") for n in range(25)]
    plan = plans(write(tmp_path / "t.xml", [Item(id=1, terms=terms)]))[1]
    assert plan.article is not None
    assert len(plan.article.tags) == 20
    assert "5 tags over the limit of 20 left out" in plan.reports
    assert normalize_tags(["  A  b ", "a B", "x" * 60]) == ["a b", "x" * 50]


def test_nine_deep_thread_comes_parents_first_though_the_file_lists_it_backwards(
    edge: dict[int, PostPlan],
) -> None:
    comments = edge[10].comments
    order = [c.wordpress_id for c in comments]
    thread = [c for c in comments if 100 <= c.wordpress_id <= 108]
    assert [c.wordpress_id for c in thread] == list(range(100, 109))
    assert [c.parent_wordpress_id for c in thread] == [None, *range(100, 108)]
    position = {wid: i for i, wid in enumerate(order)}
    for comment in comments:
        if comment.parent_wordpress_id is not None:
            assert position[comment.parent_wordpress_id] < position[comment.wordpress_id]


def test_comment_statuses_and_skips(edge: dict[int, PostPlan]) -> None:
    plan = edge[10]
    statuses = {c.wordpress_id: c.status for c in plan.comments}
    assert statuses[200] == "pending"
    assert statuses[100] == "approved"
    assert set(statuses).isdisjoint({201, 202, 203, 204})
    assert plan.skipped_comments == {"spam": 1, "trash": 1, "pingback": 1, "trackback": 1}
    # A reply to a spam comment hangs from the article, not from nothing.
    assert next(c for c in plan.comments if c.wordpress_id == 205).parent_wordpress_id is None


def test_comments_of_skipped_posts_are_counted(edge: dict[int, PostPlan], tmp_path: Path) -> None:
    path = write(tmp_path / "p.xml", [Item(id=1, type="page", comments=[Comment(id=1)])])
    assert plans(path)[1].skipped_comments == {"on a page": 1}
    path = write(tmp_path / "q.xml", [Item(id=2, status="private", comments=[Comment(id=2)])])
    assert plans(path)[2].skipped_comments == {"post not imported": 1}


def _comment(cid: int, parent: int, date: str = "2020-01-01 00:00:00") -> WxrComment:
    return WxrComment(cid, parent, "A", "", "", "", date, date, f"c{cid}", "1", "")


def test_a_parent_cycle_in_the_file_is_broken_not_lost() -> None:
    ordered, _, failed = plan_comments((_comment(1, 2), _comment(2, 1), _comment(3, 0)))
    assert sorted(c.wordpress_id for c in ordered) == [1, 2, 3]
    assert not failed
    roots = [c for c in ordered if c.parent_wordpress_id is None]
    assert {c.wordpress_id for c in roots} >= {3}
    assert len(roots) == 2


def test_unreadable_comments_fail_with_their_id() -> None:
    ordered, _, failed = plan_comments(
        (
            _comment(1, 0, "not a date"),
            _comment(0, 0),
            _comment(3, 0).__class__(
                3, 0, "A", "", "", "", "2020-01-01 00:00:00", "", "   ", "1", ""
            ),
        )
    )
    assert ordered == []
    assert failed == [
        (1, "no readable comment date"),
        (0, "no WordPress comment id"),
        (3, "no text"),
    ]


def test_reply_order_is_by_date_within_a_parent() -> None:
    ordered, _, _ = plan_comments(
        (
            _comment(5, 1, "2020-01-03 00:00:00"),
            _comment(4, 1, "2020-01-02 00:00:00"),
            _comment(1, 0, "2020-01-01 00:00:00"),
        )
    )
    assert [c.wordpress_id for c in ordered] == [1, 4, 5]


@pytest.mark.parametrize(
    ("link", "name", "structure"),
    [
        ("https://old.example/?p=7", "x", "/?p=%post_id%"),
        ("https://old.example/2020/01/01/hello/", "hello", "/%year%/%monthnum%/%day%/%postname%/"),
        ("https://old.example/2020/01/hello/", "hello", "/%year%/%monthnum%/%postname%/"),
        ("https://old.example/hello/", "hello", "/%postname%/"),
        ("https://old.example/archives/7", "hello", "/archives/%post_id%"),
        ("https://old.example/blog/news/hello/", "hello", "/news/%postname%/"),
    ],
)
def test_permalink_structure_is_read_back_from_a_link(link: str, name: str, structure: str) -> None:
    item = WxrItem(
        post_id=7, title="", link=link, guid="", creator="", post_name=name, post_type="post",
        status="publish", post_date="2020-01-01 12:00:00", post_date_gmt="", post_modified="",
        post_modified_gmt="", post_password="", comment_status="open", post_parent=0, excerpt="",
        content="", attachment_url="",
    )  # fmt: skip
    base = "https://old.example/blog" if "/blog/" in link else "https://old.example"
    assert permalink_structure(item, base) == structure
