"""The import's tally and how it is shown: what was imported, what was skipped and why."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tufpi.importer.model import Skipped, SkipReason
from tufpi.trust.publisher import PublishResult


@contextlib.contextmanager
def timed(seconds: dict[str, float], name: str) -> Iterator[None]:
    """Add the time the block takes to ``seconds[name]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start


# Examples shown per skip reason (the --report file lists every one).
_EXAMPLES = 5


@dataclasses.dataclass
class Summary:
    """Counts of one run; every file of the source ends up in exactly one of imported,
    already_present and skipped."""

    source: str
    imported: int = 0
    already_present: int = 0
    projects_created: int = 0
    projects_updated: int = 0
    releases_created: int = 0
    bytes_imported: int = 0
    skipped: list[Skipped] = dataclasses.field(default_factory=list)
    published: PublishResult | None = None
    pending_left: int = 0  # with --no-publish: changes left to the active signer
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def seen(self) -> int:
        return self.imported + self.already_present + len(self.skipped)

    def by_reason(self) -> Counter[SkipReason]:
        return Counter(s.reason for s in self.skipped)

    def as_json(self) -> dict[str, Any]:
        published = self.published
        return {
            "source": self.source,
            "imported": self.imported,
            "already_present": self.already_present,
            "projects_created": self.projects_created,
            "projects_updated": self.projects_updated,
            "releases_created": self.releases_created,
            "bytes_imported": self.bytes_imported,
            "skipped": [
                {"location": s.location, "reason": str(s.reason), "detail": s.detail}
                for s in self.skipped
            ],
            "published": dataclasses.asdict(published) if published else None,
            "pending_left": self.pending_left,
            "seconds": self.seconds,
        }

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n")


def _counts(summary: Summary) -> Table:
    table = Table(title=f"import of {summary.source}", show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    rows = [
        ("files imported", summary.imported),
        ("already imported (same sha256)", summary.already_present),
        ("files skipped", len(summary.skipped)),
        ("projects created", summary.projects_created),
        ("projects updated", summary.projects_updated),
        ("releases created", summary.releases_created),
        ("bytes imported", summary.bytes_imported),
    ]
    for label, value in rows:
        table.add_row(label, f"{value:,}")
    return table


def _skips(summary: Summary) -> Table:
    table = Table(title="skipped", show_lines=False)
    table.add_column("reason")
    table.add_column("files", justify="right")
    table.add_column("examples")
    for reason, count in sorted(summary.by_reason().items(), key=lambda kv: -kv[1]):
        examples = [s for s in summary.skipped if s.reason == reason][:_EXAMPLES]
        shown = "\n".join(f"{Path(s.location).name or s.location}: {s.detail}" for s in examples)
        table.add_row(str(reason), f"{count:,}", shown)
    return table


def _publication(summary: Summary) -> str:
    result = summary.published
    if result is None:
        return (
            f"not published here (--no-publish): {summary.pending_left:,} target changes "
            "are pending for the active signer"
        )
    if not result.published:
        return "nothing to publish: the signed metadata was already complete"
    return (
        f"published in one batch: {result.changes:,} target changes in {result.bins:,} bins, "
        f"snapshot {result.snapshot_version}, timestamp {result.timestamp_version}"
    )


def render(summary: Summary, console: Console) -> None:
    """Print the summary tables and the publication line."""
    console.print(_counts(summary))
    if summary.skipped:
        console.print(_skips(summary))
    console.print(_publication(summary))
    if summary.seconds:
        times = ", ".join(f"{k} {v:.1f} s" for k, v in summary.seconds.items())
        console.print(f"time: {times}")
