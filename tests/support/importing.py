"""Sources for ``tufpi import`` tests (a pypiserver directory, a bandersnatch mirror, a
running pypiserver) and what an import leaves, read straight from the database and storage."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tuf.api.metadata import Metadata

from benchmarks.simple_data import Dist, sdist, wheel
from tests.support.clients import clean_env
from tests.support.server import (
    IndexServer,
    free_port,
    postgres_database,
    start,
    wait_until_serving,
)
from tests.support.state import query


def tiny_dists(prefix: str, projects: int, versions: int) -> list[Dist]:
    """A wheel and an sdist of each version of each project, a few hundred bytes each."""
    return [
        make(f"{prefix}-{p:03d}", f"1.{v}")
        for p in range(projects)
        for v in range(versions)
        for make in (wheel, sdist)
    ]


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def broken_files(prefix: str) -> dict[str, tuple[bytes, str]]:
    """filename -> (content, the skip reason ``tufpi import`` must give)."""
    good = wheel(f"{prefix}-good", "1.0").content
    info = f"{prefix.replace('-', '_')}_nometa-1.0.dist-info"
    other_version = wheel(f"{prefix}-wrongver", "9.9")
    return {
        "README.txt": (b"not a distribution\n", "not a distribution"),
        f"{prefix}-old-1.0.egg": (b"an egg", "not a distribution"),
        "no-version-here.whl": (good, "unparseable filename"),
        f"{prefix}-weird name-1.0.tar.gz": (b"x", "unparseable filename"),
        f"{prefix}_corrupt-1.0-py3-none-any.whl": (b"PK\x03\x04 not really", "corrupt archive"),
        f"{prefix}_truncated-1.0-py3-none-any.whl": (good[: len(good) // 2], "corrupt archive"),
        f"{prefix}_garbage-1.0.tar.gz": (b"\x1f\x8b garbage", "corrupt archive"),
        f"{prefix}_nometa-1.0-py3-none-any.whl": (
            _zip({f"{info}/WHEEL": b"Wheel-Version: 1.0\n"}),
            "missing metadata",
        ),
        # The metadata says 9.9; the filename says 1.0.
        f"{prefix.replace('-', '_')}_wrongver-1.0-py3-none-any.whl": (
            other_version.content,
            "invalid metadata",
        ),
    }


def write_directory(root: Path, dists: list[Dist], broken: dict[str, tuple[bytes, str]]) -> None:
    """pypiserver's layout: files anywhere below ``root`` (here spread over subdirectories)."""
    for i, d in enumerate(dists):
        where = root / f"shelf-{i % 3}" if i % 2 else root
        where.mkdir(parents=True, exist_ok=True)
        (where / d.filename).write_bytes(d.content)
    for name, (content, _reason) in broken.items():
        (root / name).write_bytes(content)


def add_files(root: Path, paths: list[Path]) -> None:
    """Copy built distributions into a directory source, keeping their modification time."""
    root.mkdir(parents=True, exist_ok=True)
    for p in paths:
        target = root / p.name
        target.write_bytes(p.read_bytes())
        os.utime(target, (p.stat().st_atime, p.stat().st_mtime))


@dataclasses.dataclass(frozen=True)
class Mirror:
    root: Path
    expected_skips: dict[str, str]  # filename -> reason


def write_mirror(root: Path, dists: list[Dist], prefix: str) -> Mirror:
    """bandersnatch's layout: ``web/simple/<project>/index.html`` linking to
    ``../../packages/aa/bb/<rest>/<file>#sha256=...``; some entries are broken."""
    web = root / "web"
    by_project: dict[str, list[tuple[str, str]]] = {}  # project -> [(href, filename)]
    for d in dists:
        rel = f"packages/{d.sha256[:2]}/{d.sha256[2:4]}/{d.sha256[4:]}/{d.filename}"
        (web / rel).parent.mkdir(parents=True, exist_ok=True)
        (web / rel).write_bytes(d.content)
        by_project.setdefault(d.name, []).append((f"../../{rel}#sha256={d.sha256}", d.filename))
    skips: dict[str, str] = {}
    # Hash mismatch: the stored file is not what the page vouches for.
    for victim in (dists[0], dists[5]):
        rel = f"packages/{victim.sha256[:2]}/{victim.sha256[2:4]}/{victim.sha256[4:]}"
        (web / rel / victim.filename).write_bytes(victim.content + b"tampered")
        skips[victim.filename] = "hash mismatch"
    first = dists[0].name
    extra = [
        ("../../packages/00/00/missing/ghost-1.0.tar.gz#sha256=00", "ghost-1.0.tar.gz"),
        ("../../../../etc/passwd", "passwd"),
    ]
    other = wheel("somebody-else", "1.0")
    rel = f"packages/{other.sha256[:2]}/{other.sha256[2:4]}/{other.sha256[4:]}/{other.filename}"
    (web / rel).parent.mkdir(parents=True, exist_ok=True)
    (web / rel).write_bytes(other.content)
    extra.append((f"../../{rel}#sha256={other.sha256}", other.filename))
    by_project[first] += extra
    skips.update(
        {
            "ghost-1.0.tar.gz": "unreadable",
            "passwd": "unreadable",
            other.filename: "listed under another project",
        }
    )
    for project, links in by_project.items():
        page = web / "simple" / project / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        anchors = "\n".join(f'<a href="{href}">{name}</a><br/>' for href, name in links)
        page.write_text(f"<!DOCTYPE html><html><body>\n{anchors}\n</body></html>\n")
    names = "\n".join(f'<a href="{p}/">{p}</a>' for p in sorted(by_project))
    (web / "simple" / "index.html").write_text(f"<html><body>{names}</body></html>")
    return Mirror(root, skips)


