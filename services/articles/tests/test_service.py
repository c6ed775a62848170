from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from broadsheet_articles.commands import (
    CreateArticle,
    CreateSection,
    EditArticle,
    PublishArticle,
    RenameSection,
    ReorderSections,
)
from broadsheet_articles.domain import ArticleChanges, ArticleStatus
from broadsheet_articles.service import Redirect
from broadsheet_shared.auth import Principal
from broadsheet_shared.errors import Conflict, InvalidField, NotFound, StaleRevision
from broadsheet_shared.events import (
    ArticleDeletedV2,
    ArticlePublishedV1,
    ArticleStateV1,
    ArticleUnpublishedV2,
    ArticleUpdatedV1,
    Tombstone,
    topics,
)

from .conftest import BULK_TIMEOUT

pytestmark = pytest.mark.unit


def command(**overrides: Any) -> CreateArticle:
    fields: dict[str, Any] = {"title": "Talks resume", "body": "Body", "section": "Foreign Affairs"}
    fields.update(overrides)
    return CreateArticle(**fields)


def edit(article_id: str, revision: int | None, **changes: Any) -> EditArticle:
    section, slug = changes.pop("section", None), changes.pop("slug", None)
    return EditArticle(article_id, revision, ArticleChanges(**changes), section=section, slug=slug)


async def test_create_makes_a_draft_with_a_unique_slug(world: Any, editor: Any) -> None:
    first = await world.service.create(command(), editor)
    second = await world.service.create(command(), editor)
    assert first.status is ArticleStatus.DRAFT
    assert (first.slug, second.slug) == ("talks-resume", "talks-resume-2")
    assert first.authors == ["Ada Editor"]
    assert first.section.slug == "foreign-affairs"
    assert world.article_events() == []


async def test_an_unknown_section_is_a_field_error(world: Any, editor: Any) -> None:
    with pytest.raises(InvalidField) as caught:
        await world.service.create(command(section="Sport"), editor)
    assert caught.value.extensions["errors"][0]["loc"] == ["body", "section"]


async def test_publish_emits_exactly_one_published_event(world: Any, editor: Any) -> None:
    article = await world.service.create(command(), editor)
    published = await world.service.publish(PublishArticle(article.id), editor)
    assert published.status is ArticleStatus.PUBLISHED
    assert [type(e) for e in world.article_events()] == [ArticlePublishedV1]
    event = world.article_events()[0]
    assert event.subject == article.id
    assert event.data.url_path == "/articles/talks-resume"
    with pytest.raises(Conflict, match="already published"):
        await world.service.publish(PublishArticle(article.id), editor)
    assert len(world.article_events()) == 1


async def test_a_stale_revision_is_refused_with_412(world: Any, editor: Any) -> None:
    article = await world.service.create(command(), editor)
    await world.service.edit(edit(article.id, article.revision, body="v2"), editor)
    with pytest.raises(StaleRevision) as caught:
        await world.service.edit(edit(article.id, article.revision, body="v3"), editor)
    assert caught.value.extensions == {"current_revision": article.revision + 1}
    assert (await world.service.get(article.id)).body == "v2"


async def test_editing_a_draft_title_moves_its_slug_and_frees_the_old(
    world: Any, editor: Any
) -> None:
    article = await world.service.create(command(), editor)
    edited = await world.service.edit(edit(article.id, 1, title="Talks fail"), editor)
    assert edited.slug == "talks-fail"
    assert edited.previous_slugs == []
    other = await world.service.create(command(), editor)
    assert other.slug == "talks-resume"
    assert world.article_events() == []


async def test_editing_a_published_article_keeps_its_slug_and_emits_updated(
    world: Any, editor: Any
) -> None:
    article = await world.service.create(command(), editor)
    article = await world.service.publish(PublishArticle(article.id), editor)
    edited = await world.service.edit(
        edit(article.id, article.revision, title="Talks fail"), editor
    )
    assert edited.slug == "talks-resume"
    assert edited.revision == article.revision + 1
    assert isinstance(world.article_events()[-1], ArticleUpdatedV1)
    assert world.article_events()[-1].data.title == "Talks fail"
    revisions = await world.service.revisions(article.id)
    assert [r.reason for r in revisions] == ["edited", "published", "created"]
    assert revisions[-1].content["title"] == "Talks resume"


async def test_a_changed_slug_redirects_from_the_old_one(world: Any, editor: Any) -> None:
    article = await world.service.create(command(), editor)
    article = await world.service.publish(PublishArticle(article.id), editor)
    edited = await world.service.edit(
        edit(article.id, article.revision, slug="geneva-talks"), editor
    )
    assert edited.previous_slugs == ["talks-resume"]
    assert world.article_events()[-1].data.previous_slugs == ["talks-resume"]
    assert await world.service.public_article("talks-resume") == Redirect("geneva-talks")
    assert (await world.service.public_article("geneva-talks")).id == article.id
    # The old slug stays reserved for the redirect.
    assert (await world.service.create(command(), editor)).slug == "talks-resume-2"


