import pytest

from broadsheet_gateway.texts import comments_heading, error_title, notice_for

pytestmark = pytest.mark.unit


def test_comments_heading() -> None:
    assert comments_heading(0) == "No Comments on this post"
    assert comments_heading(1) == "1 Comment on this post"
    assert comments_heading(2) == "2 Comments on this post"


def test_notices_and_error_titles() -> None:
    assert notice_for("pending") == "Your comment is awaiting moderation."
    assert notice_for("unknown") is None
    assert notice_for(None) is None
    assert error_title(404) == "Not found"
    assert error_title(418) == "Sorry"
