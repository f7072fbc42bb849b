"""``tufpi import`` end to end: a pypiserver directory, a bandersnatch mirror and running
indexes brought into tufpi, then installed from through the verifying proxy; an interrupted
import resumed gives what one clean run gives."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from benchmarks.simple_data import wheel
from tests.support import clients
from tests.support.dists import make_dists
from tests.support.importing import (
    Mirror,
    add_files,
    broken_files,
    fresh_index,
    index_rows,
    published_targets,
    pypiserver,
    run_import,
    skip_reasons,
    storage_keys,
    tiny_dists,
    write_directory,
    write_mirror,
)
from tests.support.logged import events_logged
from tests.support.proxy import proxy
from tests.support.server import IndexServer
from tests.support.state import counts, query
from tests.support.tuf_client import first_root, updater, wait_for_target
from tufpi.tlog.entries import FileAdded

# Without the in-process signer: the import holds the election and publishes itself.
NO_SIGNER = {"signer": "false"}
OWNER = "importer"


@dataclass(frozen=True)
class Sources:
    directory: Path
    good: int  # distributions the directory holds
    projects: int
    broken: dict[str, str]  # filename -> expected reason
    mirror: Mirror
    mirror_good: int


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Sources:
    """A directory of 25 projects (200 tiny files, 2 built ones with a dependency, broken
    files) and a mirror of 15 more projects (90 files, some broken)."""
    root = tmp_path_factory.mktemp("sources")
    built = make_dists(root, "imp-lib", "1.0") + make_dists(
        root, "imp-app", "0.1", dependencies=["imp-lib>=1.0"]
    )
    dists = tiny_dists("imp", 24, 4)
    broken = broken_files("imp")
    directory = root / "pypiserver"
    write_directory(directory, dists, broken)
    add_files(directory / "built", built)
    mirror_dists = tiny_dists("mir", 15, 3)
    mirror = write_mirror(root / "bandersnatch", mirror_dists, "mir")
    return Sources(
        directory=directory,
        good=len(dists) + len(built),
        projects=24 + 2,
        broken={name: reason for name, (_content, reason) in broken.items()},
        mirror=mirror,
        mirror_good=len(mirror_dists) - 2,
    )


@dataclass(frozen=True)
class Imported:
    server: IndexServer
    summary: Any


@pytest.fixture(scope="module")
def imported(
    database_url: str | None, tmp_path_factory: pytest.TempPathFactory, sources: Sources
) -> Iterator[Imported]:
    """The directory imported in one clean run into an index without a signer of its own."""
    with fresh_index(database_url, tmp_path_factory.mktemp("clean"), **NO_SIGNER) as srv:
        srv.cli("user", "add", OWNER, "--no-password")
        result, summary = run_import(srv, str(sources.directory), "--owner", OWNER)
        assert result.returncode == 0, result.stdout + result.stderr
        yield Imported(srv, summary)


def test_directory_import(imported: Imported, sources: Sources) -> None:
    summary = imported.summary
    assert summary["imported"] == sources.good
    assert summary["already_present"] == 0
    assert summary["projects_created"] == sources.projects
    assert skip_reasons(summary) == sources.broken
    # One signed batch: every file and both pages of every project, in snapshot 2 (the
    # first after `trust init`).
    published = summary["published"]
    assert published["published"] is True
    assert published["changes"] == sources.good + 2 * sources.projects
    assert published["snapshot_version"] == 2
    targets = published_targets(imported.server)
    assert len(targets) == sources.good + 2 * sources.projects
    rows = index_rows(imported.server.database_url)
    assert len(rows["files"]) == sources.good
    assert {r[2] for r in rows["files"]} >= {"imp_lib-1.0.tar.gz", "imp_app-0.1-py3-none-any.whl"}
    # As an upload: the file rows' paths are targets, with their .metadata stored.
    keys = set(storage_keys(imported.server))
    for row in rows["files"]:
        assert row[3] in targets
        assert row[3] + ".metadata" in keys
    # The log holds one file entry per file, via import, with the account --owner names (its
    # files from now on; no token: none was used), and so does the journal (issue 16).
    logged = events_logged(imported.server.database_url)
    assert all(isinstance(e, FileAdded) and e.via == "import" for e in logged)
    assert sorted((e.path, e.sha256, str(e.size), e.account, e.token) for e in logged) == sorted(
        (r[3], r[8], r[7], OWNER, None) for r in rows["files"]
    )
    journal = "SELECT project, action, account, via, detail FROM journal"
    assert sorted(query(imported.server.database_url, journal)) == sorted(
        (r[0], "file added", OWNER, "server", f"imported {r[2]}") for r in rows["files"]
    )


def test_rerun_imports_nothing_again(imported: Imported, sources: Sources) -> None:
    before = counts(imported.server)
    result, summary = run_import(imported.server, str(sources.directory))
    assert result.returncode == 0, result.stderr
    assert summary["imported"] == 0
    assert summary["already_present"] == sources.good
    assert summary["published"]["published"] is False
    assert counts(imported.server) == before
    assert len(events_logged(imported.server.database_url)) == sources.good


def test_pip_installs_through_the_proxy(imported: Imported, tmp_path: Path) -> None:
    root = tmp_path / "1.root.json"
    root.write_bytes(first_root(imported.server))
    with proxy(imported.server.url, tmp_path / "cache", "--root", str(root)) as simple:
        result = clients.pip_install(simple, tmp_path / "app", "imp-app")
        assert result.returncode == 0, result.stdout + result.stderr
        installed = {p.name for p in (tmp_path / "app").glob("*.dist-info")}
        assert installed == {"imp_app-0.1.dist-info", "imp_lib-1.0.dist-info"}
        result = clients.pip_install(simple, tmp_path / "tiny", "imp-007==1.2")
        assert result.returncode == 0, result.stdout + result.stderr
        assert (tmp_path / "tiny" / "imp_007-1.2.dist-info").is_dir()


def test_ngclient_verifies_an_imported_file(imported: Imported, tmp_path: Path) -> None:
    dist = wheel("imp-013", "1.3")
    rows = index_rows(imported.server.database_url)
    path = next(r[3] for r in rows["files"] if r[2] == dist.filename)
    client = updater(imported.server, tmp_path)
    client.refresh()
    info = client.get_targetinfo(path)
    assert info is not None
    assert info.hashes["sha256"] == dist.sha256
    downloaded = client.download_target(info, str(tmp_path / "file.whl"))
    assert Path(downloaded).read_bytes() == dist.content


def test_mirror_import(
    database_url: str | None, tmp_path: Path, sources: Sources, imported: Imported
) -> None:
    with fresh_index(database_url, tmp_path / "index", **NO_SIGNER) as srv:
        result, summary = run_import(srv, str(sources.mirror.root))
        assert result.returncode == 0, result.stdout + result.stderr
        assert summary["imported"] == sources.mirror_good
        assert skip_reasons(summary) == sources.mirror.expected_skips
        assert len(published_targets(srv)) == sources.mirror_good + 2 * 15
        # A second source with a file of the same name and other content: a conflict; the
        # new file beside it goes in.
        extra = tmp_path / "extra"
        extra.mkdir()
        clash = wheel("mir-001", "1.1")
        (extra / clash.filename).write_bytes(clash.content + b"\0")
        new = wheel("mir-001", "7.0")
        (extra / new.filename).write_bytes(new.content)
        result, summary = run_import(srv, str(extra), "--kind", "dir")
        assert result.returncode == 0, result.stderr
        assert summary["imported"] == 1
        assert skip_reasons(summary) == {clash.filename: "conflict"}
        assert summary["projects_updated"] == 1


def test_url_import_from_tufpi_is_the_same_index(
    database_url: str | None, tmp_path: Path, imported: Imported
) -> None:
    """PEP 691 JSON with PEP 700 upload times: the copy equals the original, row for row."""
    with fresh_index(database_url, tmp_path / "copy", **NO_SIGNER) as srv:
        result, summary = run_import(srv, imported.server.simple)
        assert result.returncode == 0, result.stdout + result.stderr
        assert summary["imported"] == imported.summary["imported"]
        assert summary["skipped"] == []
        assert index_rows(srv.database_url) == index_rows(imported.server.database_url)
        assert storage_keys(srv) == storage_keys(imported.server)
        # Again: nothing is downloaded, the listed sha256 says it is there already.
        result, summary = run_import(srv, imported.server.simple)
        assert summary["already_present"] == imported.summary["imported"]
        assert summary["imported"] == 0


def test_url_import_from_pypiserver(
    database_url: str | None, tmp_path: Path, sources: Sources, imported: Imported
) -> None:
    """PEP 503 HTML with #sha256= fragments."""
    with (
        pypiserver(sources.directory) as url,
        fresh_index(database_url, tmp_path / "from-pypiserver", **NO_SIGNER) as srv,
    ):
        result, summary = run_import(srv, url)
        assert result.returncode == 0, result.stdout + result.stderr
        assert summary["imported"] == sources.good
        files = {r[2:4] for r in index_rows(srv.database_url)["files"]}
        assert files == {r[2:4] for r in index_rows(imported.server.database_url)["files"]}
        # pypiserver lists what it can name a project for; those files are read and refused.
        reasons = skip_reasons(summary)
        for name in (
            "imp_corrupt-1.0-py3-none-any.whl",
            "imp_nometa-1.0-py3-none-any.whl",
            "imp_wrongver-1.0-py3-none-any.whl",
        ):
            assert reasons[name] == sources.broken[name]


