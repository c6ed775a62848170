"""The writer side as a small protocol: what the importer needs from a running Broadsheet.

Every write is an upsert keyed by (source site, WordPress id), so a write that is repeated (a
re-run, a retry after a timeout whose request did land) changes nothing, and an interrupted run
is finished by simply running again. ``imported`` returns what the platform already holds with a
fingerprint of what was written, so a re-run skips unchanged items without writing at all.

:class:`broadsheet_import.memory.InMemoryPlatform` implements it for ``--dry-run`` and the unit
tests; :class:`broadsheet_import.http.HttpPlatform` writes to a running Broadsheet through the
staff import endpoints (docs/import.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from broadsheet_import.mapping import ArticleDraft, CommentDraft, SectionRef


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Upserted:
    """The platform's id for the item, and whether the write created, changed or kept it."""

    id: str
    outcome: Outcome


@dataclass(frozen=True)
class ImportedItem:
    id: str
    fingerprint: str


@dataclass
class Imported:
    """What a source site already has on the platform, by WordPress id."""

    articles: dict[int, ImportedItem] = field(default_factory=dict)
    comments: dict[int, ImportedItem] = field(default_factory=dict)


class PlatformError(Exception):
    """The platform refused one item (a 4xx): that item fails, the import goes on."""


class NotVisibleYet(PlatformError):
    """The comments service does not know the article yet (its projection lags the articles
    service by an event): retried with backoff before the comment counts as failed."""


class Platform(Protocol):
    async def sign_in(self, email: str, password: str) -> None:
        """Get a staff token; raises :class:`PlatformError` with the reason when refused."""

    async def imported(self, source: str) -> Imported:
        """Everything already imported from ``source`` (the export's base blog URL)."""

    async def ensure_section(self, section: SectionRef) -> str:
        """The slug of the section with this name, created when missing."""

    async def upsert_article(self, source: str, section: str, draft: ArticleDraft) -> Upserted:
        """Create or update the article imported from ``draft.wordpress_id``."""

    async def upsert_comment(
        self, source: str, article_id: str, parent_id: str | None, draft: CommentDraft
    ) -> Upserted:
        """Create or update the comment imported from ``draft.wordpress_id``, as a reply to
        ``parent_id`` (a platform id) or top-level; no mail, no subscription."""
