"""A service whose database is down (stopped) or frozen (SIGSTOP) answers 503 problem+json with
Retry-After within 2 s, never a 500 and never after the gateway's 10 s; a POST refused that way
leaves nothing behind once the database is back; and the service recovers by itself.

Real processes: the comments service and a database server of its own (the session's is shared
by every other test, so this one is not stopped)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from broadsheet_devstack.database import DatabaseServer
from broadsheet_devstack.processes import free_port

pytestmark = pytest.mark.integration

ANSWER_WITHIN = 2.0


@pytest.fixture
def database(infra: Any, tmp_path: Path) -> Iterator[DatabaseServer]:
    server = DatabaseServer(
        tmp_path / "db", log_path=infra.log_dir / "database-down.log", port=free_port()
    )
    server.start()
    try:
        server.wait_ready(60)
        yield server
    finally:
        process = server.process
        if process is not None and process.pid is not None and process.running:
            os.kill(process.pid, signal.SIGCONT)  # a failed test may leave it stopped
        server.stop()


def timed(request: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


def assert_unavailable(response: httpx.Response, seconds: float) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    assert seconds < ANSWER_WITHIN


def recovers(client: httpx.Client, path: str) -> None:
    deadline = time.monotonic() + 30
    while client.get(path).status_code != 404:  # the slug is unknown: a real answer
        assert time.monotonic() < deadline, "no recovery after the database came back"
        time.sleep(0.2)


def test_database_stopped_or_frozen_answers_503_fast_and_recovers(
    service_process: Any, database: DatabaseServer
) -> None:
    comments = service_process("comments", env={"MONGO_URL": database.url})
    count = "/api/articles/no-such-story/comments/count"
    post = "/api/articles/no-such-story/comments"
    body = {"author_name": "Ann", "body": "Posted while the database was frozen"}
    with httpx.Client(base_url=comments.url, timeout=15) as client:
        assert client.get(count).status_code == 404

        process = database.process
        assert process is not None
        assert process.pid is not None
        os.kill(process.pid, signal.SIGSTOP)
        try:
            assert_unavailable(*timed(lambda: client.get(count)))
            assert_unavailable(*timed(lambda: client.post(post, json=body)))
        finally:
            os.kill(process.pid, signal.SIGCONT)
        recovers(client, count)

        database.stop()
        assert_unavailable(*timed(lambda: client.get(count)))
        assert_unavailable(*timed(lambda: client.post(post, json=body)))
        assert client.get("/readyz").status_code == 503
        database.start()
        database.wait_ready(60)
        recovers(client, count)
        assert client.get("/readyz").status_code == 200
    started = time.monotonic()
    comments.stop()
    assert time.monotonic() - started < 10  # stopping waits for no restart of its loops

    # The refused POSTs left no comment behind, not even once the frozen server resumed.
    mongo: MongoClient[dict[str, Any]] = MongoClient(database.url)
    try:
        names = mongo.list_database_names()
        assert not any(mongo[name]["comments"].count_documents({}) for name in names)
    finally:
        mongo.close()
