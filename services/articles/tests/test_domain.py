from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from broadsheet_articles.domain import (
    Article,
    ArticleChanges,
    ArticleStatus,
    InvalidTransition,
    NotDeletable,
    ScheduleInPast,
    Section,
    is_valid_slug,
    normalize_tags,
    render_markdown,
    resolve_section,
    slug_candidates,
    slug_from_title,
)
from broadsheet_shared.errors import Conflict, InvalidField

pytestmark = pytest.mark.unit

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FA = Section("foreign-affairs", "Foreign Affairs", 1)


def draft(**overrides: object) -> Article:
    fields: dict[str, object] = {
        "id": "a1",
        "slug": "talks-resume",
        "title": "Talks resume",
        "body": "Hello *world*",
        "section": FA,
        "now": NOW,
    }
    fields.update(overrides)
    return Article.draft(**fields)  # type: ignore[arg-type]


def test_slug_is_derived_from_the_title() -> None:
    assert (
        slug_from_title("Talks resume in Geneva: what's next?")
        == "talks-resume-in-geneva-what-s-next"
    )
    assert slug_from_title("Élan vital") == "elan-vital"
    assert slug_from_title("!!!") == "article"
    assert len(slug_from_title("word " * 100)) <= 120


def test_collisions_are_resolved_by_a_numbered_suffix() -> None:
    candidates = slug_candidates("talks")
    assert candidates[:3] == ["talks", "talks-2", "talks-3"]
    long = slug_candidates("x" * 120)
    assert all(len(c) <= 120 and is_valid_slug(c) for c in long)


def test_slug_validation() -> None:
    assert is_valid_slug("a-b-1")
    assert not is_valid_slug("A-b")
    assert not is_valid_slug("a--b")
    assert not is_valid_slug("-a")


def test_a_section_is_found_by_name_or_slug() -> None:
    sections = [Section("world", "World"), FA]
    assert resolve_section(sections, "Foreign Affairs") == FA
    assert resolve_section(sections, "foreign affairs") == FA
    assert resolve_section(sections, "foreign-affairs") == FA
    assert resolve_section(sections, "Sport") is None


def test_markdown_is_rendered_without_scripts_or_raw_html() -> None:
    html = render_markdown("# Hi\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) **b**")
    assert "<h1>Hi</h1>" in html
    assert "<script>" not in html
    assert 'href="javascript' not in html
    assert "<strong>b</strong>" in html


def test_tags_are_trimmed_lowercased_and_unique() -> None:
    assert normalize_tags([" Iran ", "iran", "Nuclear  Talks", ""]) == ["iran", "nuclear talks"]


def test_publishing_a_draft_sets_the_publication_time_once() -> None:
    article = draft()
    article.publish(NOW)
    assert article.status is ArticleStatus.PUBLISHED
    assert article.published_at == NOW
    assert article.revision == 2
    with pytest.raises(InvalidTransition):
        article.publish(NOW)
    article.unpublish(NOW + timedelta(hours=1))
    article.publish(NOW + timedelta(hours=2))
    assert article.published_at == NOW


def test_scheduling_needs_a_future_time() -> None:
    article = draft()
    with pytest.raises(ScheduleInPast):
        article.schedule(NOW, NOW)
    article.schedule(NOW + timedelta(hours=1), NOW)
    assert article.status is ArticleStatus.SCHEDULED
    assert article.scheduled_at == NOW + timedelta(hours=1)


def test_unpublishing_a_schedule_returns_a_never_published_article_to_draft() -> None:
    article = draft()
    article.schedule(NOW + timedelta(hours=1), NOW)
    assert article.unpublish(NOW) is False
    assert article.status is ArticleStatus.DRAFT
    with pytest.raises(InvalidTransition):
        article.unpublish(NOW)


def test_unpublishing_a_published_article() -> None:
    article = draft()
    article.publish(NOW)
    assert article.unpublish(NOW) is True
    assert article.status is ArticleStatus.UNPUBLISHED


def test_only_drafts_can_be_deleted() -> None:
    article = draft()
    article.ensure_deletable()
    article.publish(NOW)
    with pytest.raises(NotDeletable):
        article.ensure_deletable()
    article.unpublish(NOW)
    with pytest.raises(NotDeletable):
        article.ensure_deletable()


def test_every_lifecycle_refusal_is_a_conflict_with_its_message() -> None:
    article = draft()
    article.publish(NOW)
    with pytest.raises(Conflict) as caught:
        article.publish(NOW)
    assert caught.value.detail == "The article is already published."


def test_an_edit_makes_a_revision_only_when_something_changed() -> None:
    article = draft()
    assert article.edit(ArticleChanges(title="Talks resume"), NOW) is False
    assert article.edit(ArticleChanges(), NOW, section=FA, slug="talks-resume") is False
    assert article.revision == 1
    assert article.edit(ArticleChanges(body="New **body**"), NOW) is True
    assert article.revision == 2
    assert "<strong>body</strong>" in article.body_html
    politics = Section("politics", "Politics", 2)
    assert article.edit(ArticleChanges(), NOW, section=politics, slug="talks") is True
    assert (article.section, article.slug, article.revision) == (politics, "talks", 3)


def test_slug_changes_after_publication_keep_the_old_slug() -> None:
    article = draft()
    assert article.change_slug("other") is None  # a draft's slug was never public
    assert article.previous_slugs == []
    article.publish(NOW)
    assert article.change_slug("third") == "other"
    assert article.previous_slugs == ["other"]
    article.change_slug("other")
    assert article.slug == "other"
    assert article.previous_slugs == ["third"]


def test_event_data_carries_what_other_services_need() -> None:
    article = draft(authors=["Ada"], tags=["Iran"])
    article.publish(NOW)
    data = article.event_data()
    assert data.article_id == "a1"
    assert data.url_path == "/articles/talks-resume"
    assert data.section.name == "Foreign Affairs"
    assert data.published_at == NOW
    assert data.authors == ["Ada"]
    assert data.comments_open is True
    assert "email" not in data.model_dump_json()


def test_a_hero_image_needs_its_alt_text() -> None:
    url = "https://img.example.org/talks.jpg"
    with pytest.raises(InvalidField) as caught:
        draft(hero_image_url=url)
    assert caught.value.field == "hero_image_alt"
    article = draft(hero_image_url=url, hero_image_alt="Delegates at the table")
    assert article.snapshot()["hero_image_alt"] == "Delegates at the table"
    # A new image must come with its text; removing the image removes both.
    with pytest.raises(InvalidField):
        draft().edit(ArticleChanges(hero_image_url=url), NOW)
    assert article.edit(ArticleChanges(hero_image_alt="The delegates"), NOW) is True
    assert article.hero_image_alt == "The delegates"
    assert article.edit(ArticleChanges(clear_hero_image=True), NOW) is True
    assert (article.hero_image_url, article.hero_image_alt) == (None, None)


def test_an_image_stored_before_the_alt_rule_does_not_block_other_edits() -> None:
    article = draft()
    article.hero_image_url = "https://img.example.org/old.jpg"  # as an older save left it
    assert article.edit(ArticleChanges(title="Talks resume again"), NOW) is True
