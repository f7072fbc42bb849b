"""``changes.set_targets``: one upsert for any number of targets, a logged change for each
target that is new or differs, none for one that is unchanged; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from tufpi.db import make_engine, upgrade
from tufpi.db.models import Target, TargetChange, TrustConfig
from tufpi.db.session import make_write_sessionmaker
from tufpi.trust import changes, layout

BINS = 64
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _target(path: str, content: bytes) -> changes.TargetFile:
    return changes.TargetFile(
        path,
        len(content),
        hashlib.sha256(content).hexdigest(),
        hashlib.sha512(content).hexdigest(),
    )


@pytest.fixture
def sessions(own_database_url: str | None, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(own_database_url or f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    writes = make_write_sessionmaker(engine)
    with writes.begin() as session:
        session.add(TrustConfig(number_of_bins=BINS, initialised=NOW))
    yield writes
    engine.dispose()


def _set(sessions: sessionmaker[Session], *targets: changes.TargetFile, actor: str = "a") -> int:
    """``set_targets`` in a transaction of its own; returns the statements it sent."""
    statements: list[str] = []
    with sessions.begin() as session:
        changes.bins_of(session)  # the bin count is read once a transaction; not counted
        engine = session.get_bind()
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            changes.set_targets(
                session, list(targets), project_id=None, project="p", actor=actor, now=NOW
            )
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    return len(statements)


def _targets(sessions: sessionmaker[Session]) -> dict[str, tuple[int, int, str]]:
    """path -> (bin, length, sha256)"""
    with sessions() as session:
        rows = session.execute(select(Target.path, Target.bin, Target.length, Target.sha256))
        return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _log(sessions: sessionmaker[Session]) -> list[tuple[str, str, int | None, str]]:
    with sessions() as session:
        rows = session.execute(
            select(
                TargetChange.path, TargetChange.action, TargetChange.length, TargetChange.actor
            ).order_by(TargetChange.id)
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]


def test_new_targets_are_added_and_logged_in_two_statements(
    sessions: sessionmaker[Session],
) -> None:
    a, b, c = _target("x/a", b"a"), _target("x/b", b"bb"), _target("x/c", b"ccc")
    assert _set(sessions, a, b, c) == 2  # one upsert, one insert into the log
    found = _targets(sessions)
    assert sorted(found) == ["x/a", "x/b", "x/c"]
    for t in (a, b, c):
        assert found[t.path] == (layout.bin_index(t.path, BINS), t.length, t.sha256)
    assert _log(sessions) == [
        ("x/a", "add", 1, "a"),
        ("x/b", "add", 2, "a"),
        ("x/c", "add", 3, "a"),
    ]


def test_only_targets_that_differ_are_updated_and_logged(sessions: sessionmaker[Session]) -> None:
    _set(sessions, _target("x/a", b"a"), _target("x/b", b"b"))
    # Same content for a, new content for b.
    assert _set(sessions, _target("x/a", b"a"), _target("x/b", b"b2"), actor="second") == 2
    assert _targets(sessions)["x/b"][1:3] == (2, hashlib.sha256(b"b2").hexdigest())
    assert _log(sessions)[2:] == [("x/b", "add", 2, "second")]
    # Nothing differs: the upsert changes and returns nothing, and nothing is logged.
    assert _set(sessions, _target("x/a", b"a"), _target("x/b", b"b2"), actor="third") == 1
    assert [row[3] for row in _log(sessions)] == ["a", "a", "second"]
    # A change of hash alone (same length) is a change too.
    _set(sessions, _target("x/a", b"z"), actor="fourth")
    assert _log(sessions)[-1] == ("x/a", "add", 1, "fourth")
    assert _targets(sessions)["x/a"][2] == hashlib.sha256(b"z").hexdigest()


def test_nothing_to_set_sends_nothing(sessions: sessionmaker[Session]) -> None:
    assert _set(sessions) == 0
    assert _log(sessions) == []


def test_a_sha256_only_target_gains_its_sha512_as_a_logged_change(
    sessions: sessionmaker[Session],
) -> None:
    # A mirrored file: listed with upstream's sha256 and length, its sha512 added once held.
    full = _target("packages/aa/bb/cc/m-1.0.tar.gz", b"mirrored")
    listed = changes.TargetFile(full.path, full.length, full.sha256, None)
    _set(sessions, listed, actor="upstream:http://u/simple/")
    _set(sessions, listed, actor="upstream:http://u/simple/")  # unchanged: nothing logged
    _set(sessions, full, actor="upstream:http://u/simple/")
    with sessions() as session:
        assert session.scalar(select(Target.sha512).where(Target.path == full.path)) == full.sha512
        logged = session.execute(
            select(TargetChange.sha512)
            .where(TargetChange.path == full.path)
            .order_by(TargetChange.id)
        ).all()
    assert [r[0] for r in logged] == [None, full.sha512]
