"""Progress per kind (posts, comments): a rich bar on a terminal, plain log lines otherwise.

The totals come from :func:`count_items`, a byte scan for ``<item>`` and ``<wp:comment>`` that
reads the file once at disk speed before the real parse; they only size the bars, so a tag
quoted inside a post's CDATA making them slightly high does no harm.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import (
    Progress as RichBars,
)
from rich.text import Text

KINDS = ("posts", "comments")
_MARKERS = {"posts": b"<item>", "comments": b"<wp:comment>"}
_CHUNK = 1 << 20


def count_items(path: Path) -> dict[str, int]:
    """How many posts (``<item>``) and comments the file holds, scanning its bytes once."""
    counts = dict.fromkeys(KINDS, 0)
    overlap = max(len(marker) for marker in _MARKERS.values()) - 1
    tail = b""
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            window = tail + chunk
            for kind, marker in _MARKERS.items():
                # A marker is counted once: it lies wholly in the new bytes or crosses the seam.
                counts[kind] += window.count(marker) - tail.count(marker)
            tail = window[-overlap:]
    return counts


class Progress(Protocol):
    def start(self, totals: dict[str, int]) -> None: ...

    def advance(self, kind: str, count: int = 1) -> None: ...

    def finish(self) -> None: ...


class _Rate(ProgressColumn):
    """Items per second, as rich computes it over its recent samples."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f}/s" if task.speed else "", style="progress.data.speed")


class TerminalProgress:
    """One rich bar per kind with done/total, rate and elapsed time, on stderr."""

    def __init__(self, stream: TextIO) -> None:
        self._bars = RichBars(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            _Rate(),
            TimeElapsedColumn(),
            console=Console(file=stream),
        )
        self._tasks: dict[str, TaskID] = {}

    def start(self, totals: dict[str, int]) -> None:
        self._bars.start()
        for kind in KINDS:
            self._tasks[kind] = self._bars.add_task(kind, total=totals.get(kind) or None)

    def advance(self, kind: str, count: int = 1) -> None:
        self._bars.advance(self._tasks[kind], count)

    def finish(self) -> None:
        self._bars.stop()


class LogProgress:
    """A line per kind every ``interval`` seconds and at the end, for logs and pipes."""

    def __init__(
        self,
        stream: TextIO,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._interval = interval
        self._clock = clock
        self._totals: dict[str, int] = {}
        self._done = dict.fromkeys(KINDS, 0)
        self._started = self._last = 0.0

    def start(self, totals: dict[str, int]) -> None:
        self._totals = totals
        self._started = self._last = self._clock()

    def advance(self, kind: str, count: int = 1) -> None:
        self._done[kind] += count
        now = self._clock()
        if now - self._last >= self._interval:
            self._last = now
            self._write(now)

    def finish(self) -> None:
        self._write(self._clock())

    def _write(self, now: float) -> None:
        elapsed = max(now - self._started, 1e-9)
        for kind in KINDS:
            done = self._done[kind]
            print(
                f"{kind}: {done:,}/{self._totals.get(kind, 0):,} ({done / elapsed:,.0f}/s)",
                file=self._stream,
                flush=True,
            )


def progress_for(stream: TextIO = sys.stderr) -> Progress:
    """Bars when ``stream`` is a terminal, log lines otherwise."""
    return TerminalProgress(stream) if stream.isatty() else LogProgress(stream)
