"""``broadsheet-admin rebuild-projection comments|notifications``: rebuild that service's
article projection from the compacted topic of article states (docs/operations.md).

Configured by the same environment variables as the service itself (``COMMENTS_…`` or
``NOTIFICATIONS_…``, and the shared ``MONGO_URL``, ``KAFKA_BOOTSTRAP_SERVERS``,
``KAFKA_TOPIC_PREFIX``), so with none set it works against ``make run``. Safe while the
service runs, and to run again.

Exit status: 0 done, 1 Kafka or the database unreachable, 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka.errors import KafkaError
from pymongo.errors import PyMongoError

from broadsheet_comments.bootstrap import bootstrap as comments_bootstrap
from broadsheet_comments.settings import Settings as CommentsSettings
from broadsheet_notifications.bootstrap import bootstrap as notifications_bootstrap
from broadsheet_notifications.settings import Settings as NotificationsSettings
from broadsheet_shared.events import topics
from broadsheet_shared.mongo import ping
from broadsheet_shared.rebuild import RebuildProgress, RestorableProjection, rebuild_from_kafka
from broadsheet_shared.runtime import ServiceRuntime
from broadsheet_shared.settings import DatabaseServiceSettings


@dataclass(frozen=True)
class Target:
    """The service's own composition, never started: its projection, on its database."""

    settings: DatabaseServiceSettings
    projection: RestorableProjection
    runtime: ServiceRuntime


def _comments() -> Target:
    container = comments_bootstrap(CommentsSettings())
    return Target(container.settings, container.restorable, container.runtime)


def _notifications() -> Target:
    container = notifications_bootstrap(NotificationsSettings())
    return Target(container.settings, container.restorable, container.runtime)


# Built on demand: each reads its own service's settings from the environment.
TARGETS: dict[str, Callable[[], Target]] = {
    "comments": _comments,
    "notifications": _notifications,
}


class Unreachable(Exception):
    pass


async def rebuild(service: str, say: Callable[[str], None]) -> RebuildProgress:
    target = TARGETS[service]()
    settings = target.settings
    topic = settings.topic(topics.ARTICLE_STATES)
    say(
        f"Rebuilding the {service} article projection (database {settings.mongo_database}) "
        f"from {topic} on {settings.kafka_bootstrap_servers}"
    )
    try:
        if not await ping(target.runtime.mongo):
            raise Unreachable(
                f"the database is unreachable (MONGO_URL, database {settings.mongo_database})"
            )
        try:
            progress = await rebuild_from_kafka(
                settings, target.projection, on_progress=lambda p: say(str(p))
            )
        except (KafkaError, TimeoutError, OSError) as exc:
            raise Unreachable(
                f"Kafka is unreachable at {settings.kafka_bootstrap_servers}, or has no "
                f"topic {topic}: {exc!r}"
            ) from exc
        except PyMongoError as exc:
            raise Unreachable(f"the database failed during the rebuild: {exc!r}") from exc
    finally:
        await target.runtime.stop()
    return progress


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="broadsheet-admin", description="Operator commands for a running Broadsheet."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    rebuild_cmd = commands.add_parser(
        "rebuild-projection",
        help="rebuild a service's article projection from Kafka, while it serves",
    )
    rebuild_cmd.add_argument("service", choices=sorted(TARGETS))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        progress = asyncio.run(rebuild(args.service, lambda line: print(line, flush=True)))
    except Unreachable as exc:
        print(f"broadsheet-admin: {exc}", file=sys.stderr)
        return 1
    print(f"Done: {progress}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
