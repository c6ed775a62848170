"""Issue 14, fault 2: the comments service SIGKILLed right after its database commit, again and
again; every committed comment's event takes effect exactly once downstream.

Each POST commits a comment (and its event, in the outbox) and the process dies before it can
answer or publish (``kill_after_commit.py``); it is started again each time. Downstream is the
real notifications service: each comment asks for reply notifications from its own address, so
the effect of its ``comment.posted`` event is one confirmation mail to that address.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from broadsheet_devstack.pytest_plugin import Infra, ServiceFactory

from . import proof
from .faults import (
    RESTART_WITHIN,
    comment,
    comments_env,
    mail_count,
    open_article,
    seconds_until,
    start_notifications,
)

pytestmark = [pytest.mark.fault, pytest.mark.e2e]

# One kill in the suite proves the path (commit, death, restart, the relay publishes what the
# dead process left); each further one is a cold start: the 50 are for make proof.
KILLS = proof.size(in_suite=1, in_proof=50)
HERE = Path(__file__).parent


def test_every_comment_committed_before_a_kill_takes_effect_once(
    infra: Infra, service_process: ServiceFactory, unique_prefix: str
) -> None:
    start_notifications(service_process)
    comments = service_process(
        "comments", app="kill_after_commit:create_app", python_path=[HERE], env=comments_env()
    )
    slug = open_article(infra, unique_prefix, comments)
    addresses = [f"{unique_prefix}-{n}@readers.example" for n in range(KILLS)]

    for n, address in enumerate(addresses):
        with pytest.raises(httpx.TransportError):  # died after the commit, before answering
            httpx.post(
                f"{comments.url}/api/articles/{slug}/comments",
                json=comment(n, address),
                timeout=30,
            )
        comments.process.wait(timeout=30)
        comments.restart(timeout=RESTART_WITHIN)
    # The last restart's relay publishes what the last kill left in the outbox.

    mongo: MongoClient[dict[str, Any]] = MongoClient(infra.mongo_url)
    try:
        committed = mongo[f"{unique_prefix}_broadsheet_comments"]["comments"].count_documents({})
    finally:
        mongo.close()
    expected = set(addresses)
    recovery = seconds_until(lambda: set(mail_count(infra, expected)) == expected, 120)
    time.sleep(2)  # a duplicate would arrive within the delivery worker's next polls
    mails = mail_count(infra, expected)
    lost = len(expected - set(mails))
    duplicated = sum(count - 1 for count in mails.values())
    proof.record(
        proof.Outcome(
            scenario="2. comments SIGKILLed right after its commit",
            events=KILLS,
            lost=lost,
            duplicated=duplicated,
            recovery_seconds=None if recovery is None else round(recovery, 1),
            passed=committed == KILLS and lost == 0 and duplicated == 0,
            notes=[f"kills: {KILLS}; comments committed: {committed}; one mail each expected"],
        )
    )
    assert committed == KILLS
    assert lost == 0
    assert duplicated == 0
