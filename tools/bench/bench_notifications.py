"""Benchmark: email delivery throughput and reply → email latency.

Starts Kafka, the database and SMTP capture (devstack launchers) and the notifications service
under uvicorn (one worker), then:

1. Burst: 10,000 pending deliveries are seeded straight into the service's ledger, held back,
   then released at once; measures how fast the delivery worker gets them all to the SMTP
   capture over its pooled connections (target: >= 500 emails/s). Every message is counted in
   the capture's Maildir.
2. Latency, on the shared method (method.py): confirmed readers subscribed to replies are
   seeded; ``comment.approved`` replies are published to Kafka open-loop at 100/s for 60 s, in
   ``ROUNDS`` rounds (fresh readers each); latency is from each reply's *intended* publish time
   (a stalled publisher is counted, not hidden) to its message file appearing in the capture's
   Maildir. Goals (issue 16): p50 <= 250 ms, p99 <= 1 s, none lost. Where the time goes:
   intended publish → ledger row (consume), ledger row → SMTP accepted (send).
3. Breaking point: one round at 500 replies/s, reported as measured.

    uv run python tools/bench/bench_notifications.py [--burst 10000] [--rate 100] [--seconds 60]
        [--high-rate 500]
"""

from __future__ import annotations

import argparse
import asyncio
import mailbox
import math
import os
import secrets
import statistics
import time
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from harness import service_on_devstack
from method import Comparison, Goal, alternate, emit, percentile, started_section
from pymongo import AsyncMongoClient

from broadsheet_notifications.domain import (
    Address,
    Delivery,
    Subscription,
    delivery_id,
)
from broadsheet_notifications.repository import (
    ADDRESSES,
    DELIVERIES,
    SUBSCRIPTIONS,
    address_to_doc,
    delivery_to_doc,
    subscription_to_doc,
)
from broadsheet_shared.events import CommentApprovedData, CommentApprovedV1, topics
from broadsheet_shared.kafka.producer import EventProducer
from broadsheet_shared.testing import DEV_DIGEST

FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def maildir_count(path: Path) -> int:
    return sum(len(os.listdir(path / sub)) for sub in ("new", "cur"))


