"""Inspection in worker processes (tufpi.index.inspector): admission and what crosses back."""

from __future__ import annotations

import contextlib
import os
import signal
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tufpi.index.archive import Bounds
from tufpi.index.errors import ArchiveTooCostly, Busy, InvalidUpload
from tufpi.index.inspector import RETRY_AFTER, Inspector
from tufpi.index.names import parse_dist_filename

WHEEL = "demo_pkg-1.0-py3-none-any.whl"
METADATA = b"Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\n"


@pytest.fixture
def inspector() -> Iterator[Inspector]:
    inspector = Inspector(Bounds(members=5), concurrency=2, processes=1)
    try:
        yield inspector
    finally:
        inspector.close()


def wheel(path: Path, extra: int = 0) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("demo_pkg-1.0.dist-info/METADATA", METADATA)
        for i in range(extra):
            archive.writestr(f"demo_pkg/m{i}.py", b"")
    return path


def test_metadata_is_read_in_a_worker(inspector: Inspector, tmp_path: Path) -> None:
    path = wheel(tmp_path / WHEEL)
    assert inspector.extract(path, parse_dist_filename(WHEEL)) == METADATA


def test_refusals_cross_back_with_their_message(inspector: Inspector, tmp_path: Path) -> None:
    path = wheel(tmp_path / WHEEL, extra=10)
    with pytest.raises(ArchiveTooCostly, match="limit: 5 archive members"):
        inspector.extract(path, parse_dist_filename(WHEEL))
    (tmp_path / "bad.whl").write_bytes(b"not a zip")
    with pytest.raises(InvalidUpload, match="Invalid distribution file"):
        inspector.extract(tmp_path / "bad.whl", parse_dist_filename(WHEEL))
    # The worker is still there for the next upload.
    assert inspector.extract(wheel(tmp_path / "ok.whl"), parse_dist_filename(WHEEL)) == METADATA


def test_past_the_concurrency_uploads_are_refused_busy(inspector: Inspector) -> None:
    first, second = inspector.admit(), inspector.admit()
    with pytest.raises(Busy) as refused:
        inspector.admit()
    assert refused.value.status == 503
    assert refused.value.retry_after == RETRY_AFTER
    first.release()
    first.release()  # once only: a second release must not free another slot
    third = inspector.admit()
    with pytest.raises(Busy):
        inspector.admit()
    second.release()
    third.release()


def spawned_workers() -> list[int]:
    """This process's live children started by multiprocessing's spawn (the workers)."""
    pids = []
    for task in Path("/proc/self/task").iterdir():
        for pid in (task / "children").read_text().split():
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    pids.append(int(pid))
    return pids


def test_a_dead_worker_answers_busy_and_the_pool_is_replaced(
    inspector: Inspector, tmp_path: Path
) -> None:
    # What the kernel does to a worker past its CPU bound (RLIMIT_CPU), or out of memory.
    path = wheel(tmp_path / WHEEL)
    assert inspector.extract(path, parse_dist_filename(WHEEL)) == METADATA
    workers = spawned_workers()
    assert workers
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(Busy, match="stopped its worker"):
        inspector.extract(path, parse_dist_filename(WHEEL))
    assert inspector.extract(path, parse_dist_filename(WHEEL)) == METADATA
    assert not set(spawned_workers()) & set(workers)
