"""Benchmark of the gateway (issue 6), runnable as ``uv run python tools/bench/bench_gateway.py``.

1. The hop: wrk against a small backend directly, through nginx (Debian's) and through the
   gateway (once with each upstream client, aiohttp and httpx), all in the same run on the same
   machine. Reports the latency the hop adds (p50/p99) and requests/s relative to nginx.
2. The article page with 200 comments rendered through the gateway: saturation with wrk, then
   an open-loop load at half of it, p99.

The backend is the stand-in ASGI app below (``backend_app``), served by uvicorn, so the
numbers are about the gateway and not about the services' databases. A Kafka broker (devstack's
launcher) runs too, with nothing published: the gateways' event feed connects to it, as in
production, which is what lets them keep rendered pages (``page_cache.py``). Prints JSON and
markdown. Needs ``wrk`` and ``nginx`` (apt-get install wrk nginx-light).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DURATION = int(os.environ.get("BENCH_SECONDS", "8"))
# "hop", "page" or both (the default).
ONLY = os.environ.get("BENCH_ONLY", "")
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
    import httpx

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
    import httpx

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


_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url: str, connections: int = 16, seconds: int = DURATION) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "--latency", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, float] = {}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        result[f"p{pct}_ms"] = float(m.group(1)) * _UNIT[m.group(2)] if m else float("nan")
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["rps"] = float(m.group(1)) if m else 0.0
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["non_2xx"] = float(errors.group(1)) if errors else 0.0
    return result


async def open_loop(url: str, rate: float, seconds: int) -> dict[str, float]:
    """Requests at a fixed rate whatever the latency (no coordinated omission)."""
    import aiohttp

    latencies: list[float] = []
    failures = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:

        async def one() -> None:
            nonlocal failures
            started = time.perf_counter()
            async with session.get(url) as response:
                await response.read()
                if response.status != 200:
                    failures += 1
            latencies.append((time.perf_counter() - started) * 1000)

        tasks = []
        begin = time.perf_counter()
        total = int(rate * seconds)
        for i in range(total):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    latencies.sort()
    return {
        "rate": rate,
        "requests": float(len(latencies)),
        "failures": float(failures),
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
    }


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


def main() -> int:
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            print(f"{tool} is missing: apt-get install -y wrk nginx-light", file=sys.stderr)
            return 2
    from broadsheet_devstack.kafka import KafkaServer

    procs: list[subprocess.Popen[bytes]] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-gw-"))
    tmp.chmod(0o755)  # nginx's workers (not root) read the saved page under it
    report: dict[str, Any] = {"duration_s": DURATION, "cpus": os.cpu_count()}
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

        path = "/api/articles"
        # Latency added by the hop is measured with one connection (no queueing: what one
        # request pays); throughput with 16.
        targets = {"direct": backend, "nginx": nginx_port}
        targets.update({f"gateway_{c}": p for c, p in gateways.items()})
        hop: dict[str, Any] = {}
        for name, port in targets.items() if ONLY != "page" else ():
            url = f"http://127.0.0.1:{port}{path}"
            row = wrk(url, connections=1)
            row["rps"] = wrk(url, connections=16)["rps"]
            hop[name] = row
        direct = hop.get("direct", {})
        for row in hop.values():
            row["added_p50_ms"] = round(row["p50_ms"] - direct["p50_ms"], 3)
            row["added_p99_ms"] = round(row["p99_ms"] - direct["p99_ms"], 3)
            row["rps_vs_nginx"] = round(row["rps"] / hop["nginx"]["rps"], 3)
        report["hop"] = hop

        port = gateways["aiohttp"]
        if ONLY == "hop":
            return _print(report)
        import httpx

        (tmp / "static").mkdir()
        (tmp / "static" / "article.html").write_bytes(
            httpx.get(f"http://127.0.0.1:{port}/articles/bench").content
        )
        static = wrk(f"http://127.0.0.1:{nginx_port}/article.html", connections=16)
        report["article_page_static_nginx"] = static
        pages = {"aiohttp": gateways["aiohttp"]}
        if "baseline_aiohttp" in gateways:
            pages["baseline_aiohttp"] = gateways["baseline_aiohttp"]
        for name, port in pages.items():
            page_url = f"http://127.0.0.1:{port}/articles/bench"
            saturation = wrk(page_url, connections=16)
            saturation["rps_vs_static"] = round(saturation["rps"] / max(1.0, static["rps"]), 3)
            half = max(1.0, saturation["rps"] / 2)
            key = "article_page_200_comments" + ("" if name == "aiohttp" else f"_{name}")
            report[key] = {
                "saturation": saturation,
                "half_saturation": asyncio.run(open_loop(page_url, half, DURATION)),
            }
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
    return _print(report)


def _print(report: dict[str, Any]) -> int:
    print(json.dumps(report, indent=2))
    print("\n| target | p50 ms | p99 ms | req/s | added p50 | added p99 | rps vs nginx |")
    print("|---|---|---|---|---|---|---|")
    for name, row in report["hop"].items():
        print(
            f"| {name} | {row['p50_ms']:.3f} | {row['p99_ms']:.3f} | {row['rps']:.0f} | "
            f"{row['added_p50_ms']} | {row['added_p99_ms']} | {row['rps_vs_nginx']} |"
        )
    for key, page in report.items():
        if not key.startswith("article_page_200_comments"):
            continue
        half = page["half_saturation"]
        print(
            f"\n{key}: saturation {page['saturation']['rps']:.0f} req/s "
            f"({page['saturation'].get('rps_vs_static', '?')}x nginx serving it as a file); at "
            f"{half['rate']:.0f} req/s p50 {half['p50_ms']:.1f} ms, p99 {half['p99_ms']:.1f} ms"
            " (target <= 20 ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
