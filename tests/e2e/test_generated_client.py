"""A Python client generated from /openapi.json by openapi-python-client, used as an integrator
would: sign in, create and publish an article, comment, reply, read the thread back. A document
that says the wrong thing (a missing status, a wrong schema or content type) breaks the client."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from broadsheet_devstack.services import DEFAULT_EDITOR_EMAIL, DEFAULT_EDITOR_PASSWORD

from .conftest import Platform

pytestmark = pytest.mark.e2e

PACKAGE = "broadsheet_client"


@pytest.fixture
def generated(platform: Platform, tmp_path: Path) -> Iterator[Callable[[str], ModuleType]]:
    document = httpx.get(f"{platform.gateway_url}/openapi.json", timeout=30).json()
    (tmp_path / "openapi.json").write_text(json.dumps(document))
    # No formatter runs on the generated code: what is tested is what the document yields.
    (tmp_path / "generator.json").write_text(json.dumps({"post_hooks": []}))
    subprocess.run(
        [
            str(Path(sys.executable).with_name("openapi-python-client")),
            "generate",
            "--path",
            str(tmp_path / "openapi.json"),
            "--output-path",
            str(tmp_path / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(tmp_path / "generator.json"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}" if name else PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _until(read: Callable[[], Any], kind: type, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        answer = read()
        if isinstance(answer, kind) or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def test_a_generated_client_publishes_an_article_and_holds_a_conversation(
    platform: Platform, generated: Callable[[str], ModuleType]
) -> None:
    client, models = generated(""), generated("models")
    issue_token = generated("api.articles.issue_token_api_auth_token_post")
    create_article = generated("api.articles.create_article_api_editor_articles_post")
    publish = generated("api.articles.publish_article_api_editor_articles_article_id_publish_post")
    post_comment = generated("api.comments.post_comment_api_articles_slug_comments_post")
    thread = generated("api.comments.list_comments_api_articles_slug_comments_get")
    # Any status the document does not declare raises here.
    reader = client.Client(base_url=platform.gateway_url, raise_on_unexpected_status=True)

    refused = issue_token.sync(
        client=reader,
        body=models.BodyIssueTokenApiAuthTokenPost(
            username=DEFAULT_EDITOR_EMAIL, password="not the password"
        ),
    )
    assert isinstance(refused, models.Problem)
    assert refused.status == 401
    token = issue_token.sync(
        client=reader,
        body=models.BodyIssueTokenApiAuthTokenPost(
            username=DEFAULT_EDITOR_EMAIL, password=DEFAULT_EDITOR_PASSWORD
        ),
    )
    assert isinstance(token, models.TokenOut), token
    editor = client.AuthenticatedClient(
        base_url=platform.gateway_url, token=token.access_token, raise_on_unexpected_status=True
    )

    draft = create_article.sync(
        client=editor,
        body=models.ArticleCreate(
            title="Ceasefire holds for a second week",
            body="Both sides report a quiet week.\n\nTalks continue on Friday.",
            section="Foreign Affairs",
            summary="A second quiet week.",
            authors=["Ada Reporter"],
        ),
    )
    assert isinstance(draft, models.StaffArticleOut), draft
    # An empty request publishes now. (Left unset, the optional body is passed to httpx as the
    # generator's Unset marker, which it cannot encode: a generator limitation, not the document.)
    published = publish.sync(article_id=draft.id, client=editor, body=models.PublishRequest())
    assert isinstance(published, models.StaffArticleOut), published
    slug = published.slug

    # The comments service learns of the article from its event: 404 (a declared problem) until.
    first_page = _until(lambda: thread.sync(slug=slug, client=reader), models.ThreadOut)
    assert isinstance(first_page, models.ThreadOut), first_page
    assert first_page.total == 0

    as_json = models.PostCommentApiArticlesSlugCommentsPostJsonCommentCreate
    comment = post_comment.sync(
        slug=slug,
        client=reader,
        body=as_json(author_name="Grace", body="Good to hear it holds."),
        idempotency_key="generated-client-comment",
    )
    assert isinstance(comment, models.PostedComment), comment
    reply = post_comment.sync(
        slug=slug,
        client=reader,
        body=as_json(
            author_name="Linus", body="Let us hope Friday goes well.", parent_id=comment.id
        ),
    )
    assert isinstance(reply, models.PostedComment), reply

    page = thread.sync(slug=slug, client=reader)
    assert isinstance(page, models.ThreadOut), page
    assert [(item.id, item.parent_id) for item in page.items] == [
        (comment.id, None),
        (reply.id, comment.id),
    ]
    assert page.items[1].body_html.strip() == "<p>Let us hope Friday goes well.</p>"
    assert page.article.slug == slug
