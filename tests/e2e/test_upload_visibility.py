"""Nothing an upload did not commit is ever served or kept (issue 11, item 5).

``tufpi serve`` is SIGKILLed at each named step of a twine upload
(``TUFPI_DEBUG_UPLOAD_CRASH_AT``); after the restart (whose start-up sweeps the staging
area) no row lacks its files, no file lacks its row, and no temp or staged file is left.
A refused upload (a non-owner racing the owner's first upload) leaves nothing at all.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Connection, create_engine, text

from tests.support import clients
from tests.support import server as server_support
from tests.support.logged import events_logged
from tests.support.server import IndexServer
from tests.support.visibility import assert_consistent, holdings, sha256_of, wheel
from tests.support.waiting import wait_until
from tufpi.index.records import storage_key

# Each step of IndexService.upload, and whether the upload has committed when it is killed.
KILL_POINTS = {"staged": False, "recorded": False, "committed": True, "visible": True}


@contextlib.contextmanager
def serving(data_dir: Path, database_url: str | None, **env: str) -> Iterator[IndexServer]:
    server = server_support.start(
        data_dir, database_url, extra_env={"TMPDIR": str(data_dir / "tmp"), **env}, signer="false"
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("point", KILL_POINTS)
def test_kill_at_each_step_of_an_upload(
    point: str, own_database_url: str | None, tmp_path: Path
) -> None:
    data_dir = tmp_path / "index"
    (data_dir / "tmp").mkdir(parents=True)
    storage = data_dir / "files"
    first = wheel(tmp_path / "dist", "kept", "1.0", os.urandom(4096))
    doomed = wheel(tmp_path / "dist", "kept", "2.0", os.urandom(4096))
    with serving(data_dir, own_database_url, TUFPI_DEBUG_UPLOAD_CRASH_AT=point) as server:
        database_url = server.database_url
        token = server.new_user("uploader")
        # The first upload passing ``point`` kills the server there.
        result = clients.twine_upload(server.url, token, [doomed])
        assert result.returncode != 0
        assert server.process is not None
        assert server.process.wait(timeout=30) == -signal.SIGKILL
        server.process = None
    killed = holdings(database_url, storage)
    key = storage_key(sha256_of(doomed), doomed.name)
    # Killed after staging: the files exist, but only in the (never served) staging area.
    assert key not in killed.visible or point == "visible"
    assert key in killed.staged_keys() or point == "visible"

    with serving(data_dir, own_database_url) as server:
        held = assert_consistent(database_url, storage, server.url)
        assert (doomed.name in held.filenames()) is KILL_POINTS[point]
        # Its log entry committed with its rows, or not at all (issue 15).
        logged = [e.filename for e in events_logged(database_url)]  # type: ignore[union-attr]
        assert logged == ([doomed.name] if KILL_POINTS[point] else [])
        page = httpx.get(server.url + "simple/kept/", timeout=10)
        if KILL_POINTS[point]:
            assert doomed.name in page.text
        else:
            assert page.status_code == 404  # the project's only upload never committed
        # The index works on: an upload after the restart is recorded and served.
        assert clients.twine_upload(server.url, token, [first]).returncode == 0
        held = assert_consistent(database_url, storage, server.url)
        assert first.name in held.filenames()
        assert list((data_dir / "tmp").iterdir()) == []
        scratch = list((storage / ".staging").glob("*/scratch/*"))
        assert scratch == []


def test_refused_upload_leaves_nothing(own_database_url: str | None, tmp_path: Path) -> None:
    """A non-owner's first upload of a name races the owner's: it passes the early check
    (no project yet), stores, and is refused in its transaction (403). Before issue 11 its
    bytes were stored under ``/packages/<sha256>/<victim's filename>`` by then, and stayed
    served (immutable) after the refusal; now they were only ever staged, and are gone."""
    go = tmp_path / "go"
    data_dir = tmp_path / "index"
    (data_dir / "tmp").mkdir(parents=True)
    storage = data_dir / "files"
    malicious = wheel(tmp_path / "mallory", "victim", "1.0", b"import os; os.system('evil')")
    genuine = wheel(tmp_path / "alice", "victim", "2.0", b"genuine")
    pause = {"TUFPI_DEBUG_UPLOAD_PAUSE_AT": f"staged:{go}"}
    with serving(data_dir, own_database_url, **pause) as server:
        alice = server.new_user("alice")
        mallory = server.new_user("mallory")
        attacker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "twine",
                "upload",
                "--non-interactive",
                "--disable-progress-bar",
                "--repository-url",
                server.url + "legacy/",
                "-u",
                "__token__",
                "-p",
                mallory,
                str(malicious),
            ],
            env=clients.clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        key = storage_key(sha256_of(malicious), malicious.name)
        try:
            # The attacker's upload has stored its bytes and waits before its transaction:
            # the moment at which the old code had them at packages/ already.
            wait_until(
                lambda: key in holdings(server.database_url, storage).staged_keys(),
                "the attacker's upload did not stage its file",
            )
            assert httpx.get(server.url + key, timeout=10).status_code == 404
            # The owner's first upload creates the project (only the first passage pauses).
            owner = clients.twine_upload(server.url, alice, [genuine])
            assert owner.returncode == 0, owner.stdout + owner.stderr
            go.touch()
            output, _ = attacker.communicate(timeout=60)
        finally:
            go.touch()
            if attacker.poll() is None:
                attacker.kill()
        assert attacker.returncode != 0
        assert "403" in output
        assert "not an owner" in output
        held = assert_consistent(server.database_url, storage, server.url)
        assert held.filenames() == {genuine.name}
        logged = events_logged(server.database_url)
        assert [e.filename for e in logged] == [genuine.name]  # type: ignore[union-attr]
        assert not any(malicious.name in k for k in held.visible + held.staged_keys())
        assert httpx.get(server.url + key, timeout=10).status_code == 404


def test_import_killed_between_commit_and_publication(
    own_database_url: str | None, tmp_path: Path
) -> None:
    """``tufpi import`` stages too: killed after a project's commit, its files are staged,
    not served; the next run's start-up sweep publishes them."""
    source = tmp_path / "source"
    wheels = {
        w.name: w for w in (wheel(source, f"imported-{n}", "1.0", os.urandom(2048)) for n in "ab")
    }
    data_dir = tmp_path / "index"
    (data_dir / "tmp").mkdir(parents=True)
    storage = data_dir / "files"
    with serving(data_dir, own_database_url) as server:
        returncode = _killed_import(server, source, "project")
        assert returncode == -signal.SIGKILL, (data_dir / "import.log").read_text()
        held = holdings(server.database_url, storage)
        # One project committed (whichever was read first) ...
        [committed] = held.filenames()
        key = storage_key(sha256_of(wheels[committed]), committed)
        assert key not in held.visible  # ... and not served yet
        assert key in held.staged_keys()
        assert httpx.get(server.url + key, timeout=10).status_code == 404
        # Its log entry committed with it; the other project's, never written, is not there.
        logged = events_logged(server.database_url)
        assert [e.path for e in logged] == [key]  # type: ignore[union-attr]

        again = server.cli("import", str(source), "--no-publish", check=False)
        assert again.returncode == 0, again.stdout + again.stderr
        held = assert_consistent(server.database_url, storage, server.url)
        assert len(held.filenames()) == 2
        logged = events_logged(server.database_url)
        assert sorted(e.path for e in logged) == sorted(held.rows)  # type: ignore[union-attr]
        assert list(storage.glob(".staging/*/scratch/*")) == []


