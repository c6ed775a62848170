from datetime import UTC, datetime

import pytest

from broadsheet_gateway.consumers import build_router
from broadsheet_gateway.live import LiveHub, ReplayBuffer, StreamLimits
from broadsheet_gateway.page_cache import PageCache, SharedPage, page_key
from broadsheet_gateway.render import CommentRenderer, build_templates
from broadsheet_shared.events.articles import (
    ArticleData,
    ArticleDeletedV1,
    ArticleDeletedV2,
    ArticleRef,
    ArticleRevisionRef,
    ArticleUnpublishedV1,
    ArticleUnpublishedV2,
    ArticleUpdatedV1,
    SectionRef,
)
from broadsheet_shared.events.comments import (
    CommentApprovedData,
    CommentApprovedV1,
    CommentDeletedData,
    CommentDeletedV1,
    CommentEditedData,
    CommentEditedV1,
    CommentImportedData,
    CommentImportedV1,
    CommentRejectedData,
    CommentRejectedV1,
)

pytestmark = pytest.mark.unit


def _rendering() -> tuple[CommentRenderer, PageCache]:
    renderer = CommentRenderer(build_templates())
    return renderer, PageCache(renderer, max_entries=10, max_age=10)


IN_REPLY_TO = '<span class="in-reply-to">in reply to'


def approved(
    slug: str = "talks-resume", depth: int = 1, in_reply_to: str | None = None
) -> CommentApprovedV1:
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
            parent_author_name="Carol",
            author_name="Eve <b>",
            excerpt="Hi",
            body_html="<p>Hi</p><script>x()</script>",
            depth=depth,
            in_reply_to=in_reply_to,
            created_at=now,
            approved_at=now,
            author_avatar="0123456789abcdef",
        ),
    )


class CountingRenderer(CommentRenderer):
    def __init__(self) -> None:
        super().__init__(build_templates())
        self.rendered = 0

    def item(self, comment: object, slug: str, can_reply: bool) -> str:
        self.rendered += 1
        return super().item(comment, slug, can_reply)


async def test_approved_comment_is_pushed_to_open_pages_of_its_article() -> None:
    hub = LiveHub(StreamLimits(per_client=1, total=1), ReplayBuffer(10))
    router = build_router(hub, *_rendering())
    with hub.listen("talks-resume") as queue, hub.listen("other") as other:
        await router.dispatch(approved())
        update = queue.get_nowait()
        assert other.empty()
    assert update.event == "comment"
    message = update.data
    assert message["parent_id"] == "c1"
    html = str(message["html"])
    assert 'id="comment-c7"' in html
    assert "Eve &lt;b&gt;" in html
    assert 'aria-label="Avatar of Eve &lt;b&gt;"' in html  # as on the page
    assert "<script>" not in html
    assert "replytocom=c7" in html


@pytest.mark.parametrize(
    ("depth", "in_reply_to"),
    [
        (1, None),  # a reply one level down: its place in the thread says whom it answers
        (4, None),  # the deepest level shown
        (4, "Carol"),  # a reply at real depth 7, as the comments service emits it
    ],
    ids=["depth-1", "depth-4", "depth-7"],
)
async def test_depth_and_in_reply_to_are_shown_as_the_event_gives_them(
    depth: int, in_reply_to: str | None
) -> None:
    hub = LiveHub(StreamLimits(per_client=1, total=1), ReplayBuffer(10))
    router = build_router(hub, *_rendering())
    with hub.listen("talks-resume") as queue:
        await router.dispatch(approved(depth=depth, in_reply_to=in_reply_to))
        message = queue.get_nowait().data
    html = str(message["html"])
    assert message["depth"] == depth
    assert f'class="comment depth-{depth}"' in html
    if in_reply_to is None:
        assert IN_REPLY_TO not in html
    else:
        assert f"{IN_REPLY_TO} {in_reply_to}</span>" in html


async def test_a_comment_no_open_page_shows_is_not_rendered() -> None:
    hub = LiveHub(StreamLimits(per_client=1, total=1), ReplayBuffer(10))
    renderer = CountingRenderer()
    router = build_router(hub, renderer, PageCache(renderer, max_entries=10, max_age=10))
    await router.dispatch(approved(slug="nobody-reads"))
    assert renderer.rendered == 0
    with hub.listen("talks-resume") as queue:
        await router.dispatch(approved())
        assert queue.get_nowait().data["id"] == "c7"
    assert renderer.rendered == 1
    # Kept for a page that reconnects, rendered when one does.
    [kept] = hub.replay.since("nobody-reads", f"{hub.replay.last_id.split('.')[0]}.0") or []
    assert 'id="comment-c7"' in kept.data["html"]
    assert renderer.rendered == 2


