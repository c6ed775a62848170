"""What the routes answer: articles, sections, revisions, editors and tokens as JSON bodies.

Public and staff article bodies are plain dicts rendered by orjson straight to bytes: the hot
public reads skip a second pydantic pass. The response models in :mod:`schemas` document them.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response

from broadsheet_articles.auth import TokenPair
from broadsheet_articles.domain import Article, Editor, Revision, Section, author_slug, url_path
from broadsheet_articles.schemas import EditorOut, RevisionOut, SectionOut, TokenOut

JSON = "application/json"
ATOM = "application/atom+xml"
SITEMAP = "application/xml"


def section_out(section: Section) -> dict[str, str]:
    return {"slug": section.slug, "name": section.name}


def summary_out(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "slug": article.slug,
        "title": article.title,
        "summary": article.summary,
        "section": section_out(article.section),
        "tags": article.tags,
        "authors": article.authors,
        "author_slugs": [author_slug(name) for name in article.authors],
        "hero_image_url": article.hero_image_url,
        "hero_image_alt": article.hero_image_alt,
        "published_at": article.published_at,
        "url_path": url_path(article.slug),
    }


def public_out(article: Article) -> dict[str, Any]:
    return {
        **summary_out(article),
        "body_html": article.body_html,
        "updated_at": article.updated_at,
        "revision": article.revision,
        "comments_open": article.comments_open,
    }


def staff_out(article: Article) -> dict[str, Any]:
    return {
        **public_out(article),
        "body": article.body,
        "status": article.status.value,
        "created_at": article.created_at,
        "scheduled_at": article.scheduled_at,
        "previous_slugs": article.previous_slugs,
    }


def section_model(section: Section) -> SectionOut:
    return SectionOut(slug=section.slug, name=section.name)


def revision_out(revision: Revision) -> RevisionOut:
    content = revision.content
    return RevisionOut(
        revision=revision.revision,
        reason=revision.reason,
        editor=revision.editor,
        created_at=revision.created_at,
        status=revision.status,
        title=content["title"],
        slug=content["slug"],
        summary=content["summary"],
        body=content["body"],
        section=content["section"],
        tags=content["tags"],
        authors=content["authors"],
        hero_image_url=content["hero_image_url"],
        hero_image_alt=content.get("hero_image_alt"),
        comments_open=content["comments_open"],
    )


def editor_out(editor: Editor) -> EditorOut:
    return EditorOut(
        id=editor.id,
        email=editor.email,
        name=editor.name,
        role=editor.role,
        disabled=editor.disabled,
        created_at=editor.created_at,
    )


def etag(article: Article) -> str:
    return f'"{article.revision}"'


def json_response(
    content: Any, *, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(content), status_code=status_code, media_type=JSON, headers=headers
    )


def staff_response(article: Article, status_code: int = 200, **headers: str) -> Response:
    return json_response(
        staff_out(article),
        status_code=status_code,
        headers={"ETag": etag(article), "Cache-Control": "no-store", **headers},
    )


def token_response(pair: TokenPair) -> Response:
    return json_response(
        TokenOut(
            access_token=pair.access_token,
            expires_in=pair.expires_in,
            refresh_token=pair.refresh_token,
        ).model_dump(),
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
