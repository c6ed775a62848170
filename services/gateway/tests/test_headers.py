import pytest

from broadsheet_gateway.headers import (
    request_headers_for_upstream,
    response_headers_from_upstream,
)

pytestmark = pytest.mark.unit


def test_request_headers_drop_hop_by_hop_and_forged_forwarding() -> None:
    headers = request_headers_for_upstream(
        [
            (b"connection", b"keep-alive, X-Secret"),
            (b"x-secret", b"1"),
            (b"keep-alive", b"5"),
            (b"x-forwarded-for", b"6.6.6.6"),
            (b"x-request-id", b"forged"),
            (b"host", b"example.org"),
            (b"accept", b"text/html"),
            (b"authorization", b"Bearer t"),
        ],
        b"keep-alive, X-Secret",
        client_ip="203.0.113.9",
        host="example.org",
        scheme="https",
        request_id="rid",
    )
    assert headers == [
        ("accept", "text/html"),
        ("authorization", "Bearer t"),
        ("x-forwarded-for", "203.0.113.9"),
        ("x-forwarded-host", "example.org"),
        ("x-forwarded-proto", "https"),
        ("x-request-id", "rid"),
    ]


def test_response_headers_drop_hop_by_hop_and_give_the_length() -> None:
    kept, length = response_headers_from_upstream(
        [
            ("Transfer-Encoding", "chunked"),
            ("Connection", "X-Hop"),
            ("X-Hop", "1"),
            ("Server", "uvicorn"),
            ("Content-Length", "12"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
        ]
    )
    assert kept == [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]
    assert length == 12
    assert response_headers_from_upstream([("Content-Length", "x")]) == ([], None)
