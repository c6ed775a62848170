import pytest

from broadsheet_gateway.live import LiveHub, ReplayBuffer, StreamLimits, TooManyStreams

pytestmark = pytest.mark.unit

LIMITS = StreamLimits(per_client=10, total=10)


def test_a_page_listens_until_it_closes() -> None:
    hub = LiveHub(LIMITS, ReplayBuffer(10))
    with hub.listen("a") as queue:
        assert hub.listeners("a") == 1
        assert hub.publish("a", "comment", lambda: {"id": "c1"}) == 1
        assert queue.get_nowait().data == {"id": "c1"}
    assert hub.listeners("a") == 0
    assert hub.publish("a", "comment", lambda: {"id": "c2"}) == 0


def test_a_reader_that_stopped_reading_loses_updates_not_the_gateway() -> None:
    hub = LiveHub(LIMITS, ReplayBuffer(10), queue_size=2)
    with hub.listen("a") as slow, hub.listen("a") as other:
        delivered = [hub.publish("a", "comment", dict) for i in range(3)]
        assert delivered == [2, 2, 0]
        assert slow.qsize() == 2
        assert other.qsize() == 2


def test_streams_are_capped_per_client_and_in_all_until_released() -> None:
    hub = LiveHub(StreamLimits(per_client=2, total=3), ReplayBuffer(10))
    first = hub.admit("a")
    hub.admit("a")
    with pytest.raises(TooManyStreams) as mine:
        hub.admit("a")
    assert mine.value.per_client
    hub.admit("b")
    with pytest.raises(TooManyStreams) as everyone:
        hub.admit("c")
    assert not everyone.value.per_client
    first()
    first()  # releasing twice frees one place, not two
    assert hub.open_streams == 2
    hub.admit("c")
    with pytest.raises(TooManyStreams):
        hub.admit("d")


def test_a_page_that_reconnects_gets_what_it_missed_of_its_article_only() -> None:
    replay = ReplayBuffer(10, epoch="e1")
    seen = replay.add("a", "comment", lambda: {"id": "c1"}).id
    assert seen == replay.last_id == "e1.1"
    replay.add("b", "comment", lambda: {"id": "c2"})
    replay.add("a", "edit", lambda: {"id": "c1"})
    replay.add("a", "remove", lambda: {"id": "c1"})
    missed = replay.since("a", seen)
    assert missed is not None
    assert [(u.id, u.event) for u in missed] == [("e1.3", "edit"), ("e1.4", "remove")]
    assert replay.since("a", replay.last_id) == []


def test_beyond_the_bound_or_from_another_process_the_page_must_reload() -> None:
    replay = ReplayBuffer(3, epoch="e1")
    first = replay.add("a", "comment", dict).id
    for _ in range(4):
        replay.add("b", "comment", dict)
    # Three are kept (e1.3 to e1.5): whether "a" changed in e1.2 cannot be told.
    assert replay.since("a", first) is None
    assert replay.since("a", "e1.2") == []  # everything after e1.2 is still kept
    for foreign in ("e0.2", "e1.9", "e1.x", "junk", ""):
        assert replay.since("a", foreign) is None, foreign
