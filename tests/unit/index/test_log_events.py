"""Every event of the index service writes its transparency-log entries in its own
transaction (issue 15): an upload its FileAdded, a yank or un-yank its Yanked, a removal a
FileRemoved per file; a refused upload or one that fails before its commit writes none.

The real service on a real database (SQLite, and PostgreSQL when available) and storage,
without an HTTP server: the entries pending after each event are read back and parsed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from packaging.version import Version
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.logged import entries_in
from tests.support.visibility import wheel
from tufpi.db import make_engine, make_sessionmaker, upgrade
from tufpi.db.models import File, LogPending, TrustConfig
from tufpi.db.session import make_write_sessionmaker
from tufpi.importer.plan import Ready
from tufpi.importer.write import ProjectWriter
from tufpi.index import AccountService, Forbidden, Identity, IndexService, InvalidUpload, search
from tufpi.index.names import parse_dist_filename
from tufpi.index.records import storage_key
from tufpi.index.upload import InspectedDist, StagedFile, UploadForm, hash_file, inspect
from tufpi.storage import LocalStorage
from tufpi.tlog.entries import Entry, FileAdded, FileRemoved, Yanked

NOW = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)


class Crash(Exception):
    """Raised at an upload step, as the kill of UPLOAD_CRASH_ENV would stop it there."""


@dataclasses.dataclass
class Index:
    service: IndexService
    accounts: AccountService
    sessions: sessionmaker[Session]
    work: Path
    engine: Engine

    def entries(self) -> list[Entry]:
        with self.sessions() as session:
            return entries_in(session)

    def user(self, name: str) -> Identity:
        self.accounts.add_user(name)
        token = self.accounts.create_token(name, None)
        return self.accounts.authenticate(("__token__", token))

    def dist(self, name: str, version: str, payload: bytes = b"") -> InspectedDist:
        """A fresh wheel of ``name`` ``version``, staged and inspected as an upload is."""
        built = wheel(self.work / "built", name, version, payload)
        staged = self.work / f"staged-{built.name}-{len(list(self.work.iterdir()))}"
        shutil.copy(built, staged)
        dist = parse_dist_filename(built.name)
        return inspect(form(name, version), dist, StagedFile(staged, hash_file(staged)))

    def upload(self, who: Identity, dist: InspectedDist) -> bool:
        result = self.service.upload(who, form(dist.dist.name, str(dist.dist.version)), dist)
        return result.created


def form(name: str, version: str) -> UploadForm:
    return UploadForm(name, Version(version), "bdist_wheel", "py3", "2.1", None, None, None, None)


@pytest.fixture
def index(own_database_url: str | None, tmp_path: Path) -> Iterator[Index]:
    engine = make_engine(own_database_url or f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    writes = make_write_sessionmaker(engine)
    with writes.begin() as session:
        session.add(TrustConfig(number_of_bins=64, initialised=NOW))
    service = IndexService(sessions, writes, LocalStorage(tmp_path / "files"), lambda: NOW)
    (tmp_path / "work").mkdir()
    accounts = AccountService(sessions, lambda: NOW)
    yield Index(service, accounts, sessions, tmp_path / "work", engine)
    engine.dispose()


def added(
    dist: InspectedDist, who: Identity | None, project: str, version: str, via: str = "upload"
) -> FileAdded:
    digests = dist.staged.digests
    return FileAdded(
        project=project,
        version=version,
        filename=dist.dist.filename,
        path=storage_key(digests.sha256, dist.dist.filename),
        sha256=digests.sha256,
        size=digests.size,
        time=NOW,
        via=via,
        account=who.user_name if who else None,
        token=who.token_id if who else None,
    )


def test_an_upload_logs_the_file_with_its_uploader_and_token(index: Index) -> None:
    alice = index.user("alice")
    first = index.dist("Log_Demo", "1.0.0", b"first")
    assert index.upload(alice, first)
    # The canonical version (the release's identity), the normalised project name.
    assert index.entries() == [added(first, alice, "log-demo", "1")]
    second = index.dist("log-demo", "2.0rc1", b"second")
    assert index.upload(alice, second)
    assert index.entries()[1:] == [added(second, alice, "log-demo", "2rc1")]


def test_a_refused_or_repeated_upload_logs_nothing(index: Index) -> None:
    alice, mallory = index.user("alice"), index.user("mallory")
    dist = index.dist("owned", "1.0", b"genuine")
    assert index.upload(alice, dist)
    logged = index.entries()
    assert len(logged) == 1
    # The very file again: nothing new happened.
    assert not index.upload(alice, index.dist("owned", "1.0", b"genuine"))
    # Other content under a used filename.
    with pytest.raises(InvalidUpload):
        index.upload(alice, index.dist("owned", "1.0", b"other"))
    # Not an owner.
    with pytest.raises(Forbidden, match="not an owner"):
        index.upload(mallory, index.dist("owned", "2.0", b"evil"))
    assert index.entries() == logged


def test_an_upload_refused_inside_its_transaction_logs_nothing(index: Index) -> None:
    """A non-owner's first upload of a new name passes the early check, then the owner's
    upload creates the project: the non-owner's is refused under the project's lock, after
    its file was staged, and its transaction writes no entry."""
    alice, mallory = index.user("alice"), index.user("mallory")
    genuine = index.dist("raced", "1.0", b"genuine")
    evil = index.dist("raced", "2.0", b"evil")

    def owner_first(step: str) -> None:
        if step == "staged":
            index.service.checkpoint = lambda _step: None
            assert index.upload(alice, genuine)

    index.service.checkpoint = owner_first
    with pytest.raises(Forbidden, match="not an owner"):
        index.upload(mallory, evil)
    assert index.entries() == [added(genuine, alice, "raced", "1")]


@pytest.mark.parametrize(
    ("step", "committed"),
    [("staged", False), ("recorded", False), ("committed", True), ("visible", True)],
)
def test_an_upload_stopped_at_each_step_logs_its_file_iff_it_committed(
    index: Index, step: str, committed: bool
) -> None:
    alice = index.user("alice")
    dist = index.dist("stopped", "1.0", b"payload")

    def crash(at: str) -> None:
        if at == step:
            raise Crash(at)

    index.service.checkpoint = crash
    with pytest.raises(Crash):
        index.upload(alice, dist)
    with index.sessions() as session:
        files = session.scalar(select(func.count(File.id)))
    assert files == int(committed)
    assert index.entries() == ([added(dist, alice, "stopped", "1")] if committed else [])


def test_yank_and_unyank_log_the_release_and_who(index: Index) -> None:
    alice = index.user("alice")
    assert index.upload(alice, index.dist("yankee", "1.0", b"one"))
    before = len(index.entries())
    index.service.set_yanked("Yankee", "1.0.0", True, "broken")
    index.service.set_yanked("yankee", "1", True, "broken")  # as it is: nothing changes
    index.service.set_yanked("yankee", "1", True, "very broken", actor="alice")
    index.service.set_yanked("yankee", "1.0", False, "ignored")
    assert index.entries()[before:] == [
        Yanked("yankee", "1", True, NOW, None, "broken", "admin"),
        Yanked("yankee", "1", True, NOW, None, "very broken", "alice"),
        Yanked("yankee", "1", False, NOW, None, None, "admin"),
    ]


def _removed(dist: InspectedDist, project: str, version: str) -> FileRemoved:
    digests = dist.staged.digests
    return FileRemoved(
        project=project,
        version=version,
        filename=dist.dist.filename,
        path=storage_key(digests.sha256, dist.dist.filename),
        sha256=digests.sha256,
        time=NOW,
        account="admin",
    )


def test_removals_log_each_file_removed(index: Index) -> None:
    alice = index.user("alice")
    one, two = index.dist("gone", "1.0", b"one"), index.dist("gone", "2.0", b"two")
    three = index.dist("gone", "3.0", b"three")
    for dist in (one, two, three):
        assert index.upload(alice, dist)
    before = len(index.entries())
    assert index.service.remove("gone", filename=one.dist.filename) == [one.dist.filename]
    assert index.entries()[before:] == [_removed(one, "gone", "1")]
    assert index.service.remove("Gone", "2.0.0") == [two.dist.filename]
    assert index.service.remove("gone") == [three.dist.filename]
    assert index.entries()[before + 1 :] == [
        _removed(two, "gone", "2"),
        _removed(three, "gone", "3"),
    ]


def test_a_refused_removal_or_yank_logs_nothing(index: Index) -> None:
    alice = index.user("alice")
    assert index.upload(alice, index.dist("kept", "1.0", b"one"))
    logged = index.entries()
    with pytest.raises(Exception, match="No file"):
        index.service.remove("kept", filename="kept-9.0-py3-none-any.whl")
    with pytest.raises(Exception, match="No release"):
        index.service.set_yanked("kept", "9.0", True, None)
    assert index.entries() == logged
    with index.sessions() as session:
        assert session.scalar(select(func.count(LogPending.id))) == len(logged)


def test_an_import_logs_a_projects_files_in_one_statement(index: Index) -> None:
    """``tufpi import`` writes a project's files as uploads do, and their entries (via
    import, no account) with one INSERT for the whole project: an import records thousands
    of files a second, and a statement per file would cost it a round trip each."""
    older = NOW - dt.timedelta(days=400)  # the source's upload time: the entry's is now
    dists = [index.dist("bulk", f"1.{i}", b"%d" % i) for i in range(5)]
    ready = [Ready(f"/source/{d.dist.filename}", d, older) for d in dists]
    inserts: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith("INSERT INTO log_pending"):
            inserts.append(statement)

    event.listen(index.engine, "before_cursor_execute", count)
    with ThreadPoolExecutor(2) as threads:
        written = ProjectWriter(index.service, threads, lambda _step: None).write("bulk", ready)
    event.remove(index.engine, "before_cursor_execute", count)
    assert len(written.plan.new) == 5
    assert len(inserts) == 1
    assert index.entries() == [
        added(d, None, "bulk", "1" if i == 0 else f"1.{i}", via="import")  # 1.0 is release 1
        for i, d in enumerate(dists)
    ]
    # Search found it in the same transaction, at its latest release (issue 16).
    [hit] = search.search(index.sessions, "bulk").hits
    assert (hit.name, hit.version) == ("bulk", "1.4")
