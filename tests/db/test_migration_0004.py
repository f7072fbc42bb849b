"""Migration 0004 on a database holding what the old rules let in: twin releases (1.0 and
1.0.0), duplicated sdists and wheels, a local version, and filenames of removed files.

It merges the twins, flags the rest in its report, and fills the filename registry from the
files and the transaction log, while no file, target or logged change is altered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from tests.support.clients import clean_env
from tufpi.db import make_engine, upgrade
from tufpi.db.migrate import alembic_config
from tufpi.index.errors import InvalidUpload
from tufpi.index.names import parse_dist_filename
from tufpi.index.records import used_filenames
from tufpi.index.rules import check_unused, normalize_filename

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# release id, version, yanked, reason
RELEASES = [
    (1, "1.0", False, None),
    (2, "1.0.0", True, "broken build"),
    (3, "2.0+hotfix", False, None),
    (4, "4.0", False, None),
]
# file id, release id, filename
FILES = [
    (1, 1, "twins-1.0-py3-none-any.whl"),
    (2, 1, "twins-1.0.tar.gz"),
    (3, 2, "twins-1.0.0-py3-none-any.whl"),
    (4, 2, "Twins-1.0.0.tar.gz"),
    (5, 3, "twins-2.0+hotfix-py3-none-any.whl"),
    (6, 4, "twins-4.0-py2-none-any.whl"),
]
REMOVED = ["twins-0.9.tar.gz", "gone-1.0-py3-none-any.whl"]


def _sha(text_: str) -> str:
    return hashlib.sha256(text_.encode()).hexdigest()


def _path(filename: str) -> str:
    sha = _sha(filename)
    return f"packages/{sha[:2]}/{sha[2:4]}/{sha[4:]}/{filename}"


def _insert(conn: Any, table: str, row: dict[str, Any]) -> None:
    columns = ", ".join(row)
    values = ", ".join(f":{k}" for k in row)
    conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), row)


def _file(file_id: int, release_id: int, filename: str) -> dict[str, Any]:
    return {
        "id": file_id,
        "release_id": release_id,
        "project_id": 1,
        "filename": filename,
        "path": _path(filename),
        "packagetype": "bdist_wheel" if filename.endswith(".whl") else "sdist",
        "python_version": "py3",
        "size": 10,
        "sha256": _sha(filename),
        "sha512": "0" * 128,
        "blake2_256": "0" * 64,
        "md5": "0" * 32,
        "upload_time": T0 + dt.timedelta(minutes=file_id),
    }


def _change(change_id: int, filename: str, action: str, project: str) -> dict[str, Any]:
    return {
        "id": change_id,
        "path": _path(filename),
        "bin": 0,
        "action": action,
        "actor": "alice",
        "project": project,
        "created": T0 + dt.timedelta(minutes=change_id),
    }


def _fill_0003(engine: Engine) -> None:
    """What the old rules accepted, written as rows of schema 0003."""
    with engine.begin() as conn:
        _insert(conn, "projects", {"id": 1, "name": "Twins", "normalized_name": "twins",
                                   "created": T0, "serial": 9})  # fmt: skip
        for release_id, version, yanked, reason in RELEASES:
            row = {"id": release_id, "project_id": 1, "version": version,
                   "canonical_version": version, "created": T0 + dt.timedelta(hours=release_id),
                   "core_metadata": "{}", "yanked": yanked, "yanked_reason": reason}  # fmt: skip
            _insert(conn, "releases", row)
        for file_id, release_id, filename in FILES:
            _insert(conn, "files", _file(file_id, release_id, filename))
            target = {"path": _path(filename), "bin": 0, "length": 10,
                      "sha256": _sha(filename), "sha512": "0" * 128, "project_id": 1}  # fmt: skip
            _insert(conn, "targets", target)
            _insert(conn, "target_changes", _change(file_id, filename, "add", "twins"))
        for n, (filename, project) in enumerate(zip(REMOVED, ("twins", "gone"), strict=True)):
            _insert(conn, "target_changes", _change(10 + 2 * n, filename, "add", project))
            _insert(conn, "target_changes", _change(11 + 2 * n, filename, "remove", project))


def _rows(engine: Engine, query: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(query))]


def test_twins_are_merged_flagged_and_registered_with_nothing_published_changed(
    empty_engine: Engine,
) -> None:
    upgrade(empty_engine, "0003")
    _fill_0003(empty_engine)
    # The old rules: 1.0 and 1.0.0 are two releases of one project.
    assert (
        len(_rows(empty_engine, "SELECT id FROM releases WHERE canonical_version LIKE '1.0%'")) == 2
    )
    files_before = _rows(empty_engine, "SELECT id, filename, path, sha256 FROM files ORDER BY id")
    targets_before = _rows(empty_engine, "SELECT * FROM targets ORDER BY path")
    log_before = _rows(empty_engine, "SELECT * FROM target_changes ORDER BY id")

    report: list[str] = []
    upgrade(empty_engine, report=report.append)

    releases = _rows(
        empty_engine,
        "SELECT id, version, canonical_version, yanked, yanked_reason FROM releases ORDER BY id",
    )
    assert releases == [
        (1, "1.0", "1", True, "broken build"),  # the yank of 1.0.0 now covers all of 1.0
        (3, "2.0+hotfix", "2+hotfix", False, None),
        (4, "4.0", "4", False, None),
    ]
    assert _rows(empty_engine, "SELECT id, release_id FROM files ORDER BY id") == [
        (file_id, 1 if release_id in (1, 2) else release_id) for file_id, release_id, _ in FILES
    ]
    # Nothing published changed: every file, target and logged change is as it was.
    assert _rows(empty_engine, "SELECT id, filename, path, sha256 FROM files ORDER BY id") == (
        files_before
    )
    assert _rows(empty_engine, "SELECT * FROM targets ORDER BY path") == targets_before
    assert _rows(empty_engine, "SELECT * FROM target_changes ORDER BY id") == log_before

    registry = _rows(empty_engine, "SELECT filename, normalized, project FROM filename_registry")
    expected = [f for _, _, f in FILES] + REMOVED
    assert sorted(registry) == sorted(
        (f, normalize_filename(f), "gone" if f.startswith("gone") else "twins") for f in expected
    )

    shown = "\n".join(report)
    assert "project twins: merged releases 1.0, 1.0.0 (one canonical version) into 1.0" in shown
    assert "yanked, as 1.0.0 was" in shown
    assert "release 2.0+hotfix has a local version" in shown
    assert "2 files are sdists of one release (twins-1.0.tar.gz, Twins-1.0.0.tar.gz)" in shown
    assert "2 files are one wheel (twins-1.0-py3-none-any.whl, twins-1.0.0-py3-" in shown
    assert len(report) == 4


@pytest.mark.parametrize(
    ("filename", "sha_of", "refusal"),
    [
        ("twins-0.9.tar.gz", "other bytes", "was used before"),  # removed from the log
        ("gone-1.0-py3-none-any.whl", "gone-1.0-py3-none-any.whl", "was used before"),
        ("twins-1.00-py3-none-any.whl", "other bytes", "same wheel as"),
        ("twins-1.0.0.zip", "other bytes", "already has an sdist"),
    ],
)
def test_after_the_migration_used_names_are_refused(
    empty_engine: Engine, filename: str, sha_of: str, refusal: str
) -> None:
    upgrade(empty_engine, "0003")
    _fill_0003(empty_engine)
    upgrade(empty_engine)
    dist = parse_dist_filename(filename)
    with Session(empty_engine) as session:
        used = used_filenames(session, [normalize_filename(filename)])
        with pytest.raises(InvalidUpload, match=refusal):
            check_unused(dist, _sha(sha_of), used)
        # The very file still present stays a no-op, twins beside it or not.
        present = parse_dist_filename("twins-1.0.tar.gz")
        same = used_filenames(session, [normalize_filename("twins-1.0.tar.gz")])
        assert check_unused(present, _sha("twins-1.0.tar.gz"), same) is True


def test_downgrade_restores_the_old_keys(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0003")
    _fill_0003(empty_engine)
    upgrade(empty_engine)

    command.downgrade(alembic_config(empty_engine), "0003")
    assert _rows(empty_engine, "SELECT version, canonical_version FROM releases ORDER BY id") == [
        ("1.0", "1.0"),
        ("2.0+hotfix", "2.0+hotfix"),
        ("4.0", "4.0"),
    ]


def test_tufpi_db_upgrade_prints_the_report(tmp_path: Path) -> None:
    database = tmp_path / "old.sqlite3"
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine, "0003")
    _fill_0003(engine)
    engine.dispose()
    env = clean_env(TUFPI_DATABASE_URL=f"sqlite:///{database}", TUFPI_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "tufpi.cli", "db", "upgrade"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "database is up to date" in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 4
    assert all(line.startswith("migration: project twins: ") for line in lines)
    assert "migration: project twins: merged releases 1.0, 1.0.0" in result.stderr
