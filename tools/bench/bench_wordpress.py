"""WordPress beside Broadsheet (issue 16, goal 1): the same article page, read and commented on.

WordPress is Debian's (``wordpress``, ``php8.2-fpm`` with opcache on as Debian ships it,
``mariadb-server``) behind nginx, with no page-cache plugin; ``make bench-wordpress`` installs
the packages. This bench runs its own instances (a MariaDB data directory, a php-fpm pool with
Debian's default sizes, an nginx worker, all under a temporary directory) and seeds both systems
with the seed-like page: "Foreign Affairs", the same article, 200 comments of which 60 are
replies (threads two and three deep), and the reply form. Posts go to a second article on each
side, so the page that is read stays the same.

Per round (A B A B …, method.ROUNDS), each system: page reads at saturation (wrk), p50/p99 at
half of that rate (oha, open loop), comment posts at saturation and p50/p99 at half of it, and
the resident size of the whole system at rest and at its peak under the read load.

    uv run python tools/bench/bench_wordpress.py
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from bench_comments import POST_WHY
from harness import LIFTED_LIMITS, READY_TIMEOUT, platform_stack, stack_pids
from method import (
    SECONDS,
    Comparison,
    Goal,
    Peer,
    alternate,
    closed_loop,
    emit,
    load_tools_missing,
    open_loop,
    peak_rss_during,
    rss_mib,
    started_section,
)

from broadsheet_devstack.processes import ManagedProcess, free_port, http_ok, wait_until
from broadsheet_devstack.seed import seed_conversation, sign_in
from broadsheet_devstack.services import DEFAULT_EDITOR_EMAIL, DEFAULT_EDITOR_PASSWORD

PACKAGES = ("wordpress", "php8.2-fpm", "mariadb-server", "nginx-light")
WORDPRESS_ROOT = Path("/usr/share/wordpress")
# Debian's wp-config.php reads /etc/wordpress/config-$WORDPRESS_CONFIG.php when the server
# sets that variable: the bench's own site, beside any real one.
CONFIG_NAME = "broadsheet-bench"
CONFIG_FILE = Path(f"/etc/wordpress/config-{CONFIG_NAME}.php")
COMMENTS, REPLIES = 200, 60
# Closed-loop connections: enough to keep every php-fpm worker and the gateway busy.
CONNECTIONS = 16
COMMENT_TEXT = "A considered reply, number {n}, about the bridge and the vote."

# The operator's answer to a bench (or a newsroom's busy comment section) from one address:
# WordPress refuses a second comment from an address within 15 s (flood check) and the same
# text twice (duplicate check; oha's random pick of bodies may repeat one now and then).
MU_PLUGIN = """<?php
// Broadsheet's bench posts every comment from 127.0.0.1: lift the per-address flood check
// and the duplicate check.
add_filter('comment_flood_filter', '__return_false', 99);
add_filter('duplicate_comment_id', '__return_false');
"""

SITE_CONFIG = """<?php
define('DB_NAME', 'wordpress');
define('DB_USER', 'wordpress');
define('DB_PASSWORD', 'bench');
define('DB_HOST', 'localhost:{socket}');
define('WPMU_PLUGIN_DIR', '{mu_plugins}');
"""

# Seeds the same content as broadsheet_devstack.seed.seed_conversation, through WordPress's own
# functions (wp_install, wp_insert_post, wp_insert_comment). argv: site URL.
SEED_PHP = r"""<?php
$url = $argv[1];
$_SERVER['HTTP_HOST'] = parse_url($url, PHP_URL_HOST) . ':' . parse_url($url, PHP_URL_PORT);
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['WORDPRESS_CONFIG'] = '%(config)s';
define('WP_INSTALLING', true);
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
wp_install('Broadsheet bench', 'admin', 'admin@example.com', true, '', 'bench-password');
update_option('siteurl', $url);
update_option('home', $url);
update_option('thread_comments', 1);
update_option('thread_comments_depth', 5);
update_option('page_comments', 0);
$section = wp_insert_term('Foreign Affairs', 'category');
$article = [
  'post_title' => 'Parliament debates the harbour bridge',
  'post_content' => "<p>The debate ran late into the night.</p>\n"
    . "<p>A vote is expected on Friday.</p>",
  'post_excerpt' => 'A long night in the chamber over the harbour bridge.',
  'post_status' => 'publish',
  'post_category' => [$section['term_id']],
  'comment_status' => 'open',
];
$read = wp_insert_post($article);
$post = wp_insert_post(array_merge($article, ['post_title' => 'Comments are posted here']));
$tops = %(comments)d - %(replies)d;
$half = intdiv(%(replies)d, 2);
$start = strtotime('2024-05-01 08:00:00');
$ids = [];
for ($n = 0; $n < %(comments)d; $n++) {
  if ($n < $tops) { $parent = 0; }
  elseif ($n < $tops + $half) { $parent = $ids[($n * 7) %% $tops]; }
  else { $parent = $ids[$n - $half]; }
  $ids[] = wp_insert_comment([
    'comment_post_ID' => $read,
    'comment_parent' => $parent,
    'comment_author' => "Reader $n",
    'comment_author_email' => "reader$n@example.com",
    'comment_content' => "Comment number $n, with <em>some</em> words &amp; a link <a href=\"https://example.com/$n\">here</a>.",
    'comment_date' => date('Y-m-d H:i:s', $start + 60 * $n),
    'comment_approved' => 1,
  ]);
}
echo json_encode(['read' => $read, 'post' => $post]);
"""

NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  include /etc/nginx/mime.types;
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root /usr/share/wordpress;
    index index.php;
    location / {{ try_files $uri $uri/ /index.php?$args; }}
    location ~ ^/wp-content/(.*)$ {{ alias /var/lib/wordpress/wp-content/$1; }}
    location ~ \\.php$ {{
      include {dir}/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME $request_filename;
      fastcgi_param WORDPRESS_CONFIG {config};
      fastcgi_pass unix:{dir}/php-fpm.sock;
    }}
  }}
}}
"""

