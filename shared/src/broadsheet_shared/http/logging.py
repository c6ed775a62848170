"""Structured JSON logs carrying the request id and, in consumers, the event id."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable

import structlog
from asgi_correlation_id import correlation_id
from structlog.typing import EventDict, WrappedLogger


def _add_request_id(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    request_id = correlation_id.get()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


# Subscription links carry their token as the last path segment (confirm, unsubscribe and any
# later kind); a token in a query is redacted too. Whoever reads the logs must not be able to
# follow them.
_TOKEN_SEGMENT = re.compile(r"(/subscriptions/[^/?#\s]+/)[^/?#\s\"]+")
_TOKEN_PARAMETER = re.compile(r"([?&]token=)[^&#\s\"]+")
REDACTED = "[redacted]"


def redact_tokens(text: str) -> str:
    return _TOKEN_PARAMETER.sub(rf"\g<1>{REDACTED}", _TOKEN_SEGMENT.sub(rf"\g<1>{REDACTED}", text))


class RedactTokens(logging.Filter):
    """On the access log: uvicorn passes the path as an argument of the line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_tokens(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


class RepeatsThinned(logging.Filter):
    """At most one line per ``interval`` seconds for each message of one of the ``loggers``,
    saying how many like it were dropped since the last.

    While a broker is down, aiokafka logs every reconnect attempt, and a refused connection
    returns at once, so it retries with no pause (aio-libs/aiokafka#496): a proof run counted
    270,000 lines a minute from one service. Lines are told apart by logger and message
    template, not by their arguments (the node id, the error).
    """

    def __init__(
        self,
        loggers: str,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._prefix = loggers
        self._interval = interval
        self._clock = clock
        # (logger, template) -> (when a line last went out, lines dropped since)
        self._seen: dict[tuple[str, object], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.name == self._prefix or record.name.startswith(f"{self._prefix}.")):
            return True
        key = (record.name, record.msg)
        now = self._clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self._interval:
            self._seen[key] = (seen[0], seen[1] + 1)
            return False
        self._seen[key] = (now, 0)
        if seen is not None and seen[1]:
            record.msg = f"{record.msg} [{seen[1]} more like it in the last {now - seen[0]:.0f} s]"
        return True


def configure_logging(service: str, level: str = "INFO", *, json: bool = True) -> None:
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_request_id,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    # On the handler: a logger's filter does not see what its children log.
    handler.addFilter(RepeatsThinned("aiokafka"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
        # uvicorn sets these to INFO itself; LOG_LEVEL decides (access lines cost CPU per request).
        logger.setLevel(logging.NOTSET)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(existing, RedactTokens) for existing in access.filters):
        access.addFilter(RedactTokens())
    # aiokafka is chatty about routine coordinator events.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    structlog.contextvars.bind_contextvars(service=service)
