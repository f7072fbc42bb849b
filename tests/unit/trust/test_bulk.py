"""Signing many bins in worker processes: the same bins as one process signs, signed with
the online key, and a worker killed half-way leaves the published repository as it was."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from sqlalchemy import select

from tufpi.db.models import Target
from tufpi.trust import layout
from tufpi.trust.bulk import BinSigningPool
from tufpi.trust.publisher import Publisher
from tufpi.trust.roles import BINS_ROLE

from .test_publisher import BINS, Repo, dist_path


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    repo = Repo(tmp_path)
    yield repo
    repo.services.engine.dispose()


def pooled(repo: Repo) -> tuple[Publisher, BinSigningPool]:
    publisher = repo.publisher()
    assert publisher.pool is not None
    # Every publication through the workers, two bins a task, so that several tasks run.
    pool = BinSigningPool(publisher.pool.setup, workers=2, min_bins=1, task_bins=2)
    publisher.pool = pool
    return publisher, pool


def add_many(repo: Repo, count: int) -> list[str]:
    paths = []
    for i in range(count):
        content = f"file {i}".encode()
        path = dist_path(content, f"p{i}-1.0-py3-none-any.whl")
        repo.add(path, content)
        paths.append(path)
    return paths


def test_workers_sign_every_bin_from_its_rows(repo: Repo) -> None:
    paths = add_many(repo, 60)
    publisher, pool = pooled(repo)
    try:
        result = publisher.publish()
        workers = pool.worker_pids()
    finally:
        pool.close()
    assert len(workers) == 2
    assert os.getpid() not in workers
    assert result.published
    assert result.changes == 60
    bins_role = repo.store.read(BINS_ROLE, repo.versions()[BINS_ROLE]).signed
    with repo.services.sessions() as session:
        rows = session.execute(select(Target.bin, Target.path, Target.sha256)).all()
    for index in range(BINS):
        name = layout.bin_name(index, BINS)
        md = repo.store.read(name, repo.versions()[name])
        # Signed with the online key the bins role delegates to (raises if not).
        bins_role.verify_delegate(name, md.signed_bytes, md.signatures)
        expected = {p: h for b, p, h in rows if b == index}
        assert {p: t.hashes["sha256"] for p, t in md.signed.targets.items()} == expected
    assert all(repo.listed(p) is not None for p in paths)
    assert {version for _, _, version in repo.change_log()} == {result.snapshot_version}


def test_a_worker_killed_half_way_leaves_the_published_repository(repo: Repo) -> None:
    add_many(repo, 40)
    before = repo.timestamp_bytes()
    publisher, pool = pooled(repo)
    killed: list[int] = []

    def kill_a_worker(done: int, total: int) -> None:
        if not killed:
            killed.append(pool.worker_pids()[0])
            os.kill(killed[0], signal.SIGKILL)

    publisher.progress = kill_a_worker
    with pytest.raises(BrokenProcessPool):
        publisher.publish()
    assert killed
    assert repo.timestamp_bytes() == before
    assert all(version is None for _, _, version in repo.change_log())

    # The next publication starts new workers and publishes every change once.
    publisher.progress = None
    publisher.forget()
    try:
        result = publisher.publish()
    finally:
        pool.close()
    assert result.published
    assert result.changes == 40
    assert {version for _, _, version in repo.change_log()} == {result.snapshot_version}
