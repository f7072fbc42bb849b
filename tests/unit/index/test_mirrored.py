"""Recording a mirrored project (tufpi.index.mirrored) on a real database and storage: rows,
sha256-only targets logged as ``upstream:<url>``, pages with tufpi's URLs and PEP 708, and a
file marked held once, with its sha512; the transparency-log entries of listings, yanks and
withdrawals; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.logged import entries_in
from tufpi.db import make_engine, upgrade
from tufpi.db.models import File, Project, Target, TargetChange, TrustConfig
from tufpi.db.session import make_write_sessionmaker
from tufpi.index import mirrored, pages, search
from tufpi.index.names import parse_dist_filename
from tufpi.index.records import LOGGED_REASON_CHARS
from tufpi.index.upload import Digests
from tufpi.storage import LocalStorage, StagedWrites
from tufpi.tlog.entries import Entry, FileAdded, FileRemoved, Yanked
from tufpi.trust import layout

NOW = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)
UPSTREAM = "http://127.0.0.1:9/simple/"
CONTENT = b"the bytes upstream serves"
SHA256 = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def sessions(own_database_url: str | None, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(own_database_url or f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    writes = make_write_sessionmaker(engine)
    with writes.begin() as session:
        session.add(TrustConfig(number_of_bins=64, initialised=NOW))
    yield writes
    engine.dispose()


def listed(filename: str = "demo-1.0-py3-none-any.whl", **kw: object) -> mirrored.ListedFile:
    values: dict[str, object] = {
        "dist": parse_dist_filename(filename),
        "url": f"http://127.0.0.1:9/files/{filename}",
        "sha256": SHA256,
        "size": len(CONTENT),
        "requires_python": ">=3.9",
        "yanked": False,
        "yanked_reason": None,
        "core_metadata_sha256": "c" * 64,
        "provenance": "http://127.0.0.1:9/provenance/demo",
        "upload_time": None,
    }
    values.update(kw)
    return mirrored.ListedFile(**values)  # type: ignore[arg-type]


def record(
    sessions: sessionmaker[Session], storage: LocalStorage, change: mirrored.MirrorChange
) -> None:
    writes = StagedWrites(storage)
    with sessions.begin() as session:
        project = session.scalar(select(Project).where(Project.normalized_name == "demo"))
        mirrored.apply_change(session, writes, project, change, NOW)
    writes.publish()


def test_a_mirrored_project_is_recorded_listed_and_signed(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path / "files")
    f = listed()
    record(sessions, storage, mirrored.MirrorChange("Demo", UPSTREAM, UPSTREAM + "demo/", (f,)))
    with sessions() as session:
        row = session.scalar(select(File))
        assert row is not None
        assert (row.path, row.held, row.sha512, row.upstream_url) == (f.key, False, None, f.url)
        target = session.get(Target, f.key)
        assert target is not None
        assert (target.length, target.sha256, target.sha512) == (len(CONTENT), SHA256, None)
        actors = set(session.scalars(select(TargetChange.actor)))
        assert actors == {f"upstream:{UPSTREAM}"}
        state = mirrored.mirror_state(session, "demo")
        assert (state.upstream, state.local_files) == (UPSTREAM, False)
        page_sha = session.scalar(
            select(Target.sha256).where(Target.path == layout.page_path("demo", pages.JSON))
        )
    assert page_sha is not None
    body = storage.open(layout.consistent_path(layout.page_path("demo", pages.JSON), page_sha))
    page = json.loads(body.read())
    [entry] = page["files"]
    assert entry["url"] == "../../" + f.key
    assert entry["hashes"] == {"sha256": SHA256}
    assert entry["core-metadata"] == {"sha256": "c" * 64}
    assert entry["provenance"] == "http://127.0.0.1:9/provenance/demo"
    assert page["tracks"] == [UPSTREAM + "demo/"]
    assert page["meta"]["api-version"] == "1.3"
    # Search finds the mirrored project, from the transaction that recorded it (issue 16).
    assert [h.name for h in search.search(sessions, "demo").hits] == ["Demo"]


def test_a_file_is_held_once_and_its_target_gains_sha512(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path / "files")
    f = listed()
    record(sessions, storage, mirrored.MirrorChange("demo", UPSTREAM, UPSTREAM + "demo/", (f,)))
    with sessions() as session:
        row = mirrored.mirrored_file(session, f.key)
    assert row is not None
    assert not row.held
    digests = Digests(
        len(CONTENT),
        SHA256,
        hashlib.sha512(CONTENT).hexdigest(),
        hashlib.blake2b(CONTENT, digest_size=32).hexdigest(),
        hashlib.md5(CONTENT).hexdigest(),
    )
    with sessions.begin() as session:
        assert mirrored.hold_file(session, row, digests, NOW)
    with sessions.begin() as session:
        assert not mirrored.hold_file(session, row, digests, NOW)  # the second one loses
        assert session.get(Target, f.key).sha512 == digests.sha512  # type: ignore[union-attr]
    other = Digests(len(CONTENT), "0" * 64, "0" * 128, "0" * 64, "0" * 32)
    with sessions.begin() as session, pytest.raises(ValueError, match="signed"):
        mirrored.hold_file(session, row, other, NOW)


def test_yanks_and_withdrawals_change_the_page(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path / "files")
    a, b = listed(), listed("demo-2.0.tar.gz")
    change = mirrored.MirrorChange("demo", UPSTREAM, UPSTREAM + "demo/", (a, b))
    record(sessions, storage, change)
    yank = mirrored.FileYank(a.dist.filename, True, "broken")
    record(
        sessions,
        storage,
        mirrored.MirrorChange(
            "demo", UPSTREAM, UPSTREAM + "demo/", yanks=(yank,), withdraw=(b.dist.filename,)
        ),
    )
    with sessions() as session:
        files = {r.filename: r for r in session.scalars(select(File))}
        assert set(files) == {a.dist.filename}
        assert files[a.dist.filename].yanked
        assert session.get(Target, b.key) is None
        actions = [
            r[0]
            for r in session.execute(select(TargetChange.action).where(TargetChange.path == b.key))
        ]
    assert actions == ["add", "remove"]


def test_an_upstream_asked_in_vain_is_asked_again_only_after_the_interval(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path / "files")
    record(sessions, storage, mirrored.MirrorChange("demo", UPSTREAM, UPSTREAM + "demo/"))
    later = NOW + dt.timedelta(hours=1)
    with sessions.begin() as session:
        mirrored.note_asked(session, "demo", later)
        mirrored.note_asked(session, "other", later)  # no such project: nothing
    with sessions() as session:
        refreshed = mirrored.mirror_state(session, "demo").refreshed
    assert refreshed is not None
    assert refreshed.replace(tzinfo=dt.UTC) == later


def test_mirroring_logs_listings_yanks_and_withdrawals_but_not_holds(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """A file listed from upstream is logged at listing (upstream's sha256 and size, no
    account); a file listed yanked, a yank or un-yank followed from upstream and a
    withdrawal are logged; its first download (the hold, adding the sha512) is not."""
    storage = LocalStorage(tmp_path / "files")
    a = listed()
    b = listed("demo-2.0.tar.gz", sha256="b" * 64, size=7, yanked=True, yanked_reason="bad")
    record(sessions, storage, mirrored.MirrorChange("Demo", UPSTREAM, UPSTREAM + "demo/", (a, b)))

    def added(f: mirrored.ListedFile, version: str) -> FileAdded:
        name = f.dist.filename
        return FileAdded("demo", version, name, f.key, f.sha256, f.size, NOW, "upstream")

    expected: list[Entry] = [
        added(a, "1"),
        added(b, "2"),
        Yanked("demo", "2", True, NOW, b.dist.filename, "bad"),
    ]
    with sessions() as session:
        assert entries_in(session) == expected
        row = mirrored.mirrored_file(session, a.key)
    assert row is not None
    digests = Digests(len(CONTENT), SHA256, "5" * 128, "6" * 64, "7" * 32)
    with sessions.begin() as session:
        assert mirrored.hold_file(session, row, digests, NOW)
    yanks = (
        mirrored.FileYank(a.dist.filename, True, "broken"),
        mirrored.FileYank(b.dist.filename, False, None),
        mirrored.FileYank("demo-9.0.tar.gz", True, None),  # no such file: nothing to log
    )
    change = mirrored.MirrorChange("demo", UPSTREAM, UPSTREAM + "demo/", yanks=yanks)
    record(sessions, storage, change)
    withdraw = mirrored.MirrorChange(
        "demo", UPSTREAM, UPSTREAM + "demo/", withdraw=(a.dist.filename, b.dist.filename)
    )
    record(sessions, storage, withdraw)  # a is held: only b is withdrawn
    expected += [
        Yanked("demo", "1", True, NOW, a.dist.filename, "broken"),
        Yanked("demo", "2", False, NOW, b.dist.filename, None),
        FileRemoved("demo", "2", b.dist.filename, b.key, b.sha256, NOW),
    ]
    with sessions() as session:
        assert entries_in(session) == expected


def test_a_mirrored_change_that_fails_logs_nothing(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path / "files")
    change = mirrored.MirrorChange("demo", UPSTREAM, UPSTREAM + "demo/", (listed(),))

    def apply_then_fail(session: Session) -> None:
        mirrored.apply_change(session, StagedWrites(storage), None, change, NOW)
        raise RuntimeError("the transaction fails after the change was applied")

    with pytest.raises(RuntimeError), sessions.begin() as session:
        apply_then_fail(session)
    with sessions() as session:
        assert entries_in(session) == []
        assert session.scalar(select(File)) is None


def test_a_huge_yank_reason_from_upstream_is_cut_in_the_log_not_refused(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Upstream states any reason it likes: escaped whole, this one would not fit an entry
    (65,535 bytes) and the listing could never be recorded; its entry keeps the start."""
    storage = LocalStorage(tmp_path / "files")
    reason = "\N{GRINNING FACE}" * 100_000
    f = listed(yanked=True, yanked_reason=reason)
    record(sessions, storage, mirrored.MirrorChange("demo", UPSTREAM, UPSTREAM + "demo/", (f,)))
    with sessions() as session:
        [_added, yanked] = entries_in(session)
        assert session.scalar(select(File.yanked_reason)) == reason
    assert isinstance(yanked, Yanked)
    assert yanked.reason == reason[:LOGGED_REASON_CHARS]
