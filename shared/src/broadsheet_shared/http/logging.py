"""Structured JSON logs carrying the request id and, in consumers, the event id."""

from __future__ import annotations

import logging
import re
import sys

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
