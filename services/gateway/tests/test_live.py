import pytest

from broadsheet_gateway.live import LiveHub, StreamLimits, TooManyStreams

pytestmark = pytest.mark.unit

LIMITS = StreamLimits(per_client=10, total=10)


def test_a_page_listens_until_it_closes() -> None:
    hub = LiveHub(LIMITS)
    with hub.listen("a") as queue:
        assert hub.listeners("a") == 1
        assert hub.publish("a", {"id": "c1"}) == 1
        assert queue.get_nowait() == {"id": "c1"}
    assert hub.listeners("a") == 0
    assert hub.publish("a", {"id": "c2"}) == 0


def test_a_reader_that_stopped_reading_loses_updates_not_the_gateway() -> None:
    hub = LiveHub(LIMITS, queue_size=2)
    with hub.listen("a") as slow, hub.listen("a") as other:
        delivered = [hub.publish("a", {"id": str(i)}) for i in range(3)]
        assert delivered == [2, 2, 0]
        assert slow.qsize() == 2
        assert other.qsize() == 2


def test_streams_are_capped_per_client_and_in_all_until_released() -> None:
    hub = LiveHub(StreamLimits(per_client=2, total=3))
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
