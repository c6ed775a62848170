"""``broadsheet-import wxr FILE``: import a WordPress export into a running Broadsheet.

With no options it targets ``make run``'s gateway (http://127.0.0.1:8000) and signs in with
``EDITOR_EMAIL``/``EDITOR_PASSWORD`` (the dev defaults when unset); options override both.
It writes through the staff import endpoints (docs/import.md): every write is an upsert by
WordPress id, so running it again changes nothing and an interrupted run is finished by running
it again. ``--dry-run`` reads the whole file, plans every post and comment and prints the
summary without contacting the platform.

Exit status: 0 done, 1 bad input, failed items, wrong credentials or an unreachable platform,
2 usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from broadsheet_import.http import HttpPlatform, PlatformUnavailable
from broadsheet_import.importer import Importer, Summary
from broadsheet_import.memory import InMemoryPlatform
from broadsheet_import.platform import PlatformError
from broadsheet_import.progress import count_items, progress_for
from broadsheet_import.wxr import WxrError

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_EMAIL = "editor@broadsheet.local"
DEFAULT_PASSWORD = "broadsheet-dev-password"  # noqa: S105 - the documented dev default


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="broadsheet-import", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    wxr = commands.add_parser("wxr", help="import a WordPress export (WXR 1.0-1.2)")
    wxr.add_argument("file", type=Path, help="the export, from WordPress's Tools → Export")
    wxr.add_argument("--base-url", default=DEFAULT_BASE_URL, help="the gateway (%(default)s)")
    wxr.add_argument(
        "--email",
        default=os.environ.get("EDITOR_EMAIL", DEFAULT_EMAIL),
        help="staff account (EDITOR_EMAIL)",
    )
    wxr.add_argument(
        "--password",
        default=os.environ.get("EDITOR_PASSWORD", DEFAULT_PASSWORD),
        help="its password (EDITOR_PASSWORD)",
    )
    wxr.add_argument(
        "--permalink-structure",
        default="",
        help="the old site's permalinks, e.g. /%%year%%/%%monthnum%%/%%postname%%/ "
        "(default: read from the export's links)",
    )
    wxr.add_argument("--dry-run", action="store_true", help="read and plan, write nothing")
    return parser


async def _import(args: argparse.Namespace, importer: Importer, summary: Summary) -> None:
    platform = importer.platform
    try:
        await platform.sign_in(args.email, args.password)
        await importer.run(args.file, summary)
    finally:
        if isinstance(platform, HttpPlatform):
            await platform.aclose()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        totals = count_items(args.file)
    except OSError as error:
        print(f"Cannot read {args.file}: {error.strerror or error}", file=sys.stderr)
        return 1
    progress = progress_for(sys.stderr)
    importer = Importer(
        platform=InMemoryPlatform() if args.dry_run else HttpPlatform(args.base_url),
        progress=progress,
        now=datetime.now(UTC),
        permalink_structure=args.permalink_structure,
    )
    summary = Summary()
    progress.start(totals)
    try:
        asyncio.run(_import(args, importer, summary))
    except WxrError as error:
        summary.error = str(error)
    except PlatformUnavailable as error:
        summary.error = f"{error}. Run the same command again to finish (nothing is duplicated)."
    except PlatformError as error:
        summary.error = str(error)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        progress.finish()
    if args.dry_run:
        print(f"Dry run of {args.file}: nothing was written.")
    print("\n".join(summary.lines(dry_run=args.dry_run)))
    if summary.interrupted:
        return 130
    return 1 if summary.error or summary.posts.failed or summary.comments.failed else 0
