"""The import run: read the export, plan each post, write it through a Platform, keep count.

One pass, streaming: a post is planned and written (article, then its comments, parents first)
before the next is read. Whatever the platform already holds with the same fingerprint is not
written again, so a second run changes nothing and says so; every write is an upsert by
WordPress id, so a run stopped anywhere (Ctrl-C, a dead service) is finished by running again.
A comment the comments service cannot attach yet (its projection of articles lags by an event)
is retried with backoff before it counts as failed.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from broadsheet_import.mapping import CommentDraft, Planner, PostPlan, parse_wordpress_date
from broadsheet_import.platform import (
    Imported,
    NotVisibleYet,
    Outcome,
    Platform,
    PlatformError,
    Upserted,
)
from broadsheet_import.progress import Progress
from broadsheet_import.wxr import WxrItem, WxrSite, read_wxr

RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
_LISTED = 50  # report lines shown in full; the rest are counted


@dataclass
class Tally:
    """One kind's outcome: written (created, updated), unchanged, skipped by reason, failed and
    reported (posts only: password, shortcodes…) with the WordPress id and why."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failed: list[tuple[int, str]] = field(default_factory=list)
    reported: list[tuple[int, str]] = field(default_factory=list)

    def record(self, outcome: Outcome) -> None:
        if outcome is Outcome.CREATED:
            self.created += 1
        elif outcome is Outcome.UPDATED:
            self.updated += 1
        else:
            self.unchanged += 1

    def line(self, kind: str, dry_run: bool) -> str:
        verbs = ("would create", "would update") if dry_run else ("created", "updated")
        skipped = sum(self.skipped.values())
        reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.skipped.items()))
        return (
            f"{kind}: {self.created} {verbs[0]}, {self.updated} {verbs[1]}, "
            f"{self.unchanged} unchanged, {skipped} skipped"
            + (f" ({reasons})" if reasons else "")
            + f", {len(self.failed)} failed"
        )


@dataclass
class Summary:
    posts: Tally = field(default_factory=Tally)
    comments: Tally = field(default_factory=Tally)
    site: WxrSite | None = None
    permalink_structure: str = ""
    error: str | None = None
    interrupted: bool = False

    @property
    def changed(self) -> bool:
        return any(t.created or t.updated for t in (self.posts, self.comments))

    def lines(self, dry_run: bool) -> list[str]:
        """The end-of-run report: counts per kind, then every failure, then the reports."""
        out: list[str] = []
        if self.site is not None:
            out.append(
                f"{self.site.title or 'Untitled site'} ({self.site.base_blog_url}), "
                f"WXR {self.site.wxr_version}"
            )
        if self.permalink_structure:
            out.append(f"Permalink structure: {self.permalink_structure}")
        out += [self.posts.line("Posts", dry_run), self.comments.line("Comments", dry_run)]
        for kind, tally in (("post", self.posts), ("comment", self.comments)):
            out += [f"  failed {kind} {wid}: {why}" for wid, why in tally.failed]
        reported = self.posts.reported
        if reported:
            kinds = Counter(re.sub(r"\[.*\]", "[…]", note) for _, note in reported)
            out.append(
                "Reported: " + ", ".join(f"{note}: {n}" for note, n in sorted(kinds.items()))
            )
            out += [f"  post {wid}: {note}" for wid, note in reported[:_LISTED]]
            if len(reported) > _LISTED:
                out.append(f"  … and {len(reported) - _LISTED} more")
        if self.error:
            out.append(f"Stopped: {self.error}")
        elif self.interrupted:
            out.append("Interrupted: run the same command again to finish (nothing is duplicated).")
        elif not self.changed and not dry_run:
            out.append("Nothing changed: everything in this file was already imported.")
        return out


def permalink_structure(item: WxrItem, base_url: str) -> str:
    """WordPress's permalink structure (``/%year%/%monthnum%/%postname%/``…) read back from one
    published post's link: the export has no setting for it, but every link follows it."""
    link = urlsplit(item.link)
    if re.search(r"(?:^|&)p=\d+", link.query):
        return "/?p=%post_id%"
    path = link.path.removeprefix(urlsplit(base_url).path.rstrip("/"))
    date = parse_wordpress_date(item.post_date)
    known = {item.post_name: "%postname%", str(item.post_id): "%post_id%"}
    if date is not None:
        known |= {f"{date.year:04}": "%year%"}
    parts: list[str] = []
    for segment in path.split("/"):
        placeholder = known.get(segment, segment)
        if date is not None and parts and segment.isdigit():
            after = {"%year%": f"{date.month:02}", "%monthnum%": f"{date.day:02}"}
            if after.get(parts[-1]) == segment:
                placeholder = "%monthnum%" if parts[-1] == "%year%" else "%day%"
        parts.append(placeholder)
    return "/".join(parts)


