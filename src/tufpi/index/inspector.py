"""Archive inspection in worker processes of its own, so that no upload can stall readers.

Reading an archive is Python code (tarfile walks members holding the GIL) and inflation; in
the web process it would take the event loop's and the read threads' time. Here it runs in
a few worker processes, started on first use, each at a lower CPU priority (nice), with its
address space capped and, per inspection, its CPU time capped by the kernel (RLIMIT_CPU: a
worker stuck in one C call past the time bound is killed, and the pool replaced). At most
``concurrency`` uploads are admitted at once; past that, ``Busy`` (503 with Retry-After)
rather than an unbounded queue.
"""

from __future__ import annotations

import concurrent.futures
import math
import multiprocessing
import os
import resource
import threading
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import TracebackType

from tufpi.config import Settings
from tufpi.index import archive
from tufpi.index.archive import Bounds
from tufpi.index.errors import ArchiveTooCostly, Busy, InvalidUpload
from tufpi.index.names import DistFilename
from tufpi.orphans import end_with_parent

MiB = 1024 * 1024
# A worker's address space: an inspection within the bounds needs far less (200,000 tar
# members are ~90 MB of TarInfo objects), and a Python process starts at ~30 MB.
WORKER_MEMORY_BYTES = 1024 * MiB
# Workers yield the CPU to the web process's readers.
WORKER_NICENESS = 10
# Seconds of CPU an inspection may use past its time bound before the kernel stops it: the
# reading's own checks refuse it well before, unless stuck in one C call.
_CPU_MARGIN = 5
# Seconds a client is told to wait when every slot is taken.
RETRY_AFTER = 5


def bounds_of(settings: Settings) -> Bounds:
    """The archive bounds the settings give (``archive_max_*``, ``inspect_seconds``)."""
    return Bounds(
        members=settings.archive_max_members,
        inflated_bytes=settings.archive_max_bytes,
        ratio=settings.archive_max_ratio,
        seconds=settings.inspect_seconds,
    )


def _start_worker(memory_bytes: int, parent: int) -> None:
    """Worker initialiser: lower priority, bounded memory, no core dumps; end with the
    server (a SIGKILLed server would otherwise leave its workers waiting)."""
    os.nice(WORKER_NICENESS)
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    end_with_parent(parent)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _inspect(path: Path, dist: DistFilename, bounds: Bounds, memory_bytes: int) -> bytes:
    """In a worker: cap this inspection's CPU time, then read the metadata."""
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(_cpu_seconds() + bounds.seconds + _CPU_MARGIN)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    try:
        return archive.read_core_metadata(path, dist, bounds)
    except InvalidUpload:
        raise
    except MemoryError:
        raise ArchiveTooCostly(
            f"Refused {dist.filename!r}: reading it needed more than {memory_bytes} bytes "
            f"of memory (limit: {memory_bytes} bytes of inspection memory)."
        ) from None
    except Exception as e:
        # The archive is hostile input: whatever else a reader raises on it is a refusal
        # of that file (as import skips it), not a server error.
        raise InvalidUpload(
            f"Invalid distribution file {dist.filename!r}: {type(e).__name__}: {e}"
        ) from None


class Ticket:
    """One admitted upload's slot; released once, by whoever finishes the upload's work."""

    def __init__(self, slots: threading.BoundedSemaphore) -> None:
        self._slots = slots
        self._lock = threading.Lock()
        self._held = True

    def release(self) -> None:
        with self._lock:
            if self._held:
                self._held = False
                self._slots.release()

    def __enter__(self) -> Ticket:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class Inspector:
    """Reads distributions' core metadata in a bounded pool of worker processes.

    Args:
        bounds: what one inspection may cost (``tufpi.index.archive``).
        concurrency: uploads admitted at once (``admit``); inspections past ``processes``
            wait for a worker.
        processes: worker processes, started on first use.
    """

    def __init__(self, bounds: Bounds, concurrency: int, processes: int) -> None:
        self.bounds = bounds
        self.processes = max(1, min(processes, concurrency))
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        # The longest an admitted inspection can wait for a worker and then run.
        self._wait = bounds.seconds * math.ceil(concurrency / self.processes) + 2 * _CPU_MARGIN

    def admit(self) -> Ticket:
        """A slot for one upload, without waiting.

        Raises:
            Busy: ``concurrency`` uploads are in progress already.
        """
        if not self._slots.acquire(blocking=False):
            raise Busy(
                "Too many uploads are being inspected right now; retry in a few seconds.",
                RETRY_AFTER,
            )
        return Ticket(self._slots)

    def _current(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn: a worker inherits neither the server's threads nor its connections.
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(WORKER_MEMORY_BYTES, os.getpid()),
                )
            return self._pool

    def _replace(self, broken: concurrent.futures.ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)

    def start(self) -> None:
        """Start the workers now, without waiting for them (each imports tufpi: about a
        second of CPU), rather than on the first uploads, while readers are being served."""
        pool = self._current()
        for _ in range(self.processes):
            pool.submit(os.getpid)

    def extract(self, path: Path, dist: DistFilename) -> bytes:
        """The raw core metadata of the distribution at ``path``, read in a worker.

        Raises:
            ArchiveTooCostly: reading it passed one of the bounds.
            InvalidUpload: the archive is corrupt or holds no (single) metadata file.
            Busy: the worker stopped (the kernel's CPU bound, or out of memory) or did not
                answer in time; the pool is replaced, and a retry may succeed.
        """
        pool = self._current()
        try:
            future = pool.submit(_inspect, path, dist, self.bounds, WORKER_MEMORY_BYTES)
            return future.result(timeout=self._wait)
        except (BrokenProcessPool, TimeoutError) as e:
            self._replace(pool)
            raise Busy(
                f"Inspecting {dist.filename!r} stopped its worker; retry in a few seconds.",
                RETRY_AFTER,
            ) from e

    def close(self) -> None:
        """Stop the workers (they are started again on the next use)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
