"""Benchmark of the gateway against nginx (issues 6 and 16), on the shared method (method.py):
``make bench BENCH=gateway``.

1. The hop: a small stand-in backend directly, through nginx (Debian's, ``proxy_pass``) and
   through the gateway (once with each upstream client, aiohttp and httpx): the latency the hop
   adds on one connection (wrk) and requests/s on 16. Goals: +p50 ≤ 1 ms, +p99 ≤ 3 ms over the
   backend direct, ≥ 0.3x nginx's rate.
2. The article page with 200 comments through the gateway against nginx serving the same page
   saved as a file: saturation (wrk), then latency at half of it (oha, open loop). Goal: ≥ 0.25x
   the file's rate (and the page's own target, p99 ≤ 20 ms).

All in alternating rounds (method.alternate). The backend is the stand-in ASGI app below
(``backend_app``), served by uvicorn, so the numbers are about the gateway and not about the
services' databases. A Kafka broker (devstack's launcher) runs too, with nothing published: the
gateways' event feed connects to it, as in production, which is what lets them keep rendered
pages (``page_cache.py``). ``BENCH_BASELINE=<dir with an older broadsheet_gateway>`` adds that
version's page, to compare versions within one run.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from method import (
    SECONDS,
    Comparison,
    Goal,
    Peer,
    Spread,
    alternate,
    closed_loop,
    emit,
    load_tools_missing,
    open_loop,
    started_section,
)

HERE = Path(__file__).resolve().parent
# Every Python server runs one process, as nginx runs one worker (worker_processes 1): the
# comparison is one worker against one worker. uvloop and httptools are named, not left to
# uvicorn's "auto", so a missing extra fails loudly instead of measuring the slow fallbacks.
UVICORN = ["--loop", "uvloop", "--http", "httptools", "--workers", "1", "--no-access-log"]

# --- the stand-in backend --------------------------------------------------------------------

_ARTICLE = {
    "id": "a1",
    "slug": "bench",
    "title": "A benchmark article",
    "summary": "s",
    "section": {"slug": "foreign-affairs", "name": "Foreign Affairs"},
    "tags": [],
    "authors": ["Bench Writer"],
    "hero_image_url": None,
    "published_at": "2025-03-01T09:30:00+00:00",
    "url_path": "/articles/bench",
    "body_html": "<p>" + "Lorem ipsum dolor sit amet. " * 80 + "</p>",
    "updated_at": "2025-03-01T09:30:00+00:00",
    "revision": 1,
    "comments_open": True,
}


def _comments(n: int) -> list[dict[str, Any]]:
    items = []
    for i in range(n):
        depth = i % 5
        items.append(
            {
                "id": f"c{i}",
                "parent_id": None if depth == 0 else f"c{i - 1}",
                "depth": depth,
                "author_name": f"Reader {i}",
                "body_html": f"<p>Comment number {i}, with <em>some</em> text in it.</p>",
                "created_at": "2025-03-01T10:00:00+00:00",
                "edited": False,
                "reply_count": 0,
                "in_reply_to": None,
            }
        )
    return items


_BODIES = {
    b"/api/articles": json.dumps({"items": [_ARTICLE], "next_cursor": None}).encode(),
    b"/api/articles/bench": json.dumps(_ARTICLE).encode(),
    b"/api/articles/bench/comments": json.dumps(
        {
            "article": {
                "id": "a1",
                "slug": "bench",
                "title": "t",
                "url_path": "/articles/bench",
                "comments_open": True,
            },
            "total": 200,
            "items": _comments(200),
            "next_cursor": None,
        }
    ).encode(),
    b"/api/sections": json.dumps({"items": [_ARTICLE["section"]]}).encode(),
}


async def backend_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = _BODIES.get(scope["raw_path"], b'{"ok":true}')
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# --- harness ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def wait_live_ready(url: str, timeout: float = 60) -> None:
    """Until the gateway's event feed is connected (its live stream says "ready"): from then on
    it keeps rendered pages."""
    with httpx.stream("GET", url, timeout=timeout) as stream:
        for line in stream.iter_lines():
            if line.startswith("event:") and "ready" in line:
                return
    raise RuntimeError(f"{url} never said ready")


def start(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  upstream backend {{ server 127.0.0.1:{backend}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    # The gateway's article page, saved: the upper bound for serving it (issue 16, goal 3).
    location = /article.html {{ root {dir}/static; }}
    location / {{
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;
    }}
  }}
}}
"""


