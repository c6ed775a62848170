"""Issue 14, fault 3: the Kafka broker stopped under load (60 s at full size): comment POSTs
still succeed, their events waiting in the outbox; readiness reports the broker missing
meanwhile; once the broker is back everything drains within 60 s.

The load is a fixed rate of comments spread over several articles, as readers post them. (As
fast as one client could post to one article, the load was whatever this machine's comments
service could take, 2,631 comments in the minute, and the drain time the ratio of its POST path
to the consumers' for one article, whose events are handled in order.)

The session's own broker is stopped and started again on the same port and data dir (every
other test's services meet the same outage, and must ride it out as these do). Downstream is the
real notifications service: each comment asks for reply notifications from its own address, so
its event has drained once that address has its confirmation mail.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from broadsheet_devstack.pytest_plugin import Infra, ServiceFactory

from . import proof
from .faults import (
    comment,
    comments_env,
    mail_count,
    open_article,
    seconds_until,
    start_notifications,
)

pytestmark = [pytest.mark.fault, pytest.mark.e2e]

DOWN_SECONDS = proof.size(in_suite=5, in_proof=60)
RATE = 20  # comments a second: 72,000 an hour, a very busy night for a news site
ARTICLES = 10
DRAIN_WITHIN = 60.0  # the bound, counted from the broker answering again


def test_posts_succeed_while_the_broker_is_down_and_drain_after(
    infra: Infra, service_process: ServiceFactory, unique_prefix: str
) -> None:
    start_notifications(service_process)
    comments = service_process("comments", env=comments_env())
    slugs = [open_article(infra, unique_prefix, comments, f"a{n}") for n in range(ARTICLES)]
    posted: list[str] = []
    refused: list[int] = []
    readiness: list[dict[str, Any]] = []

    with httpx.Client(base_url=comments.url, timeout=30) as client:

        def post() -> None:
            n = len(posted) + len(refused)
            address = f"{unique_prefix}-{n}@readers.example"
            response = client.post(
                f"/api/articles/{slugs[n % ARTICLES]}/comments", json=comment(n, address)
            )
            if response.status_code == 201:
                posted.append(address)
            else:
                refused.append(response.status_code)

        post()
        with infra.kafka_stopped():
            stopped = time.monotonic()
            while time.monotonic() - stopped < DOWN_SECONDS:
                post()
                ready = client.get("/readyz")
                readiness.append({"status": ready.status_code, **ready.json()})
                # The next comment's time; one running late is posted at once.
                time.sleep(max(0.0, stopped + len(readiness) / RATE - time.monotonic()))
            down = time.monotonic() - stopped
        drained = seconds_until(
            lambda: set(mail_count(infra, set(posted))) == set(posted), DRAIN_WITHIN + 60
        )
        assert client.get("/readyz").status_code == 200

    mongo: MongoClient[dict[str, Any]] = MongoClient(infra.mongo_url)
    try:
        outbox = mongo[f"{unique_prefix}_broadsheet_comments"]["outbox"]
        unpublished = outbox.count_documents({"state": {"$ne": "published"}})
    finally:
        mongo.close()
    mails = mail_count(infra, set(posted))
    lost = len(set(posted) - set(mails))
    duplicated = sum(count - 1 for count in mails.values())
    broker_reported_missing = all(
        check["status"] == 503 and check["checks"]["kafka"] == "down" for check in readiness
    )
    proof.record(
        proof.Outcome(
            scenario="3. Kafka broker stopped under load",
            events=len(posted),
            lost=lost,
            duplicated=duplicated,
            recovery_seconds=None if drained is None else round(drained, 1),
            passed=not refused
            and lost == 0
            and duplicated == 0
            and broker_reported_missing
            and drained is not None
            and drained < DRAIN_WITHIN,
            notes=[
                f"broker down {down:.0f} s; {len(posted)} POSTs at {RATE}/s over {ARTICLES} "
                f"articles accepted, {len(refused)} refused",
                f"readiness polled {len(readiness)} times while down, "
                f"{'always' if broker_reported_missing else 'not always'} 'kafka: down'",
            ],
        )
    )
    assert not refused, f"POSTs refused while the broker was down: {refused}"
    assert broker_reported_missing, readiness
    assert lost == 0
    assert duplicated == 0
    assert unpublished == 0
    assert drained is not None
    assert drained < DRAIN_WITHIN
