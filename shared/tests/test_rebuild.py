"""The rebuild of an article projection from the article states, on fakes: what it upserts,
what it removes and what it leaves to the change consumer, and that a second run changes
nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from broadsheet_shared.events import ArticleStateData, ArticleStateV1, SectionRef
from broadsheet_shared.events.codec import encode_event
from broadsheet_shared.rebuild import (
    KafkaArticleStates,
    RebuildProgress,
    StateRecord,
    rebuild_projection,
)

pytestmark = pytest.mark.unit


def state(article_id: str, revision: int = 1, *, public: bool = True) -> ArticleStateData:
    return ArticleStateData(
        article_id=article_id,
        slug=f"slug-{article_id}",
        title=f"Title {article_id} r{revision}",
        section=SectionRef(slug="news", name="News"),
        url_path=f"/articles/slug-{article_id}",
        comments_open=True,
        published_at=datetime(2026, 1, 1, tzinfo=UTC),
        revision=revision,
        public=public,
    )


class FakeStates:
    """A topic: each read returns what was appended since the previous one."""

    def __init__(self, *records: StateRecord) -> None:
        self.records = list(records)
        self._read = 0
        # Appended right after the first read: published while the rebuild runs.
        self.during_rebuild: list[StateRecord] = []

    async def read(self) -> list[StateRecord]:
        batch = self.records[self._read :]
        self._read = len(self.records)
        if self.during_rebuild:
            self.records += self.during_rebuild
            self.during_rebuild = []
        return batch


class FakeProjection:
    """Keeps the newest revision, as every service's projection does."""

    def __init__(self, *rows: ArticleStateData) -> None:
        self.rows = {row.article_id: row for row in rows}

    async def is_empty(self) -> bool:
        return not self.rows

    async def article_ids(self) -> set[str]:
        return set(self.rows)

    async def restore(self, state: ArticleStateData) -> None:
        current = self.rows.get(state.article_id)
        if current is None or current.revision <= state.revision:
            self.rows[state.article_id] = state

    async def forget(self, article_id: str) -> None:
        self.rows.pop(article_id, None)


async def test_the_latest_state_of_each_article_is_upserted_and_the_rest_removed() -> None:
    states = FakeStates(
        ("a", state("a", 1)),
        ("b", state("b", 1)),
        ("a", state("a", 2)),
        ("c", state("c", 1)),
        ("c", None),  # deleted
        ("d", state("d", 3, public=False)),  # unpublished
    )
    projection = FakeProjection(state("c", 1), state("gone", 1), state("b", 5))
    heard: list[str] = []

    progress = await rebuild_projection(
        states, projection, on_progress=lambda p: heard.append(str(p))
    )

    assert projection.rows == {
        "a": state("a", 2),
        "b": state("b", 5),
        "d": state("d", 3, public=False),
    }
    assert (progress.read, progress.upserted, progress.removed) == (6, 3, 2)
    assert heard[0] == "records read: 6, upserted: 0, removed: 0"
    assert heard[-1] == "records read: 6, upserted: 3, removed: 2"


async def test_an_article_published_while_it_runs_is_not_removed() -> None:
    states = FakeStates(("a", state("a")))
    states.during_rebuild = [("new", state("new"))]
    # The change consumer stored it before the rebuild compared the projection with the topic.
    projection = FakeProjection(state("new"))

    progress = await rebuild_projection(states, projection)

    assert set(projection.rows) == {"a", "new"}
    assert progress.removed == 0


async def test_a_second_run_changes_nothing() -> None:
    states = FakeStates(("a", state("a", 2)), ("b", None), ("c", state("c", 1, public=False)))
    projection = FakeProjection(state("b"), state("x"))
    await rebuild_projection(states, projection)
    once = dict(projection.rows)

    again = await rebuild_projection(FakeStates(*states.records), projection)

    assert projection.rows == once
    assert again.removed == 0


async def test_progress_is_reported_every_so_many_articles() -> None:
    states = FakeStates(*((str(n), state(str(n))) for n in range(5)))
    heard: list[RebuildProgress] = []
    await rebuild_projection(
        states,
        FakeProjection(),
        on_progress=lambda p: heard.append(RebuildProgress(p.read, p.upserted, p.removed)),
        every=2,
    )
    assert [p.upserted for p in heard] == [0, 2, 4, 5]


class FakeReader:
    def __init__(self, records: list[tuple[bytes, bytes | None]]) -> None:
        self.records = records

    async def read(self) -> list[tuple[bytes, bytes | None]]:
        return self.records


async def test_records_from_kafka_are_decoded_tombstones_kept_and_garbage_skipped() -> None:
    key, value, _ = encode_event(ArticleStateV1(subject="a", data=state("a")))
    unknown = orjson.dumps({"type": "article.state", "version": 99, "data": {}})
    reader = FakeReader([(key, value), (b"x", b"{not json"), (b"y", unknown), (b"a", None)])

    records = await KafkaArticleStates(reader).read()  # type: ignore[arg-type]

    assert records == [("a", state("a")), ("a", None)]
