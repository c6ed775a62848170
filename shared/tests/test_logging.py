"""Access logs never carry the tokens of subscription links."""

from __future__ import annotations

import logging
import logging.config

import pytest
from uvicorn.config import LOGGING_CONFIG

from broadsheet_shared.http.logging import configure_logging, redact_tokens

pytestmark = pytest.mark.unit

TOKEN = "eyJzIjoxfQ.Zk3x_9-Q"


@pytest.mark.parametrize(
    "path",
    [
        f"/api/subscriptions/confirm/{TOKEN}",
        f"/api/subscriptions/unsubscribe/{TOKEN}?from=mail",
        f"/subscriptions/confirm/{TOKEN}",
        f"/subscriptions/unsubscribe/{TOKEN}/",
        f"/anything?a=1&token={TOKEN}",
    ],
)
def test_tokens_in_paths_and_queries_are_redacted(path: str) -> None:
    redacted = redact_tokens(path)
    assert TOKEN not in redacted
    assert "[redacted]" in redacted


def test_other_paths_are_left_alone() -> None:
    for path in ("/api/articles/talks-resume", "/api/subscriptions/stats", "/?p=2"):
        assert redact_tokens(path) == path


def test_the_access_log_line_has_no_token(capsys: pytest.CaptureFixture[str]) -> None:
    logging.config.dictConfig(LOGGING_CONFIG)  # what uvicorn does before it loads the app
    try:
        configure_logging("test", "INFO", json=True)
        # As uvicorn's httptools and h11 protocols write it.
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "POST",
            f"/api/subscriptions/unsubscribe/{TOKEN}",
            "1.1",
            200,
        )
        line = capsys.readouterr().err
        assert "/api/subscriptions/unsubscribe/[redacted]" in line
        assert TOKEN not in line
    finally:
        configure_logging("test", "INFO", json=False)
