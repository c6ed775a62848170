"""The import run against the in-memory platform: counts, idempotence (a second run writes
nothing and says so), resumability (a run stopped after any write is finished by the next, with
no duplicates), retries while the comments service catches up, progress, and the command."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from broadsheet_import import cli, http, progress
from broadsheet_import.importer import Importer, Summary
from broadsheet_import.mapping import CommentDraft
from broadsheet_import.memory import InMemoryPlatform
from broadsheet_import.platform import NotVisibleYet, Upserted
from broadsheet_import.progress import LogProgress, TerminalProgress, count_items, progress_for
from broadsheet_import.wxr import NotXml

from .wxr_factory import Comment, Item, edge_cases, write, write_large_export

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class NoProgress:
    def start(self, totals: dict[str, int]) -> None:
        pass

    def advance(self, kind: str, count: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


async def run(path: Path, platform: InMemoryPlatform) -> Summary:
    summary = Summary()
    await Importer(platform=platform, progress=NoProgress(), now=NOW).run(path, summary)
    return summary


@pytest.fixture
def edge_file(tmp_path: Path) -> Path:
    return write(tmp_path / "edge.xml", edge_cases())


def state(platform: InMemoryPlatform) -> tuple[object, ...]:
    """What a reader would see: articles and comments by WordPress id, with threads by
    WordPress id (platform ids may differ between runs)."""
    by_platform_id = {c.id: wid for (_, wid), c in platform.comments.items()}
    return (
        sorted(
            (wid, section, draft) for (_, wid), (_, section, draft) in platform.articles.items()
        ),
        sorted(
            (wid, c.draft, by_platform_id.get(c.parent_id) if c.parent_id else None)
            for (_, wid), c in platform.comments.items()
        ),
        sorted(platform.sections.items()),
    )


async def test_edge_file_counts(edge_file: Path) -> None:
    platform = InMemoryPlatform()
    summary = await run(edge_file, platform)
    assert summary.posts.created == 7  # posts 10 to 16
    assert summary.posts.skipped == {
        "status private": 1,
        "status trash": 1,
        "type page": 1,
        "type attachment": 1,
        "type nav_menu_item": 1,
    }
    assert summary.comments.created == 9 + 1 + 1 + 1  # thread, pending, reply to spam, unicode
    assert summary.comments.skipped == {"spam": 1, "trash": 1, "pingback": 1, "trackback": 1}
    assert not summary.posts.failed
    assert not summary.comments.failed
    reported = dict(summary.posts.reported)
    assert reported[12] == "password-protected: imported as a draft"
    assert reported[14] == "no content"
    assert summary.changed


async def test_second_run_changes_nothing_and_says_so(edge_file: Path) -> None:
    platform = InMemoryPlatform()
    await run(edge_file, platform)
    before, writes = state(platform), platform.writes
    again = await run(edge_file, platform)
    assert platform.writes == writes
    assert state(platform) == before
    assert (again.posts.created, again.posts.updated, again.posts.unchanged) == (0, 0, 7)
    assert (again.comments.created, again.comments.updated, again.comments.unchanged) == (0, 0, 12)
    assert not again.changed
    assert again.lines(dry_run=False)[-1] == (
        "Nothing changed: everything in this file was already imported."
    )


async def test_an_edited_post_is_updated_not_duplicated(tmp_path: Path) -> None:
    platform = InMemoryPlatform()
    path = write(tmp_path / "a.xml", [Item(id=1, title="Before", comments=[Comment(id=1)])])
    await run(path, platform)
    write(path, [Item(id=1, title="After", comments=[Comment(id=1, content="Edited")])])
    summary = await run(path, platform)
    assert (summary.posts.updated, summary.comments.updated) == (1, 1)
    assert len(platform.articles) == 1
    assert len(platform.comments) == 1
    [(_, _, draft)] = platform.articles.values()
    assert draft.title == "After"


class Stop(BaseException):
    """Stands for Ctrl-C or a killed service: not an error the importer may catch."""


@dataclass
class StoppingPlatform(InMemoryPlatform):
    stop_after: int = 0

    def _tick(self) -> None:
        if self.writes >= self.stop_after:
            raise Stop

    async def upsert_article(self, source: str, section: str, draft: object) -> Upserted:
        self._tick()
        return await super().upsert_article(source, section, draft)  # type: ignore[arg-type]

    async def upsert_comment(
        self, source: str, article_id: str, parent_id: str | None, draft: CommentDraft
    ) -> Upserted:
        self._tick()
        return await super().upsert_comment(source, article_id, parent_id, draft)


async def test_stopped_after_any_write_the_next_run_finishes_without_duplicates(
    edge_file: Path,
) -> None:
    reference = InMemoryPlatform()
    await run(edge_file, reference)
    total = reference.writes
    assert total > 15
    for stop_after in range(total):
        platform = StoppingPlatform(stop_after=stop_after)
        with pytest.raises(Stop):
            await run(edge_file, platform)
        platform.stop_after = 10**9
        await run(edge_file, platform)
        assert state(platform) == state(reference), stop_after
        assert len(platform.comments) == len(reference.comments)


@dataclass
class LaggingPlatform(InMemoryPlatform):
    """The comments service learns of a new article only after a few refusals."""

    lag: int = 2
    sleeps: int = 0

    async def upsert_comment(
        self, source: str, article_id: str, parent_id: str | None, draft: CommentDraft
    ) -> Upserted:
        if self.lag:
            self.lag -= 1
            raise NotVisibleYet(f"article {article_id} not in the comments projection")
        return await super().upsert_comment(source, article_id, parent_id, draft)


async def test_comments_wait_for_the_article_to_reach_the_comments_service(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "a.xml", [Item(id=1, comments=[Comment(id=1)])])
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    platform = LaggingPlatform(lag=2)
    summary = Summary()
    importer = Importer(platform=platform, progress=NoProgress(), now=NOW, sleep=sleep)
    await importer.run(path, summary)
    assert summary.comments.created == 1
    assert slept == [0.5, 1.0]

    never = LaggingPlatform(lag=100)
    summary = Summary()
    importer = Importer(
        platform=never, progress=NoProgress(), now=NOW, sleep=sleep, retry_delays=(0.1, 0.2)
    )
    await importer.run(path, summary)
    assert summary.comments.failed == [(1, "article a1 not in the comments projection")]


async def test_a_truncated_file_keeps_what_was_imported_and_a_rerun_of_the_whole_file_finishes(
    tmp_path: Path,
) -> None:
    items = [Item(id=n, comments=[Comment(id=n * 10)]) for n in range(1, 6)]
    whole = write(tmp_path / "whole.xml", items)
    text = whole.read_text()
    cut = tmp_path / "cut.xml"
    cut.write_text(text[: text.index("<wp:post_id>4")])
    platform = InMemoryPlatform()
    with pytest.raises(NotXml):
        await run(cut, platform)
    assert len(platform.articles) == 3
    summary = await run(whole, platform)
    assert (summary.posts.created, summary.posts.unchanged) == (2, 3)
    assert len(platform.articles) == 5


def test_count_items_across_chunk_seams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_large_export(tmp_path / "l.xml", posts=7, comments_per_post=3)
    for chunk in (5, 7, 11, 12, 13, 1 << 20):
        monkeypatch.setattr(progress, "_CHUNK", chunk)
        assert count_items(path) == {"posts": 7, "comments": 21}, chunk


def test_log_progress_writes_a_line_per_kind_at_intervals() -> None:
    stream = io.StringIO()
    ticks = iter([0.0, 1.0, 6.0, 7.0, 8.0])
    log = LogProgress(stream, interval=5.0, clock=lambda: next(ticks))
    log.start({"posts": 2, "comments": 4})
    log.advance("posts")  # t=1: quiet
    log.advance("comments", 4)  # t=6: a line per kind
    log.advance("posts")  # t=7: quiet
    log.finish()  # t=8: the final lines
    assert stream.getvalue().splitlines() == [
        "posts: 1/2 (0/s)",
        "comments: 4/4 (1/s)",
        "posts: 2/2 (0/s)",
        "comments: 4/4 (0/s)",
    ]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_on_a_terminal_lines_otherwise() -> None:
    assert isinstance(progress_for(io.StringIO()), LogProgress)
    terminal = FakeTerminal()
    bars = progress_for(terminal)
    assert isinstance(bars, TerminalProgress)
    bars.start({"posts": 2, "comments": 3})
    bars.advance("posts", 2)
    bars.advance("comments", 3)
    bars.finish()
    shown = terminal.getvalue()
    assert "posts" in shown
    assert "2/2" in shown
    assert "3/3" in shown


def test_dry_run_command_on_the_real_exports(
    real_exports: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["wxr", str(real_exports / "64-block-test-data.xml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Theme test data: Blocks (https://wpthemetestdata.wordpress.com), WXR 1.2" in out
    assert "Permalink structure: /%postname%/" in out
    assert (
        "Posts: 61 would create, 0 would update, 0 unchanged, 11 skipped "
        "(type attachment: 9, type page: 1, type wp_navigation: 1), 0 failed"
    ) in out
    assert "Comments: 2 would create, 0 would update, 0 unchanged, 0 skipped, 0 failed" in out
    assert cli.main(["wxr", str(real_exports / "theme-preview.xml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Posts: 7 would create" in out
    assert "Comments: 2 would create" in out


def test_dry_run_reports_and_stops_clearly_on_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "feed.xml"
    bad.write_text('<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>')
    assert cli.main(["wxr", str(bad), "--dry-run"]) == 1
    assert "Stopped: not a WordPress export: RSS without the WordPress (wp:) namespace" in (
        capsys.readouterr().out
    )
    assert cli.main(["wxr", str(tmp_path / "nope.xml"), "--dry-run"]) == 1
    assert "Cannot read" in capsys.readouterr().err


def test_without_dry_run_an_unreachable_platform_stops_the_run_clearly(
    edge_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http, "_SERVER_RETRIES", (0.0,))
    # Port 9 (discard) has no listener here: the connection is refused at once.
    assert cli.main(["wxr", str(edge_file), "--base-url", "http://127.0.0.1:9"]) == 1
    out = capsys.readouterr().out
    assert "Stopped: Cannot reach Broadsheet at http://127.0.0.1:9" in out
    assert "Run the same command again to finish" in out


async def test_a_given_permalink_structure_makes_the_old_links(tmp_path: Path) -> None:
    # The export's links are ?p= (exported from a copy without pretty permalinks); the operator
    # says how the live site linked its posts.
    item = Item(
        id=7,
        name="hello-world",
        date="2019-03-04 05:06:07",
        terms=[("category", "foreign-affairs", "Foreign Affairs")],
    )
    path = write(tmp_path / "a.xml", [item])
    platform = InMemoryPlatform()
    structure = "/%category%/%year%/%monthnum%/%day%/%postname%-%post_id%/"
    importer = Importer(
        platform=platform, progress=NoProgress(), now=NOW, permalink_structure=structure
    )
    await importer.run(path, Summary())
    [(_, _, draft)] = platform.articles.values()
    assert draft.wordpress_link.endswith("/foreign-affairs/2019/03/04/hello-world-7/")
    # Without the option the export's own link is kept.
    other = InMemoryPlatform()
    await run(path, other)
    [(_, _, plain)] = other.articles.values()
    assert plain.wordpress_link.endswith("/?p=7")
