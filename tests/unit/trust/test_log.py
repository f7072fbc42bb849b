"""``tufpi trust log``'s query: newest first, limited, by project, pending or published."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from tufpi.db.models import LogLeaf, TargetChange
from tufpi.tlog import entries
from tufpi.trust import changes
from tufpi.trust.log import recent_changes, recent_publications

from .test_publisher import Repo


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    repo = Repo(tmp_path)
    yield repo
    repo.services.engine.dispose()


def _add(repo: Repo, project: str, path: str, actor: str) -> None:
    content = path.encode()
    target = changes.TargetFile(
        path, len(content), hashlib.sha256(content).hexdigest(), hashlib.sha512(content).hexdigest()
    )
    with repo.services.sessions.begin() as session:
        changes.set_targets(
            session, [target], project_id=None, project=project, actor=actor, now=repo.clock()
        )


def test_the_log_lists_the_newest_changes_first_and_filters_by_project(repo: Repo) -> None:
    _add(repo, "alpha", "alpha/alpha-1.tar.gz", "alice")
    _add(repo, "beta", "beta/beta-1.tar.gz", "bob")
    _add(repo, "alpha", "alpha/alpha-2.tar.gz", "alice")

    newest = recent_changes(repo.services.sessions, limit=2)
    assert [c.path for c in newest] == ["alpha/alpha-2.tar.gz", "beta/beta-1.tar.gz"]
    assert newest[0].id > newest[1].id
    assert all(c.action == "add" and c.published_version is None for c in newest)
    assert newest[1].actor == "bob"
    # SQLite hands datetimes back naive: compare the wall-clock reading itself.
    assert newest[0].created.replace(tzinfo=None) == repo.clock().replace(tzinfo=None)

    alpha = recent_changes(repo.services.sessions, limit=50, project="alpha")
    assert [c.path for c in alpha] == ["alpha/alpha-2.tar.gz", "alpha/alpha-1.tar.gz"]
    assert recent_changes(repo.services.sessions, limit=50, project="gamma") == []


def test_a_published_change_names_its_snapshot(repo: Repo) -> None:
    _add(repo, "alpha", "alpha/alpha-1.tar.gz", "alice")
    result = repo.publisher().publish()
    (change,) = recent_changes(repo.services.sessions, limit=50, project="alpha")
    assert change.published_version == result.snapshot_version


def test_the_last_publications_come_from_the_transparency_log(repo: Repo) -> None:
    """Each publication the log recorded, newest first, with the number of changes its
    snapshot published; a yank (another entry without a target path) is not one."""
    _add(repo, "alpha", "alpha/alpha-1.tar.gz", "alice")
    _add(repo, "alpha", "alpha/alpha-2.tar.gz", "alice")
    first = _publish(repo, 1, 1)
    yank = entries.Yanked("alpha", "1", True, repo.clock(), reason="broken")
    _add(repo, "beta", "beta/beta-1.tar.gz", "bob")
    second = _publish(repo, 2, 2)
    with repo.services.sessions.begin() as session:
        for seq, entry in enumerate([first, yank, second]):
            session.add(LogLeaf(seq=seq, entry=entries.encode_entry(entry), path=None))

    shown = recent_publications(repo.services.sessions, limit=10)
    assert [(p.snapshot_version, p.timestamp_version, p.changes) for p in shown] == [
        (2, 2, 1),
        (1, 1, 2),
    ]
    assert [p.snapshot_version for p in recent_publications(repo.services.sessions, 1)] == [2]


def _publish(repo: Repo, snapshot: int, timestamp: int) -> entries.Published:
    """Mark the pending changes published by ``snapshot``; the log entry recording it."""
    with repo.services.sessions.begin() as session:
        session.execute(
            update(TargetChange)
            .where(TargetChange.published_version.is_(None))
            .values(published_version=snapshot)
        )
    return entries.Published(timestamp, "a" * 64, snapshot, "b" * 64, repo.clock())