def burst_docs(count: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    docs = []
    for n in range(count):
        email = f"burst{n}@bench.example"
        delivery = Delivery(
            id=delivery_id(f"burst-{n}", email),
            kind="reply",
            recipient_hash=f"h{n}",
            email=email,
            article_id="bench-article",
            source_event_id=f"burst-{n}",
            subscription_id=f"reply-burst-{n}",
            comment_ids=[f"c{n}"],
            content={
                "article_title": "Talks resume in Geneva",
                "article_url_path": "/articles/talks-resume",
                "comment_url_path": f"/articles/talks-resume#comment-c{n}",
                "author_name": "Bench Reader",
                "excerpt": "A considered reply about the article, of a typical length. " * 3,
            },
            created_at=now,
            next_attempt_at=FAR_FUTURE,  # held back until the release
            deadline=FAR_FUTURE,
        )
        docs.append(delivery_to_doc(delivery))
    return docs


async def measure_burst(
    env: dict[str, str], maildir: Path, count: int, pids: dict[str, int]
) -> dict[str, Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(env["MONGO_URL"], tz_aware=True)
    db = client[env["NOTIFICATIONS_MONGO_DATABASE"]]
    docs = burst_docs(count)
    for start in range(0, len(docs), 1000):
        await db[DELIVERIES].insert_many(docs[start : start + 1000])
    before = maildir_count(maildir)
    cpu_before = cpu_snapshot(pids)
    started = time.monotonic()
    await db[DELIVERIES].update_many(
        {"source_event_id": {"$regex": "^burst-"}},
        {"$set": {"next_attempt_at": datetime.now(UTC) - timedelta(seconds=1)}},
    )
    released = time.monotonic()
    deadline = started + 300
    # Poll gently: listing a directory of 10,000 files steals CPU from what is measured.
    while maildir_count(maildir) - before < count and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
    arrived = time.monotonic()
    cpu_after = cpu_snapshot(pids)
    delivered = maildir_count(maildir) - before
    sent = await db[DELIVERIES].count_documents(
        {"source_event_id": {"$regex": "^burst-"}, "state": "sent"}
    )
    await client.close()
    seconds = arrived - released
    return {
        "emails": count,
        "delivered_to_capture": delivered,
        "recorded_sent": sent,
        "seconds": round(seconds, 2),
        "emails_per_second": round(delivered / seconds, 1) if seconds else None,
        "target_emails_per_second": 500,
        "target_met": delivered == count and delivered / seconds >= 500,
        # Where the CPU went during the burst, per process (2 cores = 2 CPU-s per second).
        "cpu_seconds": {
            name: round(cpu_after[name] - cpu_before[name], 2) for name in sorted(pids)
        },
    }


async def seed_readers(env: dict[str, str], count: int, tag: str) -> list[str]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(env["MONGO_URL"], tz_aware=True)
    db = client[env["NOTIFICATIONS_MONGO_DATABASE"]]
    now = datetime.now(UTC)
    parents = []
    addresses, subs = [], []
    for n in range(count):
        address = Address.new(f"lat{tag}-{n}@bench.example", now, DEV_DIGEST)
        address.confirm(now)
        parent = f"parent-{tag}-{n}"
        parents.append(parent)
        addresses.append(address_to_doc(address))
        sub = Subscription.to_replies(parent, f"article-{n % 50}", address.recipient_hash, now)
        sub.confirm(now)  # as the reader's click on the confirmation link does
        subs.append(subscription_to_doc(sub))
    await db[ADDRESSES].insert_many(addresses)
    await db[SUBSCRIPTIONS].insert_many(subs)
    await client.close()
    return parents


async def measure_latency(
    env: dict[str, str], maildir: Path, rate: float, seconds: float, service_pid: int
) -> dict[str, Any]:
    count = int(rate * seconds)
    tag = secrets.token_hex(3)
    parents = await seed_readers(env, count, tag)
    producer = EventProducer(env["KAFKA_BOOTSTRAP_SERVERS"], "bench-notifications")
    await producer.start()
    topic = env["KAFKA_TOPIC_PREFIX"] + topics.COMMENTS
    # recipient → wall-clock time its reply was *meant* to be published (the open loop's
    # origin: a publisher that falls behind adds its delay to the latency).
    published: dict[str, float] = {}
    # Each publish is its own task: waiting for one ack before the next send would make the
    # generator, not the service, what a high rate measures.
    sends: list[asyncio.Task[None]] = []
    service_cpu = cpu_seconds(service_pid)
    start = time.monotonic()
    start_wall = time.time()
    try:
        for n, parent in enumerate(parents):
            target = start + n / rate
            delay = target - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = datetime.now(UTC)
            event = CommentApprovedV1(
                subject=f"reply-{n}",
                data=CommentApprovedData(
                    comment_id=f"reply-{n}-{secrets.token_hex(3)}",
                    article_id=f"article-{n % 50}",
                    article_slug=f"article-{n % 50}",
                    article_title="Talks resume in Geneva",
                    article_url_path=f"/articles/article-{n % 50}",
                    parent_id=parent,
                    author_name="Replier",
                    excerpt="A reply, of a typical length for a comment excerpt.",
                    created_at=now,
                    approved_at=now,
                ),
            )
            published[f"lat{tag}-{n}@bench.example"] = start_wall + n / rate
            sends.append(asyncio.create_task(producer.publish(event, topic)))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    # Wait for every reply to arrive (or 120 s), then read delivery times from the Maildir.
    box = mailbox.Maildir(maildir, create=False)
    parser = BytesHeaderParser()
    latencies: dict[str, float] = {}
    deadline = time.monotonic() + 120
    seen: set[str] = set()
    while len(latencies) < count and time.monotonic() < deadline:
        for sub in ("new", "cur"):
            for name in os.listdir(maildir / sub):
                if name in seen:
                    continue
                seen.add(name)
                path = maildir / sub / name
                with path.open("rb") as handle:
                    headers = parser.parse(handle)
                to = str(headers.get("To", ""))
                if to in published:
                    latencies[to] = path.stat().st_mtime - published[to]
        await asyncio.sleep(0.2)
    # How busy the service's one process was, publish to last delivery: near 100% of a core,
    # every await (a database round trip, the next poll) waits for the event loop.
    service_busy = (cpu_seconds(service_pid) - service_cpu) / (time.monotonic() - start) * 100
    load = os.getloadavg()[0]
    del box
    # Where the time goes: Kafka → ledger row (consume), ledger row → SMTP accepted (send).
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(env["MONGO_URL"], tz_aware=True)
    db = client[env["NOTIFICATIONS_MONGO_DATABASE"]]
    consume, send = [], []
    async for doc in db[DELIVERIES].find({"email": {"$in": list(published)}}):
        created = doc["created_at"].timestamp()
        consume.append((created - published[doc["email"]]) * 1000)
        if doc.get("sent_at"):
            send.append((doc["sent_at"].timestamp() - created) * 1000)
    await client.close()
    values = [v * 1000 for v in latencies.values()]

    def median(xs: list[float]) -> float:
        return statistics.median(xs) if xs else math.nan

    def p99(xs: list[float]) -> float:
        return percentile(xs, 99)

    return {
        "p50 ms": median(values),
        "p99 ms": p99(values),
        "lost": float(count - len(values)),
        "consume p50 ms": median(consume),
        "consume p99 ms": p99(consume),
        "send p50 ms": median(send),
        "send p99 ms": p99(send),
        "service CPU %": service_busy,
        "load average": load,
    }


# A Python process at this share of a core is bound by its own CPU: its event loop is the queue.
CPU_BOUND = 80.0


def where_the_time_goes(figures: dict[str, float], stat: str) -> str:
    """The measured cause of a missed latency goal: which stage takes most of the ``stat``
    ("p50" or "p99") of reply → email, consume (intended publish → ledger row) or send
    (ledger row → SMTP capture)."""
    total, consume, send = (figures[f"{part}{stat} ms"] for part in ("", "consume ", "send "))
    stages = f"of the {total:.0f} ms {stat}, consume takes {consume:.0f} ms and send {send:.0f} ms"
    share, load = figures["service CPU %"], figures["load average"]
    if share >= CPU_BOUND:
        busy = (
            f"; the service's one process was busy {share:.0f}% of a core, so each database "
            "round trip and poll also waits for its event loop, which composes and sends too"
        )
    else:
        busy = (
            f"; the service's one process used only {share:.0f}% of a core, so it mostly waited "
            f"(on the database's answers, and for a CPU: the load average was {load:.1f} on "
            f"{os.cpu_count()} cores)"
        )
    if consume >= send:
        return (
            f"{stages}: the service's Kafka consumer lags (each reply is one transaction of "
            "six database round trips, handled as soon as it is fetched unless its article's "
            f"earlier replies are still in hand){busy}."
        )
    return (
        f"{stages}: the delivery worker lags (each batch is claimed, sent and recorded in "
        f"transactions of its own){busy}."
    )


def busiest(burst: dict[str, Any]) -> str:
    """The measured cause of a slow burst: the process that used the most CPU during it."""
    name, used = max(burst["cpu_seconds"].items(), key=lambda item: item[1])
    share = used / burst["seconds"] * 100 if burst["seconds"] else math.nan
    return (
        f"the {name} process used {used} CPU-s in the {burst['seconds']} s of the burst "
        f"({share:.0f}% of one core) on a machine of {os.cpu_count()} cores shared with the "
        "load average in the section's heading."
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100.0)
    # BENCH_SECONDS shortens a quick run (`BENCH_SECONDS=3 make bench BENCH=notifications`).
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 60)))
    parser.add_argument("--high-rate", type=float, default=500.0)
    args = parser.parse_args()

    section = started_section("Notifications: reply → email")
    extra = {"NOTIFICATIONS_DELIVERY_POLL_SECONDS": "0.05"}
    with service_on_devstack("notifications", extra) as (infra, service, env):
        pids = {
            "service": service.pid,
            "database": infra.database.process.pid if infra.database.process else None,
            "smtp_capture": infra.smtp.process.pid if infra.smtp.process else None,
            "kafka": infra.kafka.process.pid if infra.kafka.process else None,
        }
        known = {name: pid for name, pid in pids.items() if pid is not None}
        burst = asyncio.run(measure_burst(env, infra.maildir, args.burst, known))

        def measure(rate: float) -> dict[str, float]:
            figures = asyncio.run(
                measure_latency(env, infra.maildir, rate, args.seconds, known["service"])
            )
            print(f"{rate:.0f}/s", {k: round(v, 1) for k, v in figures.items()}, flush=True)
            return figures

        steady = alternate(["steady"], lambda _: measure(args.rate))["steady"]
        high = measure(args.high_rate)

    goal = "issue 16's goal"
    typical = {figure: statistics.median(rounds) for figure, rounds in steady.items()}
    section.comparisons += [
        Comparison(
            f"burst of {burst['emails']:,} emails to the SMTP capture",
            "emails/s",
            "the service's own target (docs/notifications.md)",
            [burst["emails_per_second"] or math.nan],
            [500.0],
            Goal("ratio_at_least", 1.0),
            why=busiest(burst),
        ),
        Comparison(
            f"reply → email p50 at {args.rate:.0f}/s",
            "ms",
            goal,
            steady["p50 ms"],
            [250.0],
            Goal("ratio_at_most", 1.0),
            why=where_the_time_goes(typical, "p50"),
        ),
        Comparison(
            f"reply → email p99 at {args.rate:.0f}/s",
            "ms",
            goal,
            steady["p99 ms"],
            [1000.0],
            Goal("ratio_at_most", 1.0),
            why=where_the_time_goes(typical, "p99"),
        ),
    ]
    cpu = ", ".join(f"{name} {secs} s" for name, secs in burst["cpu_seconds"].items())
    section.notes += [
        f"Replies lost at {args.rate:.0f}/s per round (goal 0): "
        + ", ".join(f"{lost:.0f}" for lost in steady["lost"]),
        f"Where the time goes at {args.rate:.0f}/s (medians of the rounds): to the ledger row "
        f"(consume) p50 {statistics.median(steady['consume p50 ms']):.0f} ms, p99 "
        f"{statistics.median(steady['consume p99 ms']):.0f} ms; to the SMTP capture (send) "
        f"p50 {statistics.median(steady['send p50 ms']):.0f} ms, p99 "
        f"{statistics.median(steady['send p99 ms']):.0f} ms.",
        f"At {args.high_rate:.0f}/s for {args.seconds:.0f} s (one round): p50 "
        f"{high['p50 ms']:.0f} ms, p99 {high['p99 ms']:.0f} ms, lost {high['lost']:.0f} "
        f"(not delivered within 120 s of the last publish); consume p50 "
        f"{high['consume p50 ms']:.0f} ms, send p50 {high['send p50 ms']:.0f} ms. Where it "
        f"breaks: {where_the_time_goes(high, 'p50')}",
        f"CPU used during the burst: {cpu}.",
    ]
    emit(section)


if __name__ == "__main__":
    main()