def nginx_version() -> str | None:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        return None
    # nginx -v writes "nginx version: nginx/1.22.1" to stderr.
    out = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False).stderr
    return out.strip().rsplit("/", 1)[-1] or "unknown"


def main() -> int:
    section = started_section("Gateway: the hop and the article page against nginx")
    version = nginx_version()
    missing = load_tools_missing() + ([] if version else ["nginx (`make bench-tools`)"])
    if missing:
        section.peers.append(Peer("nginx", None, f"not installed: {', '.join(missing)}"))
        emit(section)
        return 0
    section.peers.append(Peer("nginx", f"{version} (one worker)"))
    from broadsheet_devstack.kafka import KafkaServer

    procs: list[subprocess.Popen[bytes]] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-gw-"))
    tmp.chmod(0o755)  # nginx's workers (not root) read the saved page under it
    kafka = KafkaServer(
        tmp / "kafka", log_path=tmp / "kafka.log", port=free_port(), controller_port=free_port()
    )
    try:
        kafka.start()
        kafka.wait_ready()
        backend = free_port()
        procs.append(
            start(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--app-dir",
                    str(HERE),
                    "bench_gateway:backend_app",
                    "--port",
                    str(backend),
                    "--log-level",
                    "warning",
                    *UVICORN,
                ]
            )
        )
        nginx_port = free_port()
        (tmp / "nginx.conf").write_text(
            NGINX_CONF.format(dir=tmp, backend=backend, port=nginx_port)
        )
        procs.append(start(["nginx", "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"]))
        # BENCH_BASELINE=/path/to/src adds "baseline_aiohttp", the gateway package found there
        # (e.g. an older checkout), to compare versions within one run.
        variants: list[tuple[str, str, dict[str, str]]] = [
            ("aiohttp", "aiohttp", {}),
            ("httpx", "httpx", {}),
        ]
        if os.environ.get("BENCH_BASELINE"):
            variants.append(
                ("baseline_aiohttp", "aiohttp", {"PYTHONPATH": os.environ["BENCH_BASELINE"]})
            )
        gateways = {}
        for name, client, extra_env in variants:
            port = free_port()
            env = {
                "GATEWAY_ARTICLES_URL": f"http://127.0.0.1:{backend}",
                "GATEWAY_COMMENTS_URL": f"http://127.0.0.1:{backend}",
                "GATEWAY_NOTIFICATIONS_URL": f"http://127.0.0.1:{backend}",
                "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
                "GATEWAY_UPSTREAM_CLIENT": client,
                "LOG_LEVEL": "WARNING",
                **extra_env,
            }
            procs.append(
                start(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "--factory",
                        "broadsheet_gateway.main:create_app",
                        "--port",
                        str(port),
                        "--log-level",
                        "warning",
                        *UVICORN,
                    ],
                    env,
                )
            )
            gateways[name] = port
        wait_http(f"http://127.0.0.1:{backend}/")
        wait_http(f"http://127.0.0.1:{nginx_port}/")
        for port in gateways.values():
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
            wait_live_ready(f"http://127.0.0.1:{port}/articles/bench/live")

        # What the hop adds is measured with one connection (no queueing: what one request
        # pays), its rate with 16; the page at saturation (16) and at half of it (open loop).
        path = "/api/articles"
        hops = {"direct": backend, "nginx": nginx_port}
        hops.update({f"gateway {c}": p for c, p in gateways.items()})
        (tmp / "static").mkdir()
        (tmp / "static" / "article.html").write_bytes(
            httpx.get(f"http://127.0.0.1:{gateways['aiohttp']}/articles/bench").content
        )
        pages = {"page: nginx file": f"http://127.0.0.1:{nginx_port}/article.html"}
        pages.update(
            {
                f"page: gateway {name}": f"http://127.0.0.1:{port}/articles/bench"
                for name, port in gateways.items()
                if name != "httpx"
            }
        )

        def measure(name: str) -> dict[str, float]:
            if name in hops:
                url = f"http://127.0.0.1:{hops[name]}{path}"
                one = closed_loop(url, 1)
                return {"p50": one.p50_ms, "p99": one.p99_ms, "rps": closed_loop(url, 16).rps}
            saturated = closed_loop(pages[name], 16)
            half = open_loop(pages[name], saturated.rps / 2)
            return {"rps": saturated.rps, "p50": half.p50_ms, "p99": half.p99_ms}

        rounds = alternate([*hops, *pages], measure)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        kafka.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    section.comparisons = compare(rounds)
    section.notes += [
        f"{len(rounds['direct']['rps'])} rounds, in the order direct, nginx, the gateways, then "
        f"the page from nginx's file and from the gateway; {SECONDS} s a load. The hop: wrk "
        "on one connection for the latency, 16 for the rate, against a stand-in backend (a "
        "tiny ASGI app), so the figures are the hop's and not the services'. The page: the "
        "gateway's article page with 200 comments, saved as a file for nginx; saturation by "
        "wrk (16 connections), latency by oha at half of each one's saturation.",
        "One process each: nginx with one worker, every Python server one uvicorn process "
        "(uvloop, httptools, no access log).",
        "The gateway keeps rendered article pages while its event feed is connected and drops "
        "one on the events that change it (tests/e2e/test_page_cache.py shows a new comment, "
        "an edit and an unpublish on the page within a second); nginx's file never changes.",
        f"The page's p99 at half saturation, against its own target of 20 ms: "
        f"{Spread.of(rounds['page: gateway aiohttp']['p99']).median:.1f} ms.",
    ]
    emit(section)
    return 0