def run_import(server: IndexServer, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    """``tufpi import ARGS --report FILE`` against ``server``'s index; (process, report)."""
    report = server.data_dir / f"report-{time.monotonic_ns()}.json"
    result = server.cli("import", *args, "--report", str(report), check=False)
    summary = json.loads(report.read_text()) if report.exists() else None
    return result, summary


def skip_reasons(summary: Any) -> dict[str, str]:
    """filename -> reason of every skipped file of a report."""
    return {Path(s["location"]).name: s["reason"] for s in summary["skipped"]}


def index_rows(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Projects, releases, files and targets, ids replaced by what they point to."""
    queries = {
        "projects": "SELECT name, normalized_name, created, serial FROM projects",
        "releases": "SELECT p.normalized_name, r.version, r.canonical_version, r.created, "
        "r.requires_python, r.description, r.yanked FROM releases r "
        "JOIN projects p ON p.id = r.project_id",
        "files": "SELECT p.normalized_name, r.version, f.filename, f.path, f.packagetype, "
        "f.python_version, f.requires_python, f.size, f.sha256, f.sha512, f.blake2_256, "
        "f.md5, f.metadata_sha256, f.metadata_size, f.upload_time, f.uploader_id FROM files f "
        "JOIN releases r ON r.id = f.release_id JOIN projects p ON p.id = f.project_id",
        "targets": "SELECT t.path, t.bin, t.length, t.sha256, t.sha512, p.normalized_name "
        "FROM targets t LEFT JOIN projects p ON p.id = t.project_id",
        "core_metadata": "SELECT p.normalized_name, r.version, r.core_metadata FROM releases r "
        "JOIN projects p ON p.id = r.project_id",
    }
    return {
        name: sorted(tuple(_comparable(v) for v in row) for row in query(database_url, q))
        for name, q in queries.items()
    }


def _comparable(value: Any) -> str:
    # JSON columns: SQLite hands back text, PostgreSQL objects; packaging's key order varies.
    if isinstance(value, str) and value.startswith("{"):
        value = json.loads(value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def storage_keys(server: IndexServer) -> list[str]:
    """Every stored distribution, .metadata and page (not tuf/, the signer's own)."""
    files = server.data_dir / "files"
    return sorted(
        p.relative_to(files).as_posix()
        for top in ("packages", "simple")
        for p in (files / top).rglob("*")
        if p.is_file()
    )


def published_targets(server: IndexServer) -> dict[str, tuple[int, str]]:
    """path -> (length, sha256) of every target of the published bins, read from storage by
    way of timestamp.json and the snapshot it names."""
    tuf = server.data_dir / "files" / "tuf"
    timestamp = Metadata.from_bytes((tuf / "timestamp.json").read_bytes())
    version = timestamp.signed.snapshot_meta.version
    snapshot = Metadata.from_bytes((tuf / f"{version}.snapshot.json").read_bytes())
    found: dict[str, tuple[int, str]] = {}
    for name, meta in snapshot.signed.meta.items():
        if not name.startswith("bin-"):
            continue
        role = Metadata.from_bytes((tuf / f"{meta.version}.{name}").read_bytes())
        for path, target in role.signed.targets.items():
            found[path] = (target.length, target.hashes["sha256"])
    return found


@contextlib.contextmanager
def pypiserver(packages: Path) -> Iterator[str]:
    """``pypi-server run`` on ``packages``; yields its simple URL."""
    port = free_port()
    log = (packages.parent / "pypiserver.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pypiserver",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            # The directory cache (watchdog) hangs under concurrent first requests.
            "--backend",
            "simple-dir",
            "--disable-fallback",
            str(packages),
        ],
        env=clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/simple/"
    try:
        wait_until_serving(process, url, "pypi-server")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def fresh_index(database_url: str | None, data_dir: Path, **settings: str) -> Iterator[IndexServer]:
    """A running index with a database of its own (on PostgreSQL when ``database_url`` is)."""
    with contextlib.ExitStack() as stack:
        own_url = None
        if database_url is not None:
            own_url = stack.enter_context(postgres_database())
        srv = start(data_dir, own_url, **settings)
        stack.callback(srv.stop)
        yield srv
