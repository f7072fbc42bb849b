"""Sign many bin-n roles at once, spread across worker processes.

Back-signing an existing index, the daily re-signing of every bin, a rebuild after a bin
count change or a key compromise: each re-signs thousands of bins, and python-tuf's
canonical JSON and the signatures are CPU-bound Python, so one process (one GIL) is the
limit. Each worker opens its own database connection, reads the rows of a run of bins
itself, signs them with its own copy of the online key and writes the files; the parent
sends only bin numbers and versions and gets back the versions written. Memory stays bounded
per worker (one run of bins at a time).

The parent reads the pending changes in a read transaction whose snapshot was taken before
the workers read any row, so every change it will mark published is in what they sign (a row
read later is only newer, and a newer change is still pending, so the next batch publishes
it again).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from securesystemslib.signer import Key, Signer
from sqlalchemy.orm import Session, sessionmaker

from tufpi.orphans import end_with_parent
from tufpi.trust import layout, state
from tufpi.trust.bins import sign_bins
from tufpi.trust.store import MetadataStore

Progress = Callable[[int], None]
# Bins per task: small enough to spread evenly and report progress, big enough that a task
# costs far more than sending it.
_TASK_BINS = 256
# Seconds between a worker's looks at whether its signer still runs.
_PARENT_POLL = 1.0


@dataclasses.dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs to open the database, the storage and the online key (picklable)."""

    database_url: str
    storage_dir: Path
    key_uri: str
    trusted_keys: tuple[tuple[str, dict[str, Any]], ...]  # (keyid, Key.to_dict())

    @classmethod
    def of(cls, database_url: str, storage_dir: Path, key_uri: str, keys: list[Key]) -> WorkerSetup:
        return cls(database_url, storage_dir, key_uri, tuple((k.keyid, k.to_dict()) for k in keys))


# The worker's own connections and signer, made once by ``_start``.
_worker: tuple[sessionmaker[Session], MetadataStore, Signer] | None = None


def _start(setup: WorkerSetup, signer_pid: int) -> None:
    from tufpi.db import make_engine, make_sessionmaker
    from tufpi.keys import load_signer
    from tufpi.storage import LocalStorage

    global _worker  # noqa: PLW0603 - per-process state, set once by the pool's initializer
    end_with_parent(signer_pid, _PARENT_POLL)
    keys = [Key.from_dict(keyid, dict(data)) for keyid, data in setup.trusted_keys]
    sessions = make_sessionmaker(make_engine(setup.database_url))
    store = MetadataStore(LocalStorage(setup.storage_dir))
    _worker = (sessions, store, load_signer(setup.key_uri, keys))


def _sign(
    bins: Sequence[int], number_of_bins: int, current: Mapping[str, int], expires: dt.datetime
) -> dict[str, int]:
    assert _worker is not None, "worker not started"
    sessions, store, signer = _worker
    with sessions() as session:
        return sign_bins(session, store, signer, bins, number_of_bins, current, expires)


class SigningBatch:
    """Bins being signed by the workers."""

    def __init__(
        self, pool: BinSigningPool, futures: list[concurrent.futures.Future[dict[str, int]]]
    ) -> None:
        self.pool = pool
        self.futures = futures

    def wait(self, progress: Progress | None = None) -> dict[str, int]:
        """Bin name -> version written, once every bin is signed. The files are not yet
        durable: the caller syncs the storage before publishing them. A failed worker fails
        the batch, and the pool is restarted for the next one."""
        versions: dict[str, int] = {}
        try:
            for future in concurrent.futures.as_completed(self.futures):
                done = future.result()
                versions.update(done)
                if progress is not None:
                    progress(len(done))
        except BaseException:
            for future in self.futures:
                future.cancel()
            self.pool.close()
            raise
        return versions


def default_workers() -> int:
    """One worker per CPU this process may use."""
    return max(1, len(os.sched_getaffinity(0)))


class BinSigningPool:
    """A lazily started pool of signing processes, kept for the signer's lifetime."""

    def __init__(
        self, setup: WorkerSetup, workers: int, min_bins: int = 1024, task_bins: int = _TASK_BINS
    ) -> None:
        self.setup = setup
        self.workers = workers
        # Below this many bins one process is faster than shipping the work.
        self.min_bins = min_bins
        self.task_bins = task_bins
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None

    def worth_it(self, bins: int) -> bool:
        return self.workers > 1 and bins >= self.min_bins

    def start(
        self,
        bins: Sequence[int],
        number_of_bins: int,
        current: Mapping[str, int],
        expires: dt.datetime,
    ) -> SigningBatch:
        """Start signing and writing ``bins`` (as ``sign_bins`` does); the workers go on
        while the caller does other work. ``SigningBatch.wait`` returns the versions."""
        executor = self._start()
        futures = []
        for part in state.chunks(sorted(bins), self.task_bins):
            names = [f"{layout.bin_name(i, number_of_bins)}.json" for i in part]
            known = {name: current[name] for name in names if name in current}
            futures.append(executor.submit(_sign, part, number_of_bins, known, expires))
        return SigningBatch(self, futures)

    def _start(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._executor is None:
            # spawn: the parent may run threads (the web server); forking them is unsafe.
            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(self.setup, os.getpid()),
            )
        return self._executor

    def worker_pids(self) -> list[int]:
        """The process ids of the running workers."""
        processes = getattr(self._executor, "_processes", None) or {}
        return sorted(processes)

    def close(self) -> None:
        """Stop the workers: tasks not started are dropped, running ones (one run of bins
        each at most) finish, then every worker has exited."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
