"""Fetch and read candidates concurrently: downloads in threads, hashing and metadata in
worker processes; results come back project by project, in order, a bounded window ahead."""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from tufpi.importer.inspect import Rejection, inspect_file
from tufpi.importer.model import Candidate, Group, Skipped, SkipReason
from tufpi.importer.plan import Ready
from tufpi.importer.sources import Fetched, FetchError, Source
from tufpi.index.archive import Bounds
from tufpi.index.core_metadata import DEFAULT_BOUNDS
from tufpi.orphans import end_with_parent

# Seconds between a worker's checks that the import still runs.


@dataclasses.dataclass(frozen=True)
class Read:
    """A candidate once fetched and read; ``fetched`` is kept to delete temporary files."""

    candidate: Candidate
    outcome: Ready | Skipped
    fetched: Fetched | None

    def discard(self) -> None:
        if self.fetched is not None and self.fetched.temporary:
            self.fetched.path.unlink(missing_ok=True)


@dataclasses.dataclass(frozen=True)
class Batch:
    """A project's candidates to read, and those known to be imported already (the index
    holds their filename with the sha256 the source lists): they are not fetched again."""

    group: Group
    to_read: tuple[Candidate, ...]
    present: tuple[Candidate, ...]


class Reader:
    """Owns the pools; use as a context manager."""

    def __init__(
        self,
        source: Source,
        staging: Path,
        jobs: int,
        downloads: int,
        bounds: Bounds = DEFAULT_BOUNDS,
    ) -> None:
        self.source = source
        self.bounds = bounds
        self.staging = staging
        # spawn: each worker is a child of this process (so it dies with it, see
        # end_with_parent) and inherits no threads or database connections.
        context = multiprocessing.get_context("spawn")
        self.processes = concurrent.futures.ProcessPoolExecutor(
            jobs, mp_context=context, initializer=end_with_parent, initargs=(os.getpid(),)
        )
        # Each thread fetches one file and waits for its worker: enough of them to keep
        # every process and every download busy.
        self.threads = concurrent.futures.ThreadPoolExecutor(max(downloads, 2 * jobs))
        self.window = 4 * max(downloads, 2 * jobs)
        self.on_read: Callable[[Read], None] = lambda _read: None

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.threads.shutdown(wait=True, cancel_futures=True)
        self.processes.shutdown(wait=True, cancel_futures=True)

    def _read(self, candidate: Candidate) -> Read:
        try:
            fetched = self.source.fetch(candidate, self.staging)
        except FetchError as e:
            skipped = Skipped(candidate.location, e.reason, str(e))
            failed = Read(candidate, skipped, None)
            self.on_read(failed)
            return failed
        read = Read(candidate, self._inspect(candidate, fetched), fetched)
        if isinstance(read.outcome, Skipped):
            read.discard()
        self.on_read(read)
        return read

    def _inspect(self, candidate: Candidate, fetched: Fetched) -> Ready | Skipped:
        future = self.processes.submit(
            inspect_file, fetched.path, candidate.dist, candidate.expected, self.bounds
        )
        try:
            result = future.result()
        except BrokenProcessPool:
            raise  # a worker died (out of memory?): stop; a re-run resumes
        except Exception as e:  # whatever a hostile archive makes a reader raise: skip it
            return Skipped(candidate.location, SkipReason.UNREADABLE, f"reading failed: {e!r}")
        if isinstance(result, Rejection):
            return Skipped(candidate.location, result.reason, result.detail)
        return Ready(candidate.location, result, fetched.upload_time)

    def read(self, batches: Iterable[Batch]) -> Iterator[tuple[Batch, list[Read]]]:
        """Each batch with its reads, in the order given, reading ahead up to the window."""
        pending: collections.deque[tuple[Batch, list[concurrent.futures.Future[Read]]]]
        pending = collections.deque()
        in_flight = 0
        for batch in batches:
            futures = [self.threads.submit(self._read, c) for c in batch.to_read]
            pending.append((batch, futures))
            in_flight += len(futures)
            while pending and (in_flight >= self.window or not pending[0][1]):
                done, futures = pending.popleft()
                in_flight -= len(futures)
                yield done, [f.result() for f in futures]
        while pending:
            done, futures = pending.popleft()
            yield done, [f.result() for f in futures]