def test_interrupted_import_equals_a_clean_one(
    database_url: str | None, tmp_path: Path, sources: Sources, imported: Imported
) -> None:
    with fresh_index(database_url, tmp_path / "resumed", **NO_SIGNER) as srv:
        # Killed with the 7th project's files stored but not committed, then killed while
        # signing; the third run finishes the job.
        for point in ("stored:7", "bins"):
            result, _ = run_import(srv, str(sources.directory), "--debug-crash-at", point)
            assert result.returncode == -signal.SIGKILL, result.stdout + result.stderr
        partial = index_rows(srv.database_url)
        assert len(partial["files"]) == sources.good
        assert published_targets(srv) == {}
        result, summary = run_import(srv, str(sources.directory))
        assert result.returncode == 0, result.stdout + result.stderr
        assert summary["imported"] == 0
        assert summary["published"]["changes"] == sources.good + 2 * sources.projects
        assert index_rows(srv.database_url) == index_rows(imported.server.database_url)
        assert storage_keys(srv) == storage_keys(imported.server)
        assert published_targets(srv) == published_targets(imported.server)


def test_an_active_signer_is_waited_for_then_refused(
    database_url: str | None, tmp_path: Path
) -> None:
    source = tmp_path / "few"
    source.mkdir()
    dist = wheel("signer-busy", "1.0")
    (source / dist.filename).write_bytes(dist.content)
    with fresh_index(database_url, tmp_path / "busy") as srv:  # signs in-process
        result, summary = run_import(srv, str(source), "--wait", "1")
        assert result.returncode == 1
        assert "another signer" in result.stderr
        assert "--no-publish" in result.stderr
        assert summary is None
        assert index_rows(srv.database_url)["files"] == []
        result, summary = run_import(srv, str(source), "--no-publish")
        assert result.returncode == 0, result.stdout + result.stderr
        assert summary["imported"] == 1
        assert summary["published"] is None
        key = f"packages/{dist.sha256[:2]}/{dist.sha256[2:4]}/{dist.sha256[4:]}/{dist.filename}"
        wait_for_target(srv, tmp_path, key, dist.sha256)


