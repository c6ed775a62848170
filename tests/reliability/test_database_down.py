"""Issue 14, fault 4: the database server stopped, and separately frozen with SIGSTOP (30 s at
full size): the API answers 503 problem+json with Retry-After within twice its database bound
(3 s), never a 500 and never after the gateway's 10 s; the service neither exits nor needs a
restart, and answers again by itself once the server is back; every comment it accepted is kept,
and a POST it refused leaves nothing behind, not even once a frozen server resumes.

Real processes: the comments service and a database server of its own (the session's is shared
by every other test, so this one is not stopped); the session's broker brings it its article.
"""

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

from broadsheet_comments.settings import Settings
from broadsheet_devstack.database import DatabaseServer
from broadsheet_devstack.processes import free_port
from broadsheet_devstack.pytest_plugin import Infra, ServiceFactory

from . import proof
from .faults import comments_env, open_article, seconds_until

pytestmark = [pytest.mark.fault, pytest.mark.integration]

# The service's bound on one database operation (COMMENTS_MONGO_TIMEOUT_MS, 1.5 s, kept at its
# production value here) plus as much again for the request around it on a loaded machine: far
# inside the gateway's 10 s, so a reader gets the 503 and never the gateway's timeout.
DATABASE_BOUND = Settings().mongo_timeout_ms / 1000
ANSWER_WITHIN = 2 * DATABASE_BOUND
OUTAGE_SECONDS = proof.size(in_suite=3, in_proof=30)
RECOVER_WITHIN = 30.0


@pytest.fixture
def database(infra: Infra, tmp_path: Path) -> Iterator[DatabaseServer]:
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


class Outage:
    """What the API answered while the database was away."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, str, str | None, float]] = []

    def ask(self, request: Callable[[], httpx.Response]) -> None:
        started = time.monotonic()
        response = request()
        self.answers.append(
            (
                response.status_code,
                response.headers.get("content-type", ""),
                response.headers.get("retry-after"),
                time.monotonic() - started,
            )
        )

    @property
    def slowest(self) -> float:
        return max(seconds for *_, seconds in self.answers)

    @property
    def wrong(self) -> list[tuple[int, str, str | None, float]]:
        return [
            answer
            for answer in self.answers
            if answer[0] != 503
            or not answer[1].startswith("application/problem+json")
            or not answer[2]
            or int(answer[2]) <= 0
            or answer[3] >= ANSWER_WITHIN
        ]


def test_database_stopped_or_frozen_answers_503_fast_and_recovers(
    infra: Infra, service_process: ServiceFactory, unique_prefix: str, database: DatabaseServer
) -> None:
    comments = service_process(
        "comments",
        env=comments_env(
            MONGO_URL=database.url, COMMENTS_MONGO_TIMEOUT_MS=str(int(DATABASE_BOUND * 1000))
        ),
    )
    slug = open_article(infra, unique_prefix, comments)
    pid = comments.pid
    post = f"/api/articles/{slug}/comments"
    count = f"/api/articles/{slug}/comments/count"
    accepted: list[str] = []
    outages: dict[str, Outage] = {}
    recovery: dict[str, float | None] = {}  # seconds until it answered again, by outage
    readiness: list[int] = []

    def body(tag: str) -> dict[str, str]:
        return {"author_name": "Ann", "body": f"{unique_prefix} {tag} {len(accepted)}"}

    def accept(client: httpx.Client, tag: str) -> None:
        response = client.post(post, json=body(tag))
        assert response.status_code == 201, response.text
        accepted.append(response.json()["id"])

    def away(client: httpx.Client, mode: str) -> None:
        outage = outages[mode] = Outage()
        started = time.monotonic()
        while time.monotonic() - started < OUTAGE_SECONDS:
            outage.ask(lambda: client.get(count))
            outage.ask(lambda: client.post(post, json=body(f"refused while {mode}")))
        readiness.append(client.get("/readyz").status_code)

    def back(client: httpx.Client, mode: str) -> None:
        seconds = seconds_until(lambda: client.get(count).status_code == 200, RECOVER_WITHIN)
        recovery[mode] = None if seconds is None else round(seconds, 2)
        accept(client, f"after {mode}")

    process = database.process
    assert process is not None
    assert process.pid is not None
    with httpx.Client(base_url=comments.url, timeout=15) as client:
        accept(client, "before")
        os.kill(process.pid, signal.SIGSTOP)
        try:
            away(client, "frozen")
        finally:
            os.kill(process.pid, signal.SIGCONT)
        back(client, "frozen")

        database.stop()
        away(client, "stopped")
        database.start()
        database.wait_ready(60)
        back(client, "stopped")
        ready_again = client.get("/readyz").status_code

    still_running = comments.running and comments.pid == pid
    started = time.monotonic()
    comments.stop()
    stopped_in = time.monotonic() - started
    mongo: MongoClient[dict[str, Any]] = MongoClient(database.url)
    try:
        stored = [
            row["_id"]
            for name in mongo.list_database_names()
            for row in mongo[name]["comments"].find({}, {"_id": 1})
        ]
    finally:
        mongo.close()
    kept = {str(comment_id) for comment_id in stored}
    lost = len(set(accepted) - kept)
    left_behind = len(kept - set(accepted))  # a refused POST's comment
    wrong = {mode: outage.wrong for mode, outage in outages.items()}
    proof.record(
        proof.Outcome(
            scenario="4. database stopped, and frozen, for a while",
            events=sum(len(outage.answers) for outage in outages.values()),
            lost=lost,
            duplicated=left_behind,
            recovery_seconds=max(
                (seconds for seconds in recovery.values() if seconds is not None), default=None
            ),
            passed=not any(wrong.values())
            and lost == 0
            and left_behind == 0
            and None not in recovery.values()
            and still_running,
            notes=[
                f"{mode} {OUTAGE_SECONDS} s: {len(outage.answers)} requests, slowest answer "
                f"{outage.slowest:.2f} s, {len(outage.wrong)} not a fast 503 problem+json; "
                f"answering again after {recovery[mode]} s"
                for mode, outage in outages.items()
            ]
            + [f"{len(accepted)} comments accepted around the outages; the process never exited"],
        )
    )
    assert not any(wrong.values()), wrong
    assert readiness == [503, 503]
    assert ready_again == 200
    assert None not in recovery.values(), recovery
    assert still_running, "the service exited during the outage"
    assert stopped_in < 10  # stopping waits for no restart of its loops
    assert lost == 0
    assert left_behind == 0, "a refused POST left a comment behind"