async def test_an_explicit_slug_that_is_taken_gets_a_suffix(world: Any, editor: Any) -> None:
    await world.service.create(command(title="Taken"), editor)
    article = await world.service.create(command(), editor)
    edited = await world.service.edit(edit(article.id, None, slug="taken"), editor)
    assert edited.slug == "taken-2"


async def test_an_invalid_explicit_slug_is_a_field_error(world: Any, editor: Any) -> None:
    article = await world.service.create(command(), editor)
    with pytest.raises(InvalidField) as caught:
        await world.service.edit(edit(article.id, None, slug="Not A Slug"), editor)
    assert caught.value.field == "slug"


async def test_drafts_and_unpublished_articles_are_not_public(world: Any, editor: Any) -> None:
    article = await world.service.create(command(), editor)
    with pytest.raises(NotFound):
        await world.service.public_article(article.slug)
    await world.service.publish(PublishArticle(article.id), editor)
    await world.service.unpublish(article.id, editor)
    assert isinstance(world.article_events()[-1], ArticleUnpublishedV2)
    with pytest.raises(NotFound, match="No such article"):
        await world.service.public_article(article.slug)


async def test_a_scheduled_article_is_published_once_when_due(world: Any, editor: Any) -> None:
    article = await world.service.create(command(), editor)
    at = world.clock.now + timedelta(minutes=5)
    scheduled = await world.service.publish(PublishArticle(article.id, at), editor)
    assert scheduled.status is ArticleStatus.SCHEDULED
    assert await world.service.publish_due() == 0
    world.clock.advance(minutes=5)
    assert await world.service.publish_due() == 1
    assert await world.service.publish_due() == 0
    assert [type(e) for e in world.article_events()] == [ArticlePublishedV1]
    assert (await world.service.get(article.id)).status is ArticleStatus.PUBLISHED


async def test_a_publish_time_in_the_past_publishes_now(world: Any, editor: Any) -> None:
    article = await world.service.create(command(), editor)
    done = await world.service.publish(
        PublishArticle(article.id, world.clock.now - timedelta(days=1)), editor
    )
    assert done.status is ArticleStatus.PUBLISHED
    assert done.published_at == world.clock.now


async def test_only_drafts_are_deleted_and_their_slug_is_freed(world: Any, editor: Any) -> None:
    article = await world.service.create(command(), editor)
    await world.service.delete(article.id, editor)
    assert isinstance(world.article_events()[-1], ArticleDeletedV2)
    again = await world.service.create(command(), editor)
    assert again.slug == "talks-resume"
    await world.service.publish(PublishArticle(again.id), editor)
    with pytest.raises(Conflict, match="Only drafts can be deleted"):
        await world.service.delete(again.id, editor)


async def test_public_list_is_newest_first_filtered_and_paged(world: Any, editor: Any) -> None:
    ids = []
    for i in range(5):
        article = await world.service.create(
            command(title=f"Story {i}", section="World" if i % 2 else "politics", tags=["Iran"]),
            editor,
        )
        await world.service.publish(PublishArticle(article.id), editor)
        world.clock.advance(minutes=1)
        ids.append(article.id)
    await world.service.create(command(title="Unpublished"), editor)
    page = await world.service.list_public(section=None, tag=None, after=None, limit=3)
    assert [a.id for a in page] == ids[::-1][:3]
    last = page[-1]
    rest = await world.service.list_public(
        section=None, tag=None, after=(last.published_at, last.id), limit=3
    )
    assert [a.id for a in rest] == ids[::-1][3:]
    world_only = await world.service.list_public(section="World", tag="IRAN", after=None, limit=9)
    assert {a.id for a in world_only} == {ids[1], ids[3]}
    assert await world.service.list_public(section="Sport", tag=None, after=None, limit=9) == []


async def test_sections_are_seeded_once_and_managed(world: Any, editor: Any) -> None:
    await world.section_service.seed(["Sport"])  # not a fresh installation: ignored
    assert "sport" not in {s.slug for s in await world.section_service.all()}
    section = await world.section_service.create(CreateSection("Sport"), editor)
    assert section.slug == "sport"
    with pytest.raises(Conflict):
        await world.section_service.create(CreateSection("sport"), editor)
    await world.service.create(command(section="sport"), editor)
    with pytest.raises(Conflict, match="still has articles"):
        await world.section_service.delete("sport", editor)
    renamed = await world.service.rename_section(RenameSection("sport", "Sports"), editor)
    assert renamed.name == "Sports"
    listed = await world.service.list_staff(
        status=None, section="Sports", tag=None, offset=0, limit=10
    )
    assert listed[0][0].section.name == "Sports"