async def test_an_imported_comment_is_never_pushed_live() -> None:
    hub = LiveHub(StreamLimits(per_client=1, total=1), ReplayBuffer(10))
    router = build_router(hub, *_rendering())
    imported = CommentImportedV1(
        subject="c8",
        data=CommentImportedData(
            comment_id="c8",
            article_id="a1",
            article_slug="talks-resume",
            parent_id=None,
            status="approved",
            created_at=datetime(2007, 9, 4, tzinfo=UTC),
            wordpress_id=12,
        ),
    )
    with hub.listen("talks-resume") as queue:
        await router.dispatch(imported)
        assert queue.empty()


async def test_every_event_that_changes_an_article_s_page_drops_its_kept_pages() -> None:
    hub = LiveHub(StreamLimits(per_client=1, total=1), ReplayBuffer(10))
    renderer, pages = _rendering()
    router = build_router(hub, renderer, pages)
    now = datetime.now(UTC)
    ref = ArticleRef(article_id="a1", slug="talks-resume", url_path="/articles/talks-resume")
    article = ArticleData(
        article_id="a1",
        slug="talks-resume",
        previous_slugs=["talks"],
        title="Talks",
        section=SectionRef(slug="news", name="News"),
        url_path="/articles/talks-resume",
        comments_open=True,
        published_at=now,
        revision=2,
    )
    events = [
        approved(),
        CommentEditedV1(
            subject="c7",
            data=CommentEditedData(
                comment_id="c7",
                article_id="a1",
                excerpt="x",
                body_html="<p>x</p>",
                edited_at=now,
                article_slug="talks-resume",
            ),
        ),
        CommentRejectedV1(
            subject="c8",
            data=CommentRejectedData(
                comment_id="c8",
                article_id="a1",
                parent_id=None,
                reason="spam",
                article_slug="talks-resume",
            ),
        ),
        CommentDeletedV1(
            subject="c9",
            data=CommentDeletedData(comment_id="c9", article_id="a1", article_slug="talks-resume"),
        ),
        CommentImportedV1(
            subject="c8",
            data=CommentImportedData(
                comment_id="c8",
                article_id="a1",
                article_slug="talks-resume",
                parent_id=None,
                status="approved",
                created_at=now,
                wordpress_id=12,
            ),
        ),
        ArticleUpdatedV1(subject="a1", data=article),
        ArticleUnpublishedV1(subject="a1", data=ref),
        ArticleDeletedV1(subject="a1", data=ref),
        ArticleUnpublishedV2(subject="a1", data=ArticleRevisionRef(**dict(ref), revision=4)),
        ArticleDeletedV2(subject="a1", data=ArticleRevisionRef(**dict(ref), revision=5)),
    ]
    page = SharedPage.of(b"x", slug="s", can_reply=True, sort="oldest", cursor=None, thread=[])
    pages.open()
    for event in events:
        for slug in ("talks-resume", "talks", "other"):
            pages.put(page_key(slug, "oldest", None), page, pages.generation(slug))
        await router.dispatch(event)
        assert pages.get(page_key("talks-resume", "oldest", None)) is None, event.type
        assert pages.get(page_key("other", "oldest", None)) is not None, event.type
        # A renamed article: its old address's page goes too.
        renamed = isinstance(event, ArticleUpdatedV1)
        assert (pages.get(page_key("talks", "oldest", None)) is None) == renamed, event.type


async def test_edits_and_removals_are_pushed_by_slug() -> None:
    hub = LiveHub(StreamLimits(per_client=1, total=1), ReplayBuffer(10))
    router = build_router(hub, *_rendering())
    now = datetime.now(UTC)

    def edited(body_html: str, slug: str | None = "talks-resume") -> CommentEditedV1:
        data = CommentEditedData(
            comment_id="c7",
            article_id="a1",
            excerpt="x",
            body_html=body_html,
            edited_at=now,
            article_slug=slug,
        )
        return CommentEditedV1(subject="c7", data=data)

    with hub.listen("talks-resume") as queue:
        await router.dispatch(edited("<p>Now <b>bold</b></p><script>x()</script>"))
        await router.dispatch(edited(""))  # held for moderation: its text is not public
        await router.dispatch(
            CommentRejectedV1(
                subject="c8",
                data=CommentRejectedData(
                    comment_id="c8",
                    article_id="a1",
                    parent_id=None,
                    reason="spam",
                    article_slug="talks-resume",
                ),
            )
        )
        await router.dispatch(
            CommentDeletedV1(
                subject="c9",
                data=CommentDeletedData(
                    comment_id="c9", article_id="a1", article_slug="talks-resume"
                ),
            )
        )
        # An event from before the slug was added reaches no page.
        await router.dispatch(edited("<p>old</p>", slug=None))
        updates = [queue.get_nowait() for _ in range(queue.qsize())]
    assert [(u.event, u.data["id"]) for u in updates] == [
        ("edit", "c7"),
        ("remove", "c7"),
        ("remove", "c8"),
        ("remove", "c9"),
    ]
    assert updates[0].data["body_html"] == "<p>Now <b>bold</b></p>"