def permalink_of(structure: str, item: WxrItem, base_url: str) -> str:
    """The link WordPress served for ``item`` under ``structure`` (its ``%tags%``, as in
    Settings → Permalinks): what ``--permalink-structure`` makes the old links of."""
    date = parse_wordpress_date(item.post_date)
    category = next((term.nicename for term in item.terms if term.domain == "category"), "")
    values = {
        "%post_id%": str(item.post_id),
        "%postname%": item.post_name,
        "%category%": category or "uncategorized",
        "%author%": item.creator,
    }
    if date is not None:
        values |= {
            "%year%": f"{date.year:04}",
            "%monthnum%": f"{date.month:02}",
            "%day%": f"{date.day:02}",
            "%hour%": f"{date.hour:02}",
            "%minute%": f"{date.minute:02}",
            "%second%": f"{date.second:02}",
        }
    path = re.sub(r"%[a-z_]+%", lambda tag: values.get(tag.group(0), tag.group(0)), structure)
    return base_url.rstrip("/") + "/" + path.lstrip("/")


@dataclass
class Importer:
    platform: Platform
    progress: Progress
    now: datetime
    permalink_structure: str = ""
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    retry_delays: tuple[float, ...] = RETRY_DELAYS
    _source: str = field(default="", init=False)
    _imported: Imported = field(default_factory=Imported, init=False)
    _sections: dict[str, str] = field(default_factory=dict, init=False)
    _comment_ids: dict[int, str] = field(default_factory=dict, init=False)

    async def run(self, path: Path, summary: Summary) -> None:
        """Import ``path``, counting into ``summary`` as it goes (so an interrupted run still
        reports what it did). Bad input raises :class:`~broadsheet_import.wxr.WxrError`."""
        planner = Planner(self.now)
        summary.permalink_structure = self.permalink_structure
        for record in read_wxr(path):
            if isinstance(record, WxrSite):
                summary.site = record
                self._source = record.base_blog_url
                self._imported = await self.platform.imported(self._source)
                self._comment_ids = {w: i.id for w, i in self._imported.comments.items()}
            elif isinstance(record, WxrItem):
                plan = planner.plan(record)
                if self.permalink_structure and plan.article is not None:
                    # Given by the operator: it wins over the links the export carries.
                    link = permalink_of(self.permalink_structure, record, self._source)
                    plan = replace(plan, article=replace(plan.article, wordpress_link=link))
                published = plan.article is not None and plan.article.status == "published"
                if published and record.link and not summary.permalink_structure:
                    summary.permalink_structure = permalink_structure(
                        record, summary.site.base_blog_url if summary.site else ""
                    )
                await self._post(plan, summary)
                self.progress.advance("posts")
                self.progress.advance("comments", len(record.comments))
            else:
                planner.remember(record)

    async def _post(self, plan: PostPlan, summary: Summary) -> None:
        posts, comments = summary.posts, summary.comments
        comments.skipped.update(plan.skipped_comments)
        comments.failed += plan.failed_comments
        if plan.skipped is not None:
            posts.skipped[plan.skipped] += 1
            return
        if plan.failed is not None or plan.article is None:
            posts.failed.append((plan.wordpress_id, plan.failed or "not planned"))
            return
        posts.reported += [(plan.wordpress_id, note) for note in plan.reports]
        article = plan.article
        known = self._imported.articles.get(article.wordpress_id)
        if known is not None and known.fingerprint == article.fingerprint():
            article_id = known.id
            posts.record(Outcome.UNCHANGED)
        else:
            try:
                if article.section.name not in self._sections:
                    self._sections[article.section.name] = await self.platform.ensure_section(
                        article.section
                    )
                section = self._sections[article.section.name]
                written = await self.platform.upsert_article(self._source, section, article)
            except PlatformError as error:
                posts.failed.append((article.wordpress_id, str(error)))
                comments.skipped["post failed"] += len(plan.comments)
                return
            article_id = written.id
            posts.record(written.outcome)
        if article.status != "published" and plan.comments:
            # Comments live on published articles only (the comments service knows no other);
            # the run after the article is published brings them.
            comments.skipped["article not published"] += len(plan.comments)
            return
        for comment in plan.comments:
            await self._comment(article_id, comment, comments)

    async def _comment(self, article_id: str, draft: CommentDraft, tally: Tally) -> None:
        parent_id = None
        if draft.parent_wordpress_id is not None:
            parent_id = self._comment_ids.get(draft.parent_wordpress_id)
            if parent_id is None:
                tally.failed.append((draft.wordpress_id, "its parent comment failed"))
                return
        known = self._imported.comments.get(draft.wordpress_id)
        if known is not None and known.fingerprint == draft.fingerprint():
            tally.record(Outcome.UNCHANGED)
            return
        try:
            written = await self._upsert_comment(article_id, parent_id, draft)
        except PlatformError as error:
            tally.failed.append((draft.wordpress_id, str(error)))
            return
        self._comment_ids[draft.wordpress_id] = written.id
        tally.record(written.outcome)

    async def _upsert_comment(
        self, article_id: str, parent_id: str | None, draft: CommentDraft
    ) -> Upserted:
        for delay in self.retry_delays:
            try:
                return await self.platform.upsert_comment(
                    self._source, article_id, parent_id, draft
                )
            except NotVisibleYet:
                await self.sleep(delay)
        return await self.platform.upsert_comment(self._source, article_id, parent_id, draft)
