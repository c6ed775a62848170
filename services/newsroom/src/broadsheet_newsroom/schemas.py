"""What the Newsroom's forms carry, and how it becomes the articles API's JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from broadsheet_newsroom.timezones import to_local


@dataclass
class ArticleForm:
    """The article form as typed: kept as text so a refused save shows it back unchanged."""

    title: str = ""
    section: str = ""
    tags: str = ""
    summary: str = ""
    body: str = ""
    hero_image_url: str = ""
    hero_image_alt: str = ""
    publish_at: str = ""
    # The revision the editor started from: a save names it (If-Match).
    revision: str = ""

    @classmethod
    def from_form(cls, data: Mapping[str, Any]) -> ArticleForm:
        return cls(**{name: str(data.get(name, "") or "") for name in cls.__dataclass_fields__})

    @classmethod
    def from_article(cls, article: Mapping[str, Any], zone: str) -> ArticleForm:
        section = article.get("section")
        return cls(
            title=str(article.get("title", "")),
            section=str(section.get("name", "")) if isinstance(section, dict) else str(section),
            tags=", ".join(article.get("tags") or []),
            summary=str(article.get("summary", "")),
            body=str(article.get("body", "")),
            hero_image_url=str(article.get("hero_image_url") or ""),
            hero_image_alt=str(article.get("hero_image_alt") or ""),
            publish_at=to_local(article.get("scheduled_at"), zone),
            revision=str(article.get("revision", "")),
        )

    def tag_list(self) -> list[str]:
        return [tag.strip() for tag in self.tags.split(",") if tag.strip()]

    def content(self) -> dict[str, Any]:
        """The article's content for the articles API (a new article, an edit or a preview)."""
        return {
            "title": self.title,
            "section": self.section,
            "tags": self.tag_list(),
            "summary": self.summary,
            "body": self.body,
            # Empty: no image (null removes one an edit had, and its alt text).
            "hero_image_url": self.hero_image_url.strip() or None,
            # The articles service requires it with an image and refuses it blank.
            "hero_image_alt": self.hero_image_alt.strip() or None,
        }

    def as_dict(self) -> dict[str, str]:
        return asdict(self)
