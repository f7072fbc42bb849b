"""Progress of long work (signing the first 16,384 bins) on standard error: a rich bar on a
terminal; elsewhere (a log file, a service's journal) a plain line every few seconds, so the
log stays readable."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

# Seconds between two plain progress lines.
PLAIN_INTERVAL = 5.0
# Testing only: another interval for the plain lines.
PROGRESS_INTERVAL_ENV = "TUFPI_DEBUG_PROGRESS_INTERVAL"

Advance = Callable[[int], None]


def progress_line(what: str, done: int, total: int, elapsed: float) -> str:
    """``signing bins: 4,096 of 16,384 (25%), 1,024/s, about 12 s left``."""
    percent = 100 * done // total if total else 100
    line = f"{what}: {done:,} of {total:,} ({percent}%)"
    if elapsed > 0 and done > 0:
        rate = done / elapsed
        line += f", {rate:,.0f}/s"
        if done < total:
            line += f", about {(total - done) / rate:,.0f} s left"
    return line


class PlainProgress:
    """Writes ``progress_line`` at the start, then at most once every ``interval`` seconds,
    and when the total is reached."""

    def __init__(
        self,
        what: str,
        total: int,
        out: TextIO,
        interval: float = PLAIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.total = total
        self.out = out
        self.interval = interval
        self.clock = clock
        self.done = 0
        self.started = clock()
        self._last = self.started
        self._write()

    def advance(self, count: int) -> None:
        """``count`` more are done."""
        self.done += count
        now = self.clock()
        if self.done >= self.total or now - self._last >= self.interval:
            self._last = now
            self._write()

    def _write(self) -> None:
        elapsed = self.clock() - self.started
        self.out.write(progress_line(self.what, self.done, self.total, elapsed) + "\n")
        self.out.flush()


class RateColumn(ProgressColumn):
    """Items per second, as rich estimates it."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "", style="progress.data.speed")


def plain_interval() -> float:
    """``PLAIN_INTERVAL``, or the testing variable's seconds."""
    given = os.environ.get(PROGRESS_INTERVAL_ENV)
    return float(given) if given else PLAIN_INTERVAL


@contextlib.contextmanager
def progress(what: str, total: int) -> Iterator[Advance]:
    """A function to call with how many more are done: a bar on a terminal (standard error),
    plain lines otherwise."""
    console = Console(stderr=True)
    if not console.is_terminal:
        plain = PlainProgress(what, total, sys.stderr, plain_interval())
        yield plain.advance
        return
    columns = (
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(what, total=total)
        yield lambda count: bar.advance(task, count)