def compare(rounds: dict[str, dict[str, list[float]]]) -> list[Comparison]:
    direct, nginx = rounds["direct"], rounds["nginx"]
    gateway, page, file = (
        rounds["gateway aiohttp"],
        rounds["page: gateway aiohttp"],
        rounds["page: nginx file"],
    )
    comparisons = [
        Comparison(
            "hop p50, one connection",
            "ms",
            "the backend direct",
            gateway["p50"],
            direct["p50"],
            Goal("added_at_most", 1.0),
        ),
        Comparison(
            "hop p99, one connection",
            "ms",
            "the backend direct",
            gateway["p99"],
            direct["p99"],
            Goal("added_at_most", 3.0),
        ),
        Comparison(
            "hop p50, one connection", "ms", "nginx proxy_pass", gateway["p50"], nginx["p50"]
        ),
        Comparison(
            "hop p99, one connection", "ms", "nginx proxy_pass", gateway["p99"], nginx["p99"]
        ),
        Comparison(
            "requests through the hop, 16 connections",
            "req/s",
            "nginx proxy_pass",
            gateway["rps"],
            nginx["rps"],
            Goal("ratio_at_least", 0.3),
            HOP_WHY,
        ),
        Comparison(
            "requests through the hop with httpx as the upstream client",
            "req/s",
            "nginx proxy_pass",
            rounds["gateway httpx"]["rps"],
            nginx["rps"],
        ),
        Comparison(
            "article page with 200 comments at saturation",
            "req/s",
            "nginx serving it as a file",
            page["rps"],
            file["rps"],
            Goal("ratio_at_least", 0.25),
        ),
        Comparison(
            "article page p99 at half saturation",
            "ms",
            "nginx serving it as a file",
            page["p99"],
            file["p99"],
        ),
    ]
    if "page: gateway baseline_aiohttp" in rounds:
        base_hop, base_page = (
            rounds["gateway baseline_aiohttp"],
            rounds["page: gateway baseline_aiohttp"],
        )
        comparisons += [
            Comparison(
                "requests through the hop",
                "req/s",
                "the baseline gateway",
                gateway["rps"],
                base_hop["rps"],
            ),
            Comparison(
                "article page at saturation",
                "req/s",
                "the baseline gateway",
                page["rps"],
                base_page["rps"],
            ),
        ]
    return comparisons


# Where a proxied request's time goes (cProfile, docs/gateway.md): socket writes, two per
# response in uvicorn (headers, then body) and one per upstream request, then the upstream
# client; the gateway's own fast path is about a fifth.
HOP_WHY = (
    "one Python process against nginx's C: most of a proxied request's time is socket writes "
    "(two per response in uvicorn, headers then body, and one per upstream request) and the "
    "upstream client, the gateway's own fast path about a fifth (cProfile, docs/gateway.md)."
)


if __name__ == "__main__":
    sys.exit(main())
