"""``broadsheet-import wxr`` end to end: the command, as a subprocess, against the real platform
(four services, Kafka, the database, the SMTP capture) through the gateway.

The two real WordPress exports are imported and checked against the file (counts, statuses,
dates, sections, tags, bylines, rendered bodies, comment threads); a second run changes nothing;
a run killed with SIGKILL halfway is finished by the next one without duplicates; the edge-case
export lands its pending comment in the moderation queue, sends no mail and renders its
nine-deep thread; every old URL form answers a 301 through the gateway.
"""

from __future__ import annotations

import importlib.util
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from broadsheet_articles.domain import render_markdown
from broadsheet_devstack.pytest_plugin import Infra
from broadsheet_devstack.services import DEFAULT_EDITOR_EMAIL, DEFAULT_EDITOR_PASSWORD
from broadsheet_import.mapping import Planner, PostPlan
from broadsheet_import.wxr import WxrAuthor, WxrCategory, WxrItem, WxrSite, WxrTag, read_wxr

from .conftest import Platform

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
COMMAND = Path(sys.executable).parent / "broadsheet-import"


def _load_factory() -> ModuleType:
    # The importer's own WXR factory (tools/importer/tests): one generator for every edge.
    spec = importlib.util.spec_from_file_location(
        "wxr_factory_e2e", ROOT / "tools" / "importer" / "tests" / "wxr_factory.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


factory = _load_factory()


def _real_exports() -> Path:
    for folder in Path(__file__).resolve().parents:
        candidate = folder / "shared" / "data" / "wxr"
        if (candidate / "64-block-test-data.xml").is_file():
            return candidate
    pytest.skip("the team folder's shared/data/wxr is not beside this checkout")


def run_import(platform: Platform, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMMAND), "wxr", str(path), "--base-url", platform.gateway_url, *extra],
        capture_output=True,
        text=True,
        timeout=600,
        env={
            **os.environ,
            "EDITOR_EMAIL": DEFAULT_EDITOR_EMAIL,
            "EDITOR_PASSWORD": DEFAULT_EDITOR_PASSWORD,
        },
        check=False,
    )


def plans(path: Path) -> tuple[str, list[PostPlan]]:
    """What the file says Broadsheet should hold (the importer's mapping, tested on its own)."""
    planner = Planner(datetime.now(UTC))
    source, found = "", []
    for record in read_wxr(path):
        if isinstance(record, WxrSite):
            source = record.base_blog_url
        elif isinstance(record, WxrItem):
            found.append(planner.plan(record))
        elif isinstance(record, WxrAuthor | WxrCategory | WxrTag):
            planner.remember(record)
    return source, found


