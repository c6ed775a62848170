"""The answers the gateway gives itself on the routes it forwards, as RFC 9457 problems: no
route, a body too large or too deep, too many posts, an upstream down (503), slow (504) or cut
short. One place, so the fast path and its tests agree on every status, header and word."""

from __future__ import annotations

from broadsheet_gateway.routing import Upstream
from broadsheet_gateway.upstreams import UpstreamError, UpstreamTimeout
from broadsheet_shared.errors import NotFound, RateLimited
from broadsheet_shared.http.problems import (
    ProblemResponse,
    application_error_response,
    problem_response,
)

# How long a client should wait before trying an upstream that refused the connection.
UNAVAILABLE_RETRY_AFTER = "5"


def no_route(instance: str) -> ProblemResponse:
    return problem_response(404, "No such API route.", instance=instance)


def no_such_section(instance: str) -> ProblemResponse:
    return application_error_response(NotFound("There is no such section."), instance)


def method_not_allowed(allowed: str, instance: str) -> ProblemResponse:
    return problem_response(405, instance=instance, headers={"Allow": allowed})


def body_too_large(max_bytes: int, instance: str) -> ProblemResponse:
    return problem_response(
        413, f"The request body is larger than {max_bytes} bytes.", instance=instance
    )


def json_too_deep(max_depth: int, instance: str) -> ProblemResponse:
    return problem_response(400, f"JSON nested deeper than {max_depth} levels.", instance=instance)


def rate_limited(retry_after: int, instance: str) -> ProblemResponse:
    return application_error_response(RateLimited(retry_after), instance)


def upstream_failed(error: UpstreamError, upstream: Upstream, instance: str) -> ProblemResponse:
    """The upstream gave no answer: it did not answer in time (504) or could not be reached."""
    if isinstance(error, UpstreamTimeout):
        return problem_response(
            504,
            f"The {upstream.value} service did not answer in time.",
            instance=instance,
            upstream=upstream.value,
        )
    return problem_response(
        503,
        f"The {upstream.value} service is unavailable. Please try again shortly.",
        instance=instance,
        headers={"Retry-After": UNAVAILABLE_RETRY_AFTER},
        upstream=upstream.value,
    )


def answer_cut_short(error: UpstreamError, instance: str) -> ProblemResponse:
    """The upstream's answer broke off while it was read whole (before anything was sent)."""
    status = 504 if isinstance(error, UpstreamTimeout) else 503
    return problem_response(status, "The upstream answer was cut short.", instance=instance)


def unexpected(instance: str) -> ProblemResponse:
    return problem_response(500, "Something went wrong on our side.", instance=instance)