async def test_sections_are_reordered_as_a_whole_and_the_order_is_audited(
    world: Any, editor: Any
) -> None:
    ordered = await world.section_service.reorder(
        ReorderSections(["politics", "world", "foreign-affairs"]), editor
    )
    assert [s.slug for s in ordered] == ["politics", "world", "foreign-affairs"]
    assert [s.position for s in await world.section_service.all()] == [0, 1, 2]
    (entry,) = world.audit()
    assert (entry.data.action, entry.data.details) == (
        "sections.reordered",
        {"order": "politics,world,foreign-affairs"},
    )
    # An order from a stale list (a section missing, or one twice) changes nothing.
    for stale in (["politics", "world"], ["politics", "world", "world"]):
        with pytest.raises(Conflict, match="changed meanwhile"):
            await world.section_service.reorder(ReorderSections(stale), editor)
    assert [s.slug for s in await world.section_service.all()] == [
        "politics",
        "world",
        "foreign-affairs",
    ]


async def test_renaming_a_section_updates_its_published_articles_events(
    world: Any, editor: Any
) -> None:
    await world.section_service.create(CreateSection("Sport"), editor)
    public = await world.service.create(command(section="sport", title="Cup final"), editor)
    await world.service.publish(PublishArticle(public.id), editor)
    draft = await world.service.create(command(section="sport", title="Draft"), editor)
    before = len(world.article_events())
    revision = (await world.service.get(public.id)).revision

    await world.service.rename_section(RenameSection("sport", "Sports"), editor)

    events = world.article_events()[before:]
    assert [type(e) for e in events] == [ArticleUpdatedV1]
    assert events[0].data.article_id == public.id
    assert events[0].data.section.name == "Sports"
    assert (await world.service.get(public.id)).revision == revision + 1
    assert (await world.service.get(draft.id)).section.name == "Sports"


async def test_a_section_rename_has_the_bulk_time_budget_other_changes_the_default(
    world: Any,
) -> None:
    # A rename rewrites every article of the section in one transaction: one request's bound
    # (1.5 s) would turn a big section's rename into a 503.
    editor = Principal(subject="u1", role="admin", name="Ed")
    await world.service.create(command(section="world", title="One"), editor)
    await world.service.rename_section(RenameSection("world", "World news"), editor)
    assert world.uow.timeouts == [None, BULK_TIMEOUT]


# -- the audit log: each staff action records its entry, in its own transaction ----------------

ADMIN = Principal(subject="a1", role="admin", name="Ada Admin", client="198.51.100.7")


def audited(world: Any) -> list[tuple[str, str, str, str]]:
    return [(e.data.action, e.data.target, e.data.actor_id, e.data.client) for e in world.audit()]


async def test_every_article_and_section_action_is_recorded_with_who_and_from_where(
    world: Any,
) -> None:
    article = await world.service.create(command(), ADMIN)
    await world.service.edit(edit(article.id, None, title="Talks fail"), ADMIN)
    await world.service.publish(PublishArticle(article.id), ADMIN)
    await world.service.unpublish(article.id, ADMIN)
    later = world.clock.now + timedelta(days=1)
    await world.service.publish(PublishArticle(article.id, later), ADMIN)
    await world.service.unpublish(article.id, ADMIN)
    draft = await world.service.create(command(title="Draft"), ADMIN)
    await world.service.delete(draft.id, ADMIN)
    await world.section_service.create(CreateSection("Sport"), ADMIN)
    await world.service.rename_section(RenameSection("sport", "Sports"), ADMIN)
    await world.section_service.delete("sport", ADMIN)
    here = ("a1", "198.51.100.7")
    assert audited(world) == [
        ("article.created", article.id, *here),
        ("article.edited", article.id, *here),
        ("article.published", article.id, *here),
        ("article.unpublished", article.id, *here),
        ("article.scheduled", article.id, *here),
        ("article.unpublished", article.id, *here),
        ("article.created", draft.id, *here),
        ("article.deleted", draft.id, *here),
        ("section.created", "sport", *here),
        ("section.renamed", "sport", *here),
        ("section.deleted", "sport", *here),
    ]
    entries = world.audit()
    assert entries[4].data.details == {"at": later.isoformat()}
    assert entries[10].data.details == {"name": "Sports"}
    assert {(e.source, e.subject, e.data.actor_name, e.data.actor_role) for e in entries} == {
        ("articles", "a1", "Ada Admin", "admin")
    }
    assert {e.data.at for e in entries[:3]} == {world.clock.now}