# Debian's www.conf pool sizes (pm dynamic, 5 children at most), as a packaged site runs.
PHP_FPM_CONF = """
[global]
pid = {dir}/php-fpm.pid
error_log = {dir}/php-fpm.log
daemonize = no
[bench]
user = www-data
group = www-data
listen = {dir}/php-fpm.sock
listen.mode = 0666
pm = dynamic
pm.max_children = 5
pm.start_servers = 2
pm.min_spare_servers = 1
pm.max_spare_servers = 3
"""


def versions() -> dict[str, str | None]:
    """Installed version of each package (None: not installed)."""
    found: dict[str, str | None] = {}
    for package in PACKAGES:
        answer = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", package],
            capture_output=True,
            text=True,
            check=False,
        )
        found[package] = answer.stdout.strip() or None
    return found


@dataclass
class WordPressSite:
    url: str
    read_path: str
    post_id: int
    pids: list[int]


@contextlib.contextmanager
def wordpress() -> Iterator[WordPressSite]:
    """MariaDB, php-fpm and nginx of the bench's own, with the seeded site; all stopped after."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-wp-"))
    tmp.chmod(0o755)  # php-fpm's workers (www-data) reach the sockets in it
    socket = tmp / "mysqld.sock"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    servers = [
        ManagedProcess(
            "mariadb",
            [
                "mariadbd",
                f"--datadir={tmp / 'db'}",
                f"--socket={socket}",
                f"--pid-file={tmp / 'mysqld.pid'}",
                "--skip-networking",
                "--user=root",
            ],
            log_path=tmp / "mariadb.log",
        ),
        ManagedProcess(
            "php-fpm",
            ["php-fpm8.2", "-F", "-y", str(tmp / "php-fpm.conf")],
            log_path=tmp / "fpm.log",
        ),
        ManagedProcess(
            "nginx",
            ["nginx", "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
            log_path=tmp / "nginx.log",
        ),
    ]
    try:
        subprocess.run(
            [
                "mariadb-install-db",
                f"--datadir={tmp / 'db'}",
                "--user=root",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            capture_output=True,
            check=True,
        )
        servers[0].start()
        wait_until(
            socket.exists, timeout=READY_TIMEOUT, what="MariaDB's socket", process=servers[0]
        )
        subprocess.run(
            ["mariadb", f"--socket={socket}", "-uroot"],
            input=b"CREATE DATABASE wordpress; CREATE USER wordpress@localhost IDENTIFIED BY "
            b"'bench'; GRANT ALL ON wordpress.* TO wordpress@localhost;",
            check=True,
        )
        (tmp / "mu-plugins").mkdir()
        (tmp / "mu-plugins" / "bench-flood.php").write_text(MU_PLUGIN)
        CONFIG_FILE.write_text(SITE_CONFIG.format(socket=socket, mu_plugins=tmp / "mu-plugins"))
        (tmp / "php-fpm.conf").write_text(PHP_FPM_CONF.format(dir=tmp))
        # Debian's fastcgi_params, less its HTTP_HOST ($host, without the port): WordPress
        # would redirect every page of a site on a port of its own to itself. The client's
        # Host header goes through instead.
        params = Path("/etc/nginx/fastcgi_params").read_text().splitlines()
        (tmp / "fastcgi_params").write_text(
            "\n".join(line for line in params if "HTTP_HOST" not in line) + "\n"
        )
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(dir=tmp, port=port, config=CONFIG_NAME))
        servers[1].start()
        servers[2].start()
        (tmp / "seed.php").write_text(
            SEED_PHP % {"config": CONFIG_NAME, "comments": COMMENTS, "replies": REPLIES}
        )
        seeded = subprocess.run(
            ["php", str(tmp / "seed.php"), url], capture_output=True, text=True, check=True
        )
        ids = json.loads(seeded.stdout.strip().splitlines()[-1])
        # The permalink wp_install chose (it probes the server for pretty permalinks): where
        # WordPress redirects the plain link.
        wait_until(lambda: http_ok(f"{url}/wp-login.php"), timeout=READY_TIMEOUT, what="WordPress")
        plain = httpx.get(f"{url}/?p={ids['read']}", timeout=30)
        page = httpx.URL(plain.headers.get("location", f"/?p={ids['read']}")).raw_path.decode()
        # Rendering 200 comments on a loaded machine takes longer than http_ok waits.
        answer = httpx.get(url + page, timeout=60)
        if answer.status_code != 200:
            raise RuntimeError(f"WordPress's page {page} answered {answer.status_code}")
        yield WordPressSite(url, page, ids["post"], [s.pid for s in servers if s.pid is not None])
    finally:
        for server in reversed(servers):
            server.stop()
        CONFIG_FILE.unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class System:
    """What the rounds measure on one side: the page, the form post and the processes."""

    page_url: str
    post_url: str
    post_body: str
    post_ok: tuple[int, ...]
    pids: list[int]


def comments_on(page: str) -> int:
    return page.count("Comment number ")


def measure(system: System) -> dict[str, float]:
    rest = rss_mib(system.pids)
    reads, peak = peak_rss_during(system.pids, lambda: closed_loop(system.page_url, CONNECTIONS))
    read_latency = open_loop(system.page_url, reads.rps / 2)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    posts = closed_loop(system.post_url, CONNECTIONS, headers=form, body_template=system.post_body)
    post_latency = open_loop(
        system.post_url,
        posts.rps / 2,
        method="POST",
        headers=form,
        body_template=system.post_body,
        ok_statuses=system.post_ok,
    )
    return {
        "read_rps": reads.rps,
        "read_p50": read_latency.p50_ms,
        "read_p99": read_latency.p99_ms,
        "read_failed": float(reads.failed + read_latency.failed),
        "post_rps": posts.rps,
        "post_p50": post_latency.p50_ms,
        "post_p99": post_latency.p99_ms,
        "post_failed": float(posts.failed + post_latency.failed),
        "rss_rest": rest,
        "rss_load": peak,
    }


def compare(rounds: dict[str, dict[str, list[float]]]) -> list[Comparison]:
    ours, theirs = rounds["broadsheet"], rounds["wordpress"]

    def row(figure: str, unit: str, key: str, goal: Goal | None, why: str = "") -> Comparison:
        return Comparison(figure, unit, "WordPress", ours[key], theirs[key], goal, why)

    lower = Goal("ratio_at_most", 1.0)
    return [
        row("page reads at saturation", "req/s", "read_rps", Goal("ratio_at_least", 10.0)),
        row("page read p50 at half saturation", "ms", "read_p50", None),
        row("page read p99 at half saturation", "ms", "read_p99", lower),
        row(
            "comment posts at saturation",
            "req/s",
            "post_rps",
            Goal("ratio_at_least", 5.0),
            POST_WHY,
        ),
        row("comment post p50 at half saturation", "ms", "post_p50", None),
        row("comment post p99 at half saturation", "ms", "post_p99", lower),
        row("resident memory at rest", "MiB", "rss_rest", None),
        row("resident memory under read load (peak)", "MiB", "rss_load", None),
    ]


def main() -> int:
    section = started_section("WordPress: the article page read and commented on")
    installed = versions()
    missing = [p for p, v in installed.items() if v is None] + load_tools_missing()
    wp_version = installed["wordpress"]
    if missing:
        section.peers.append(
            Peer("WordPress", None, f"not installed: {', '.join(missing)} (make bench-wordpress)")
        )
        emit(section)
        return 0
    section.peers.append(
        Peer(
            "WordPress",
            f"{wp_version} (php-fpm {installed['php8.2-fpm']}, MariaDB "
            f"{installed['mariadb-server']}, nginx {installed['nginx-light']})",
        )
    )
    # Broadsheet's limits get the treatment WordPress's flood check gets: lifted for the bench.
    # The page shows all 200 comments, as WordPress's does (page_comments off).
    lifted = {
        **LIFTED_LIMITS,
        "gateway": {**LIFTED_LIMITS["gateway"], "GATEWAY_COMMENTS_PAGE_SIZE": "200"},
    }
    with platform_stack(lifted) as (infra, factory), wordpress() as site:
        gateway = factory.started[-1]
        token = sign_in(gateway.url, DEFAULT_EDITOR_EMAIL, DEFAULT_EDITOR_PASSWORD)
        read = seed_conversation(gateway.url, token, comments=COMMENTS, replies=REPLIES)
        posted = seed_conversation(gateway.url, token, comments=0, replies=0)
        systems = {
            "broadsheet": System(
                page_url=f"{gateway.url}/articles/{read.slug}",
                post_url=f"{gateway.url}/articles/{posted.slug}/comments",
                post_body="author_name=Reader+{n}&author_email=r{n}%40example.com&body="
                + COMMENT_TEXT.replace(" ", "+"),
                post_ok=(303,),
                pids=stack_pids(infra, factory.started),
            ),
            "wordpress": System(
                page_url=f"{site.url}{site.read_path}",
                post_url=f"{site.url}/wp-comments-post.php",
                post_body=f"comment_post_ID={site.post_id}&comment_parent=0&author=Reader+{{n}}"
                "&email=r{n}%40example.com&comment=" + COMMENT_TEXT.replace(" ", "+"),
                post_ok=(302,),
                pids=site.pids,
            ),
        }
        for name, system in systems.items():
            shown = comments_on(httpx.get(system.page_url, timeout=30).text)
            section.notes.append(f"{name}'s page shows {shown} of the {COMMENTS} comments.")
        rounds = alternate(list(systems), lambda name: measure(systems[name]))
    section.comparisons = compare(rounds)
    failed = {name: (sum(r["read_failed"]), sum(r["post_failed"])) for name, r in rounds.items()}
    section.notes += [
        f"{len(rounds['broadsheet']['read_rps'])} rounds, Broadsheet then WordPress in each; "
        f"saturation by wrk with {CONNECTIONS} connections for {SECONDS} s, "
        "latency by oha at half of each system's own saturation, from the intended send time.",
        "Failed requests over all rounds (reads, posts): "
        + ", ".join(f"{name} {r} / {p}" for name, (r, p) in failed.items())
        + ".",
        "Limits lifted for a bench from one address: WordPress's comment flood check (a "
        "must-use plugin filtering comment_flood_filter) and Broadsheet's per-client and "
        "per-email comment limits and the gateway's write limit (settings). Comment bodies "
        "differ (the open loop draws them at random from many, so a rare repeat is possible: "
        "WordPress's duplicate check is lifted too; Broadsheet holds a repeat for moderation).",
        "Both post through their reader-facing form (WordPress's wp-comments-post.php, "
        "Broadsheet's /articles/{slug}/comments) to a second article, as shipped: WordPress "
        "holds a first-time author's comment for moderation; Broadsheet publishes it.",
        "Memory: Broadsheet = every service, Kafka's JVM and the database server; WordPress = "
        "nginx, php-fpm and its workers, MariaDB.",
        "Both as they ship: WordPress keeps no rendered page (that takes a cache plugin, whose "
        "pages go stale); Broadsheet's gateway keeps rendered article pages and drops one on "
        "the events that change it (GATEWAY_PAGE_CACHE_*), so a new comment shows within a "
        "second.",
    ]
    emit(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
