"""The answers the gateway gives itself: status, headers and words, exactly."""

import orjson
import pytest

from broadsheet_gateway import problems
from broadsheet_gateway.routing import Upstream
from broadsheet_gateway.upstreams import UpstreamTimeout, UpstreamUnavailable
from broadsheet_shared.http.problems import ProblemResponse

pytestmark = pytest.mark.unit


def body(response: ProblemResponse) -> dict[str, object]:
    assert response.media_type == "application/problem+json"
    parsed = orjson.loads(response.body)
    assert isinstance(parsed, dict)
    return parsed


def test_body_too_large_is_a_413() -> None:
    response = problems.body_too_large(256_000, "/api/x")
    assert response.status_code == 413
    assert body(response) == {
        "type": "about:blank",
        "title": "Request Entity Too Large",
        "status": 413,
        "detail": "The request body is larger than 256000 bytes.",
        "instance": "/api/x",
    }


def test_rate_limited_is_a_429_with_retry_after() -> None:
    response = problems.rate_limited(17, "/api/x")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "17"
    assert body(response) == {
        "type": "about:blank",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "Too many requests. Please wait a moment and try again.",
        "instance": "/api/x",
        "retry_after": 17,
    }


def test_an_unreachable_upstream_is_a_503_with_retry_after() -> None:
    error = UpstreamUnavailable("comments", "refused")
    response = problems.upstream_failed(error, Upstream.COMMENTS, "/api/x")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert body(response) == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "The comments service is unavailable. Please try again shortly.",
        "instance": "/api/x",
        "upstream": "comments",
    }


def test_a_slow_upstream_is_a_504() -> None:
    error = UpstreamTimeout("articles", "read timeout")
    response = problems.upstream_failed(error, Upstream.ARTICLES, "/api/x")
    assert response.status_code == 504
    assert "retry-after" not in response.headers
    assert body(response) == {
        "type": "about:blank",
        "title": "Gateway Timeout",
        "status": 504,
        "detail": "The articles service did not answer in time.",
        "instance": "/api/x",
        "upstream": "articles",
    }


@pytest.mark.parametrize(
    ("error", "status"),
    [(UpstreamTimeout("a", "slow"), 504), (UpstreamUnavailable("a", "reset"), 503)],
)
def test_an_answer_cut_short(error: UpstreamTimeout | UpstreamUnavailable, status: int) -> None:
    response = problems.answer_cut_short(error, "/api/x")
    assert response.status_code == status
    assert body(response)["detail"] == "The upstream answer was cut short."


def test_the_other_answers() -> None:
    assert body(problems.no_route("/api/x"))["detail"] == "No such API route."
    assert body(problems.no_such_section("/x"))["status"] == 404
    deep = body(problems.json_too_deep(20, "/api/x"))
    assert (deep["status"], deep["detail"]) == (400, "JSON nested deeper than 20 levels.")
    assert body(problems.unexpected("/api/x"))["status"] == 500