async def test_an_action_that_fails_records_nothing(world: Any) -> None:
    article = await world.service.create(command(), ADMIN)
    await world.service.publish(PublishArticle(article.id), ADMIN)
    before = len(world.audit())
    with pytest.raises(NotFound):
        await world.service.publish(PublishArticle("missing"), ADMIN)
    with pytest.raises(NotFound):
        await world.service.unpublish("missing", ADMIN)
    with pytest.raises(Conflict):
        await world.service.delete(article.id, ADMIN)
    with pytest.raises(StaleRevision):
        await world.service.edit(edit(article.id, article.revision - 1, title="Late"), ADMIN)
    with pytest.raises(Conflict):
        await world.section_service.create(CreateSection("World"), ADMIN)
    with pytest.raises(Conflict, match="still has articles"):
        await world.section_service.delete("foreign-affairs", ADMIN)
    with pytest.raises(NotFound):
        await world.service.rename_section(RenameSection("nowhere", "Nowhere"), ADMIN)
    # An edit that changes nothing is no action either.
    await world.service.edit(edit(article.id, None, title=article.title), ADMIN)
    assert len(world.audit()) == before


async def test_preview_renders_the_article_and_stores_nothing(world: Any, editor: Any) -> None:
    shown = await world.service.preview(command(body="Talks *resume* today"), editor)
    assert "<em>resume</em>" in shown.body_html
    assert (shown.slug, shown.section.name, shown.authors) == (
        "talks-resume",
        "Foreign Affairs",
        ["Ada Editor"],
    )
    assert shown.published_at is not None  # the byline readers would see
    assert await world.service.list_staff(
        status=None, section=None, tag=None, offset=0, limit=10
    ) == ([], 0)
    assert world.article_events() == []
    with pytest.raises(InvalidField):
        await world.service.preview(command(section="Nowhere"), editor)


async def test_the_staff_list_searches_titles_in_any_case(world: Any, editor: Any) -> None:
    await world.service.create(command(title="Talks resume in Geneva"), editor)
    await world.service.create(command(title="Harvest festival"), editor)
    items, total = await world.service.list_staff(
        status=None, section=None, tag=None, title=" GENEVA ", offset=0, limit=10
    )
    assert (total, [a.title for a in items]) == (1, ["Talks resume in Geneva"])
    _, everything = await world.service.list_staff(
        status=None, section=None, tag=None, title="", offset=0, limit=10
    )
    assert everything == 2


async def test_every_change_event_goes_with_the_articles_state_in_the_same_unit(
    world: Any, editor: Any
) -> None:
    article = await world.service.create(command(), editor)
    assert world.article_states() == []  # a draft is nobody else's business
    await world.service.publish(PublishArticle(article.id), editor)
    await world.service.edit(edit(article.id, None, title="Talks end"), editor)
    await world.service.unpublish(article.id, editor)
    draft = await world.service.create(command(), editor)
    await world.service.delete(draft.id, editor)

    changes, states = world.article_events(), world.article_states()
    assert [type(e) for e in changes] == [
        ArticlePublishedV1,
        ArticleUpdatedV1,
        ArticleUnpublishedV2,
        ArticleDeletedV2,
    ]
    published, updated, unpublished, tombstone = states
    assert isinstance(published, ArticleStateV1)
    assert isinstance(updated, ArticleStateV1)
    assert isinstance(unpublished, ArticleStateV1)
    assert published.data.public
    assert updated.data.public
    assert published.data.model_dump(exclude={"public"}) == changes[0].data.model_dump()
    assert (updated.data.title, updated.data.revision) == ("Talks end", changes[1].data.revision)
    stored = await world.service.get(article.id)
    assert not unpublished.data.public
    assert unpublished.data.revision == stored.revision
    # Every change is ordered by revision, taking the article off the site included.
    assert [e.data.revision for e in changes[:3]] == [2, 3, 4]
    assert changes[3].data.revision == draft.revision + 1
    assert {s.subject for s in (published, updated, unpublished)} == {article.id}
    assert tombstone == Tombstone(topics.ARTICLE_STATES, draft.id)


async def test_articles_that_predate_the_state_topic_get_their_state_once(
    world: Any, editor: Any
) -> None:
    public = [await world.service.create(command(), editor) for _ in range(3)]
    for article in public:
        await world.service.publish(PublishArticle(article.id), editor)
    await world.service.unpublish(public[0].id, editor)
    draft = await world.service.create(command(), editor)
    before = len(world.article_states())

    assert await world.service.publish_known_states(batch=2) == 3
    assert await world.service.publish_known_states(batch=2) == 0  # once per database

    backfilled = world.article_states()[before:]
    assert sorted(s.subject for s in backfilled) == sorted(a.id for a in public)
    assert draft.id not in {s.subject for s in backfilled}
    by_id = {s.subject: s.data for s in backfilled}
    assert not by_id[public[0].id].public
    assert by_id[public[1].id].public