def test_refused_upload_holds_no_file_while_it_waits(
    database_url: str | None, own_database_url: str | None, tmp_path: Path
) -> None:
    """The same race with no test hook, on PostgreSQL: the test holds the victim project's
    advisory lock, so the attacker's upload (its early check passed, its file stored) waits
    for its transaction; meanwhile the owner's project appears. Run against the code before
    issue 11, this serves the attacker's bytes (200) both while it waits and after its 403."""
    if database_url is None:
        pytest.skip("PostgreSQL's advisory locks hold the upload; see the test above for SQLite")
    assert own_database_url is not None
    data_dir = tmp_path / "index"
    (data_dir / "tmp").mkdir(parents=True)
    malicious = wheel(tmp_path / "mallory", "victim", "1.0", b"import os; os.system('evil')")
    key = storage_key(sha256_of(malicious), malicious.name)
    with serving(data_dir, own_database_url) as server:
        mallory = server.new_user("mallory")
        server.cli("user", "add", "alice", "--no-password")
        engine = create_engine(own_database_url)
        try:
            with engine.connect() as conn, ThreadPoolExecutor(1) as pool:
                with conn.begin():
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:space, hashtext('victim'))"),
                        {"space": 0x74756670},  # tufpi.index.service._PROJECT_LOCKS
                    )
                    upload = pool.submit(clients.twine_upload, server.url, mallory, [malicious])
                    wait_until(
                        lambda: conn.execute(_WAITING_ADVISORY).scalar(),
                        "the attacker's upload did not wait for the project's lock",
                    )
                    assert httpx.get(server.url + key, timeout=10).status_code == 404
                    _create_owned_project(conn, "victim", "alice")
                result = upload.result(timeout=120)
        finally:
            engine.dispose()
        assert result.returncode != 0
        assert "not an owner" in result.stdout + result.stderr
        assert httpx.get(server.url + key, timeout=10).status_code == 404
        held = assert_consistent(own_database_url, data_dir / "files", server.url)
        assert held.rows == {}
        assert not any(malicious.name in k for k in held.visible + held.staged_keys())