def test_an_import_leaves_what_uploads_leave(
    database_url: str | None, tmp_path: Path, sources: Sources
) -> None:
    """The same files uploaded with twine into one index and imported into another: the
    same rows, stored files and targets, but for the times and the uploader."""
    built = sorted((sources.directory / "built").iterdir())
    with (
        fresh_index(database_url, tmp_path / "uploaded", **NO_SIGNER) as uploaded,
        fresh_index(database_url, tmp_path / "imported", **NO_SIGNER) as imported,
    ):
        token = uploaded.new_user("uploader")
        result = clients.twine_upload(uploaded.url, token, built)
        assert result.returncode == 0, result.stdout + result.stderr
        result, summary = run_import(imported, str(sources.directory / "built"))
        assert result.returncode == 0, result.stdout + result.stderr
        assert summary["imported"] == len(built) == 4
        ours, theirs = index_rows(imported.database_url), index_rows(uploaded.database_url)
    timeless = {
        "projects": lambda r: (r[0], r[1], r[3]),  # not created
        "releases": lambda r: r[:3] + r[4:],  # not created
        "files": lambda r: r[:14],  # not upload_time, uploader_id
        "core_metadata": lambda r: r,
    }
    for table, keep in timeless.items():
        assert [keep(r) for r in ours[table]] == [keep(r) for r in theirs[table]], table
    file_targets = [r for r in ours["targets"] if r[0].startswith("packages/")]
    assert file_targets == [r for r in theirs["targets"] if r[0].startswith("packages/")]
    assert len(file_targets) == 4


def test_the_owner_uploads_to_an_imported_project(imported: Imported, tmp_path: Path) -> None:
    """Last in this module: it changes the clean import the tests above compare with."""
    srv = imported.server
    token = srv.cli("token", "create", "--user", OWNER).stdout.strip()
    stranger = srv.new_user("stranger")
    dists = make_dists(tmp_path, "imp-lib", "2.0")
    refused = clients.twine_upload(srv.url, stranger, dists)
    assert refused.returncode != 0
    assert "not an owner" in refused.stdout + refused.stderr
    result = clients.twine_upload(srv.url, token, dists)
    assert result.returncode == 0, result.stdout + result.stderr
    files = {r[2] for r in index_rows(srv.database_url)["files"] if r[0] == "imp-lib"}
    assert files == {
        "imp_lib-1.0.tar.gz",
        "imp_lib-1.0-py3-none-any.whl",
        "imp_lib-2.0.tar.gz",
        "imp_lib-2.0-py3-none-any.whl",
    }
