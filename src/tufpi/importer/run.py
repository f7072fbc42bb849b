"""``tufpi import``: discover, read in parallel, write project by project, publish once."""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from sqlalchemy import select

from tufpi.db.models import User
from tufpi.importer.model import Candidate, Group, Skipped
from tufpi.importer.pipeline import Batch, Read, Reader
from tufpi.importer.plan import Ready
from tufpi.importer.publish import SignerActive, pending_changes, publish_all, signer_lock
from tufpi.importer.report import Summary, timed
from tufpi.importer.sources import (
    Kind,
    Source,
    SourceError,
    group,
    open_source,
)
from tufpi.importer.write import ProjectWriter, existing_files
from tufpi.index.inspector import bounds_of
from tufpi.services import Services
from tufpi.storage import StorageFull
from tufpi.trust import changes
from tufpi.trust.errors import NotInitialised
from tufpi.upstream import mirror, split_credentials

Checkpoint = Callable[[str], None]
# Storage writes of one project's files at once (each file is fsynced).
_STORE_THREADS = 8


class ImportFailed(Exception):
    """The import cannot run (no signed metadata, unreadable source, active signer)."""


@dataclasses.dataclass(frozen=True)
class ImportOptions:
    """What to import and how.

    Attributes:
        source: a directory, a mirror's root or a simple API URL.
        kind: the source's kind; None detects it.
        jobs: worker processes hashing and reading archives.
        downloads: files downloaded at once (URL sources).
        publish: hold the signer election and publish at the end.
        wait: seconds to wait for an active signer to stop.
        owner: a user who becomes owner of every project the import creates.
    """

    source: str
    kind: Kind | None = None
    jobs: int = 2
    downloads: int = 8
    publish: bool = True
    wait: float = 30.0
    owner: str | None = None


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} files/s" if speed else "", style="progress.data.speed")


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
    )


class _Import:
    """One run: the services, the summary, the progress display."""

    def __init__(
        self, services: Services, options: ImportOptions, console: Console, checkpoint: Checkpoint
    ) -> None:
        self.services = services
        self.options = options
        self.console = console
        self.checkpoint = checkpoint
        self.summary = Summary(split_credentials(options.source)[0])

    def discover(self, source: Source, progress: Progress) -> list[Group]:
        task = progress.add_task("discover", total=None)
        found: list[Candidate] = []
        for item in source.discover():
            if isinstance(item, Skipped):
                self.summary.skipped.append(item)
            else:
                found.append(item)
            progress.advance(task)
        progress.update(task, total=progress.tasks[task].completed)
        return group(found)

    def batches(self, groups: Sequence[Group]) -> Iterator[Batch]:
        """Skip, without fetching, what the index holds with the sha256 the source lists."""
        for g in groups:
            with self.services.sessions() as session:
                existing = existing_files(session, [c.dist.filename for c in g.candidates])
            known = [
                c.expected is not None
                and c.expected[0] == "sha256"
                and existing.get(c.dist.filename) == c.expected[1]
                for c in g.candidates
            ]
            present = tuple(c for c, k in zip(g.candidates, known, strict=True) if k)
            to_read = tuple(c for c, k in zip(g.candidates, known, strict=True) if not k)
            yield Batch(g, to_read, present)

    def write(self, writer: ProjectWriter, batch: Batch, reads: list[Read]) -> None:
        ready = [r.outcome for r in reads if isinstance(r.outcome, Ready)]
        self.summary.skipped += [r.outcome for r in reads if isinstance(r.outcome, Skipped)]
        self.summary.already_present += len(batch.present)
        try:
            if ready:
                with timed(self.summary.seconds, "write"):
                    written = writer.write(batch.group.project, ready)
                self._tally(written.plan.new, written.plan.present, written.plan.conflicts)
                if written.plan.new:
                    self.summary.projects_created += written.created_project
                    self.summary.projects_updated += not written.created_project
                    self.summary.releases_created += written.releases
        finally:
            for r in reads:
                r.discard()

    def _tally(
        self, new: Sequence[Ready], present: Sequence[Ready], conflicts: Sequence[Skipped]
    ) -> None:
        self.summary.imported += len(new)
        self.summary.bytes_imported += sum(r.inspected.staged.digests.size for r in new)
        self.summary.already_present += len(present)
        self.summary.skipped += conflicts

    def files(
        self, source: Source, progress: Progress, staging: Path, owner_id: int | None
    ) -> None:
        with timed(self.summary.seconds, "discover"):
            groups = self.discover(source, progress)
        total = sum(len(g.candidates) for g in groups)
        reading = progress.add_task("read", total=total)
        writing = progress.add_task("write", total=total)
        services = self.services
        with (
            concurrent.futures.ThreadPoolExecutor(_STORE_THREADS) as store_threads,
            Reader(
                source,
                staging,
                self.options.jobs,
                self.options.downloads,
                bounds_of(services.settings),
            ) as reader,
            timed(self.summary.seconds, "read and write"),
        ):
            reader.on_read = lambda _read: progress.advance(reading)
            writer = ProjectWriter(
                services.index, store_threads, self.checkpoint, owner_id, self.options.owner
            )
            for batch, reads in reader.read(self.batches(groups)):
                progress.advance(reading, len(batch.present))
                self.write(writer, batch, reads)
                progress.advance(writing, len(batch.group.candidates))
        for name, seconds in writer.seconds.items():
            self.summary.seconds[f"write: {name}"] = seconds

    def publish(self, progress: Progress) -> None:
        services = self.services
        if not self.options.publish:
            self.summary.pending_left = pending_changes(services.sessions)
            return
        task = progress.add_task("publish", total=1)
        with timed(self.summary.seconds, "publish"):
            publisher = services.publisher(self.checkpoint)
            self.summary.published = publish_all(publisher)
        progress.advance(task)


