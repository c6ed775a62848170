import pytest

from broadsheet_gateway.thread import nest_comments

pytestmark = pytest.mark.unit


def test_nest_comments_follows_display_order_and_depth() -> None:
    items = [
        {"id": "1", "depth": 0},
        {"id": "2", "depth": 1},
        {"id": "3", "depth": 2},
        {"id": "4", "depth": 1},
        {"id": "5", "depth": 0},
        {"id": "6", "depth": 1},
    ]
    roots = nest_comments(items)
    assert [n.id for n in roots] == ["1", "5"]
    assert [n.id for n in roots[0].children] == ["2", "4"]
    assert [n.id for n in roots[0].children[0].children] == ["3"]
    assert [n.id for n in roots[1].children] == ["6"]


def test_depth_is_taken_as_the_comments_service_gives_it() -> None:
    # The service shows replies deeper than its limit at that limit, each after the one it
    # answers: they are siblings there, and the gateway does not cap or re-derive anything.
    items = [{"id": str(i), "depth": min(i, 4)} for i in range(7)]
    roots = nest_comments(items)
    third = roots[0].children[0].children[0].children[0]
    assert [n.id for n in third.children] == ["4", "5", "6"]
    assert [n.comment["depth"] for n in third.children] == [4, 4, 4]


def test_orphan_reply_starts_its_own_thread() -> None:
    roots = nest_comments([{"id": "7", "depth": 2}, {"id": "8", "depth": 3}])
    assert [n.id for n in roots] == ["7"]
    assert [n.id for n in roots[0].children] == ["8"]
