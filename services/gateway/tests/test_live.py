import pytest

from broadsheet_gateway.live import LiveHub

pytestmark = pytest.mark.unit


def test_a_page_listens_until_it_closes() -> None:
    hub = LiveHub()
    with hub.listen("a") as queue:
        assert hub.listeners("a") == 1
        assert hub.publish("a", {"id": "c1"}) == 1
        assert queue.get_nowait() == {"id": "c1"}
    assert hub.listeners("a") == 0
    assert hub.publish("a", {"id": "c2"}) == 0


def test_a_reader_that_stopped_reading_loses_updates_not_the_gateway() -> None:
    hub = LiveHub(queue_size=2)
    with hub.listen("a") as slow, hub.listen("a") as other:
        delivered = [hub.publish("a", {"id": str(i)}) for i in range(3)]
        assert delivered == [2, 2, 0]
        assert slow.qsize() == 2
        assert other.qsize() == 2