_WAITING_ADVISORY = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
)


def _create_owned_project(conn: Connection, name: str, owner: str) -> None:
    """What the owner's first upload commits first: the project, owned by ``owner``."""
    project_id = conn.execute(
        text(
            "INSERT INTO projects (name, normalized_name, created, serial) "
            "VALUES (:name, :name, now(), 1) RETURNING id"
        ),
        {"name": name},
    ).scalar()
    conn.execute(
        text("INSERT INTO owners (project_id, user_id) SELECT :p, id FROM users WHERE name = :o"),
        {"p": project_id, "o": owner},
    )


_TUFPI = (sys.executable, "-m", "tufpi.cli")


def _killed_import(server: IndexServer, source: Path, point: str) -> int:
    """Run ``tufpi import --debug-crash-at POINT``; returns its exit status. Its reader's
    worker processes outlive the SIGKILL (holding any pipe open): they are killed too."""
    with (server.data_dir / "import.log").open("ab") as log:
        process = subprocess.Popen(
            [*_TUFPI, "import", str(source), "--no-publish", "--debug-crash-at", point],
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            return process.wait(timeout=120)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def test_a_removal_between_an_uploads_commit_and_its_publication(
    own_database_url: str | None, tmp_path: Path
) -> None:
    """``tufpi remove`` of a file whose upload has committed but not yet published it finds
    nothing to hide; without a check on either side the upload then publishes bytes that
    no row backs, served forever. Now the upload withdraws them (or the removal deletes
    them after its commit, whichever comes last)."""
    go = tmp_path / "go"
    data_dir = tmp_path / "index"
    (data_dir / "tmp").mkdir(parents=True)
    storage = data_dir / "files"
    late = wheel(tmp_path / "dist", "raced", "1.0", os.urandom(4096))
    key = storage_key(sha256_of(late), late.name)
    pause = {"TUFPI_DEBUG_UPLOAD_PAUSE_AT": f"committed:{go}"}
    with serving(data_dir, own_database_url, **pause) as server:
        token = server.new_user("uploader")
        with ThreadPoolExecutor(1) as pool:
            upload = pool.submit(clients.twine_upload, server.url, token, [late])
            try:
                # Committed: the row exists, the file is still staged.
                wait_until(
                    lambda: key in holdings(server.database_url, storage).rows,
                    "the upload did not commit",
                )
                assert key in holdings(server.database_url, storage).staged_keys()
                server.cli("remove", "raced", "1.0", "--file", late.name, "--yes")
            finally:
                go.touch()
            result = upload.result(timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        held = assert_consistent(server.database_url, storage, server.url)
        assert held.filenames() == set()
        assert not any(late.name in k for k in held.visible + held.staged_keys())
        assert httpx.get(server.url + key, timeout=10).status_code == 404
