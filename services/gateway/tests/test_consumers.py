from datetime import UTC, datetime

import pytest

from broadsheet_gateway.bootstrap import build_templates
from broadsheet_gateway.consumers import build_router
from broadsheet_gateway.service import LiveHub
from broadsheet_shared.events.comments import CommentApprovedData, CommentApprovedV1

pytestmark = pytest.mark.unit


def approved(slug: str = "talks-resume", depth: int = 1) -> CommentApprovedV1:
    now = datetime.now(UTC)
    return CommentApprovedV1(
        subject="c7",
        data=CommentApprovedData(
            comment_id="c7",
            article_id="a1",
            article_slug=slug,
            article_title="Talks",
            article_url_path=f"/articles/{slug}",
            parent_id="c1",
            author_name="Eve <b>",
            excerpt="Hi",
            body_html="<p>Hi</p><script>x()</script>",
            depth=depth,
            created_at=now,
            approved_at=now,
        ),
    )


async def test_approved_comment_is_pushed_to_open_pages_of_its_article() -> None:
    hub = LiveHub()
    template = build_templates().get_template("comment.html")
    router = build_router(hub, lambda c: template.render(c=c))
    with hub.listen("talks-resume") as queue, hub.listen("other") as other:
        await router.dispatch(approved())
        message = queue.get_nowait()
        assert other.empty()
    assert message["parent_id"] == "c1"
    html = str(message["html"])
    assert 'id="comment-c7"' in html
    assert "Eve &lt;b&gt;" in html
    assert "<script>" not in html
    assert "replytocom=c7" in html


async def test_no_listeners_no_work() -> None:
    hub = LiveHub()
    router = build_router(hub, lambda c: "")
    await router.dispatch(approved(slug="nobody-reads"))
    assert hub.listeners("nobody-reads") == 0
