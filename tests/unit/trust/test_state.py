"""The signer's bookkeeping: marking changes published touches exactly the given ids."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tufpi.trust import state

from .test_publisher import START, Repo, dist_path


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    repo = Repo(tmp_path)
    yield repo
    repo.services.engine.dispose()


@pytest.mark.parametrize(
    ("ids", "runs"),
    [
        ([], []),
        ([4], [(4, 4)]),
        ([1, 2, 3], [(1, 3)]),
        ([1, 2, 3, 5, 7, 8, 10], [(1, 3), (5, 5), (7, 8), (10, 10)]),
    ],
)
def test_id_runs(ids: list[int], runs: list[tuple[int, int]]) -> None:
    assert state.id_runs(ids) == runs


def test_mark_published_touches_exactly_the_given_ids(repo: Repo) -> None:
    for i in range(12):
        content = f"content {i}".encode()
        repo.add(dist_path(content, f"f{i}-1.0.tar.gz"), content)
    with repo.services.sessions() as session:
        ids = state.pending_in_bins(session, range(16), 16)
    assert len(ids) == 12
    chosen = [ids[i] for i in (0, 1, 2, 4, 6, 7, 9, 11)]  # runs and single ids, with gaps
    with repo.services.sessions.begin() as session:
        state.mark_published(session, chosen, 7, START)
    with repo.services.sessions() as session:
        still_pending = state.pending_in_bins(session, range(16), 16)
    assert still_pending == [ids[i] for i in (3, 5, 8, 10)]
    versions = [version for _, _, version in repo.change_log()]  # in id order
    published = dict(zip(ids, versions, strict=True))
    assert {published[i] for i in chosen} == {7}