@pytest.fixture
def staff(platform: Platform) -> Iterator[httpx.Client]:
    # A token of its own: the session's may be older than its 15 minutes.
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        token = client.post(
            "/api/auth/token",
            data={"username": DEFAULT_EDITOR_EMAIL, "password": DEFAULT_EDITOR_PASSWORD},
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def imported_ids(staff: httpx.Client, kind: str, source: str) -> dict[int, str]:
    found: dict[int, str] = {}
    after = 0
    while True:
        page = staff.get(f"/api/editor/import/{kind}", params={"source": source, "after": after})
        assert page.status_code == 200, page.text
        body = page.json()
        found |= {item["wordpress_id"]: item["id"] for item in body["items"]}
        if body["next_cursor"] is None:
            return found
        after = body["next_cursor"]


def thread(client: httpx.Client, slug: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/articles/{slug}/comments", params={"sort": "oldest", "limit": 100})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def unique_export(tmp_path: Path, items: list[Any], name: str) -> tuple[Path, str]:
    """A generated export under a site URL of its own: its WordPress ids are its own."""
    source = f"https://old-{secrets.token_hex(4)}.example"
    path = tmp_path / name
    path.write_text(factory.document(items).replace("https://old.example", source), "utf-8")
    return path, source


def check_against_file(staff: httpx.Client, path: Path) -> None:
    source, planned = plans(path)
    articles = imported_ids(staff, "articles", source)
    comments = imported_ids(staff, "comments", source)
    wanted = [p for p in planned if p.article is not None]
    assert sorted(articles) == sorted(p.wordpress_id for p in wanted)
    for plan in wanted:
        draft = plan.article
        assert draft is not None
        got = staff.get(f"/api/editor/articles/{articles[plan.wordpress_id]}").json()
        assert got["title"] == draft.title
        assert got["status"] == draft.status
        assert got["section"]["name"] == draft.section.name
        assert got["tags"] == list(draft.tags)
        assert got["authors"] == list(draft.authors)
        assert got["summary"] == draft.summary
        assert got["body"] == draft.body
        assert when(got["created_at"]) == draft.created_at
        assert when(got["updated_at"]) == draft.updated_at
        if draft.status == "published":
            assert draft.published_at is not None
            assert when(got["published_at"]) == draft.published_at
            public = staff.get(f"/api/articles/{got['slug']}").json()
            assert public["body_html"] == render_markdown(draft.body)
            shown = thread(staff, got["slug"])
            by_id = {c["id"]: c for c in shown}
            assert sorted(c["wordpress_id"] for c in shown) == sorted(
                c.wordpress_id for c in plan.comments if c.status == "approved"
            )
            for draft_comment in plan.comments:
                if draft_comment.status != "approved":
                    continue  # held: in the moderation queue, not the thread
                comment = by_id[comments[draft_comment.wordpress_id]]
                assert when(comment["created_at"]) == draft_comment.created_at
                parent = draft_comment.parent_wordpress_id
                assert comment["parent_id"] == (comments[parent] if parent else None)


def test_real_exports_import_exactly_then_a_second_run_changes_nothing(
    platform: Platform, staff: httpx.Client
) -> None:
    exports = _real_exports()
    for name, posts in (("64-block-test-data.xml", 61), ("theme-preview.xml", 7)):
        first = run_import(platform, exports / name)
        assert first.returncode == 0, first.stdout + first.stderr
        assert f"Posts: {posts} created, 0 updated, 0 unchanged" in first.stdout
        assert "Comments: 2 created" in first.stdout
        check_against_file(staff, exports / name)
        again = run_import(platform, exports / name)
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"Posts: 0 created, 0 updated, {posts} unchanged" in again.stdout
        assert "Nothing changed: everything in this file was already imported." in again.stdout


def test_a_killed_import_finishes_on_the_next_run_without_duplicates(
    platform: Platform, staff: httpx.Client, tmp_path: Path
) -> None:
    items = list(factory.large_items(40, 3))
    path, source = unique_export(tmp_path, items, "large.xml")
    process = subprocess.Popen(
        [str(COMMAND), "wxr", str(path), "--base-url", platform.gateway_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while len(imported_ids(staff, "articles", source)) < 8:
            assert process.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)
    assert process.returncode == -signal.SIGKILL
    assert len(imported_ids(staff, "articles", source)) < 40
    finished = run_import(platform, path)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    articles = imported_ids(staff, "articles", source)
    comments = imported_ids(staff, "comments", source)
    assert (len(articles), len(comments)) == (40, 120)
    # No duplicates: one article per post title, three comments on each, nothing more.
    for item in items[::7]:
        got = staff.get(f"/api/editor/articles/{articles[item.id]}").json()
        shown = thread(staff, got["slug"])
        assert sorted(c["wordpress_id"] for c in shown) == sorted(c.id for c in item.comments)
    check_against_file(staff, path)
    again = run_import(platform, path)
    assert "Nothing changed" in again.stdout


def test_edge_cases_pending_to_the_queue_no_mail_and_a_nine_deep_thread(
    platform: Platform, staff: httpx.Client, infra: Infra, tmp_path: Path
) -> None:
    path, source = unique_export(tmp_path, factory.edge_cases(), "edge.xml")
    mail_before = len(infra.mail())
    done = run_import(platform, path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Posts: 7 created" in done.stdout
    check_against_file(staff, path)
    articles = imported_ids(staff, "articles", source)
    comments = imported_ids(staff, "comments", source)
    statuses = {
        wid: staff.get(f"/api/editor/articles/{aid}").json()["status"]
        for wid, aid in articles.items()
    }
    assert statuses == {
        10: "published",
        11: "scheduled",
        12: "draft",  # password-protected
        13: "published",
        14: "published",
        15: "draft",
        16: "draft",
    }
    queue = staff.get("/api/editor/comments", params={"status": "pending", "limit": 100}).json()
    assert comments[200] in {c["id"] for c in queue["items"]}
    threads_slug = staff.get(f"/api/editor/articles/{articles[10]}").json()["slug"]
    page = staff.get(f"/articles/{threads_slug}")
    assert page.status_code == 200
    html = page.text
    for wid in range(100, 109):
        assert f'<span id="comment-{wid}"></span>' in html
        assert f"Depth {wid - 100}" in html
    # The nine-deep chain nests as deep as the page shows threads (five levels).
    assert html.count('<ol class="children">') >= 4
    unicode_slug = staff.get(f"/api/editor/articles/{articles[13]}").json()["slug"]
    unicode_page = staff.get(f"/articles/{unicode_slug}").text
    assert "مرحبا بالعالم 🌍" in unicode_page
    assert "שלום עולם 👋" in unicode_page
    assert "Zoë 🦊" in unicode_page
    # Imported comments are history: no confirmation, no reply mail, to anyone. The
    # notifications consumer has had the events (they precede this later article's).
    time.sleep(3)
    assert len(infra.mail()) == mail_before


def test_every_old_link_form_answers_a_301_through_the_gateway(
    platform: Platform, tmp_path: Path
) -> None:
    tag = f"tag-{secrets.token_hex(3)}"
    name = f"old-post-{secrets.token_hex(3)}"
    wid = 700_000 + secrets.randbelow(100_000)
    post = factory.Item(
        id=wid,
        title="An old post",
        name=name,
        date_gmt="2019-05-06 07:08:09",
        link=f"https://old.example/archives/{wid}",
        terms=[("category", f"cat-{tag}", f"Category {tag}"), ("post_tag", tag, tag)],
    )
    path, _ = unique_export(tmp_path, [post], "links.xml")
    done = run_import(platform, path)
    assert done.returncode == 0, done.stdout + done.stderr
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        article = client.get("/api/articles", params={"tag": tag, "limit": 1}).json()["items"][0]
        target = f"/articles/{article['slug']}"
        section = article["section"]["slug"]
        expected = {
            f"/?p={wid}": target,
            f"/2019/05/06/{name}/": target,
            f"/2019/05/{name}/": target,
            f"/{name}/": target,
            f"/{name}": target,
            f"/archives/{wid}": target,  # the link the export had, whatever its structure
            f"/category/cat-{tag}/": f"/sections/{section}",
            f"/category/cat-{tag}/feed/": f"/sections/{section}/feed.xml",
            f"/tag/{tag}/": f"/tags/{tag}",
            "/feed/": "/feed.xml",
        }
        for old, new in expected.items():
            response = client.get(old, follow_redirects=False)
            assert (response.status_code, response.headers.get("location")) == (301, new), old
        assert client.get(f"/2019/05/07/{name}/").status_code == 404  # wrong day
        assert client.get("/no-such-old-post/").status_code == 404
        tag_page = client.get(f"/tags/{tag}")
        assert tag_page.status_code == 200
        assert "An old post" in tag_page.text
        assert re.search(r"<h1>Tagged", tag_page.text)