def _owner_id(services: Services, owner: str | None) -> int | None:
    if owner is None:
        return None
    with services.sessions() as session:
        user_id = session.scalar(select(User.id).where(User.name == owner))
    if user_id is None:
        raise ImportFailed(f"no user {owner!r}: create it with `tufpi user add`")
    return user_id


def _check_initialised(services: Services) -> None:
    with services.sessions() as session:
        try:
            changes.bins_of(session)
        except NotInitialised as e:
            raise ImportFailed(str(e)) from e


def run_import(
    services: Services,
    options: ImportOptions,
    console: Console,
    checkpoint: Checkpoint = lambda _name: None,
) -> Summary:
    """Import ``options.source`` into the index of ``services``; returns the summary.

    Raises:
        ImportFailed: the metadata is not initialised, the owner is unknown, the source
            cannot be read, or another signer is active and ``options.publish`` is set.
    """
    _check_initialised(services)
    owner_id = _owner_id(services, options.owner)
    run = _Import(services, options, console, checkpoint)
    data_dir = services.settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        bounds = mirror.bounds_from(services.settings)
        source = open_source(options.source, options.kind, services.clock, bounds)
    except SourceError as e:
        raise ImportFailed(str(e)) from e
    try:
        with contextlib.ExitStack() as stack:
            if options.publish:
                stack.enter_context(
                    signer_lock(
                        services.engine,
                        services.lock_file,
                        options.wait,
                        lambda: console.print(
                            f"another signer is active; waiting up to {options.wait:g} s "
                            "for it to stop (stop `tufpi serve`/`tufpi signer`, or use "
                            "--no-publish)"
                        ),
                    )
                )
            # In the storage's scratch area: on its file system (staging a file is a hard
            # link), never served, and swept if this process is killed.
            scratch = services.storage.scratch_dir()
            staging = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=scratch)))
            progress = stack.enter_context(_progress(console))
            run.files(source, progress, staging, owner_id)
            run.publish(progress)
    except (SignerActive, SourceError, StorageFull) as e:
        raise ImportFailed(str(e)) from e
    finally:
        source.close()
    return run.summary
