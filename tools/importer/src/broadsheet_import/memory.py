"""A :class:`~broadsheet_import.platform.Platform` held in memory.

``--dry-run`` plans against it (an empty platform: everything would be created), and the unit
tests use it to prove idempotence and resumability. It keeps the rules the real endpoints must
keep: upserts are keyed by (source, WordPress id), a comment needs its article, and a reply
needs its parent to be there already.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from broadsheet_import.mapping import ArticleDraft, CommentDraft, SectionRef
from broadsheet_import.platform import (
    Imported,
    ImportedItem,
    Outcome,
    PlatformError,
    Upserted,
)


@dataclass
class StoredComment:
    id: str
    article_id: str
    parent_id: str | None
    draft: CommentDraft


@dataclass
class InMemoryPlatform:
    sections: dict[str, str] = field(default_factory=dict)  # name → slug
    articles: dict[tuple[str, int], tuple[str, str, ArticleDraft]] = field(default_factory=dict)
    comments: dict[tuple[str, int], StoredComment] = field(default_factory=dict)
    writes: int = 0
    _article_ids: set[str] = field(default_factory=set)
    _comment_ids: set[str] = field(default_factory=set)

    async def sign_in(self, email: str, password: str) -> None:
        """Nothing to sign in to: every account is welcome in memory."""

    async def imported(self, source: str) -> Imported:
        return Imported(
            articles={
                wid: ImportedItem(id=aid, fingerprint=draft.fingerprint())
                for (src, wid), (aid, _, draft) in self.articles.items()
                if src == source
            },
            comments={
                wid: ImportedItem(id=stored.id, fingerprint=stored.draft.fingerprint())
                for (src, wid), stored in self.comments.items()
                if src == source
            },
        )

    async def ensure_section(self, section: SectionRef) -> str:
        if section.name not in self.sections:
            self.writes += 1
            self.sections[section.name] = section.wordpress_slug or f"s{len(self.sections)}"
        return self.sections[section.name]

    async def upsert_article(self, source: str, section: str, draft: ArticleDraft) -> Upserted:
        key = (source, draft.wordpress_id)
        existing = self.articles.get(key)
        if existing is not None and existing[1:] == (section, draft):
            return Upserted(id=existing[0], outcome=Outcome.UNCHANGED)
        self.writes += 1
        article_id = existing[0] if existing else f"a{len(self.articles) + 1}"
        self.articles[key] = (article_id, section, draft)
        self._article_ids.add(article_id)
        return Upserted(article_id, Outcome.UPDATED if existing else Outcome.CREATED)

    async def upsert_comment(
        self, source: str, article_id: str, parent_id: str | None, draft: CommentDraft
    ) -> Upserted:
        if article_id not in self._article_ids:
            raise PlatformError(f"no article {article_id}")
        if parent_id is not None and parent_id not in self._comment_ids:
            raise PlatformError(f"no parent comment {parent_id}")
        key = (source, draft.wordpress_id)
        existing = self.comments.get(key)
        wanted = StoredComment(
            id=existing.id if existing else f"c{len(self.comments) + 1}",
            article_id=article_id,
            parent_id=parent_id,
            draft=draft,
        )
        if existing == wanted:
            return Upserted(id=wanted.id, outcome=Outcome.UNCHANGED)
        self.writes += 1
        self.comments[key] = wanted
        self._comment_ids.add(wanted.id)
        return Upserted(wanted.id, Outcome.UPDATED if existing else Outcome.CREATED)
