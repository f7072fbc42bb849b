"""The benchmark's data set: tiny but well-formed wheels and sdists, written as pypiserver
reads them (one directory) and loaded into tufpi as its upload path would have left them.

Uploading ~11,000 files through the HTTP upload API would take far longer than the
measurement, so ``load_tufpi`` writes the same state directly, with tufpi's own code: the
storage (file, consistent-snapshot alias, PEP 658 ``.metadata``), the rows (projects,
releases, files), each file's signed target (``trust.changes.set_targets``) and each project's
pages (``index.pages.store_pages``). Run ``tufpi db upgrade`` and ``tufpi trust init`` first.
"""

from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import datetime as dt
import gzip
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session

from tufpi.db import make_engine
from tufpi.db.models import File, Project, Release
from tufpi.index import pages
from tufpi.index.names import normalize
from tufpi.index.records import core_metadata_key
from tufpi.index.service import storage_key
from tufpi.storage import LocalStorage
from tufpi.trust import changes, layout

BIG = "big-project"
ACTOR = "benchmark"
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed timestamps: the same bytes, hence hashes, every run


@dataclasses.dataclass(frozen=True)
class Dist:
    """One distribution file, its core metadata and digests."""

    name: str
    version: str
    filename: str
    packagetype: str
    content: bytes
    metadata: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def key(self) -> str:
        return storage_key(self.sha256, self.filename)


def _core_metadata(name: str, version: str) -> bytes:
    return (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        f"Summary: benchmark project {name}\nRequires-Python: >=3.8\n\n"
    ).encode()


def _record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel(name: str, version: str, tag: str = "py3-none-any") -> Dist:
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = _core_metadata(name, version)
    members = {
        f"{dist}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tufpi-benchmark\n"
        + f"Root-Is-Purelib: true\nTag: {tag}\n".encode(),
    }
    record = "".join(f"{p},sha256={_record_hash(d)},{len(d)}\n" for p, d in members.items())
    members[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for path, data in members.items():
            archive.writestr(zipfile.ZipInfo(path, _ZIP_TIME), data)
    filename = f"{dist}-{version}-{tag}.whl"
    return Dist(name, version, filename, "bdist_wheel", buf.getvalue(), metadata)


def sdist(name: str, version: str) -> Dist:
    root = f"{name.replace('-', '_')}-{version}"
    metadata = _core_metadata(name, version)
    members = {f"{root}/PKG-INFO": metadata, f"{root}/setup.cfg": b"[metadata]\n"}
    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for path, data in members.items():
            member = tarfile.TarInfo(path)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return Dist(name, version, f"{root}.tar.gz", "sdist", buf.getvalue(), metadata)


def make_dataset(projects: int, big_files: int) -> list[Dist]:
    """``big-project`` with ``big_files`` files (a wheel and an sdist per version), and
    ``projects - 1`` more projects with one wheel each."""
    dists = [(wheel if i % 2 == 0 else sdist)(BIG, f"1.{i // 2}.0") for i in range(big_files)]
    dists += [wheel(f"project-{i:05d}", "1.0") for i in range(projects - 1)]
    return dists


def write_directory(dists: list[Dist], root: Path) -> None:
    """pypiserver's storage: the files in one directory."""
    root.mkdir(parents=True)
    for d in dists:
        (root / d.filename).write_bytes(d.content)


class _ParallelWrites:
    """LocalStorage whose ``put_bytes`` runs in a thread pool: it fsyncs every file, and
    ~40,000 fsyncs one after the other would take minutes. ``wait`` before using the files."""

    def __init__(self, store: LocalStorage, pool: concurrent.futures.ThreadPoolExecutor) -> None:
        self._store = store
        self._pool = pool
        self._pending: list[concurrent.futures.Future[None]] = []

    def put_bytes(self, key: str, data: bytes) -> None:
        self._pending.append(self._pool.submit(self._store.put_bytes, key, data))

    def put_file(self, key: str, source: BinaryIO) -> None:
        self.put_bytes(key, source.read())

    def stage(self, key: str, content: bytes | Path) -> None:
        """What ``pages.store_pages`` calls (``StagedWrites.stage``): written at once, in
        the pool; the loader publishes nothing before ``wait``."""
        self.put_bytes(key, content if isinstance(content, bytes) else content.read_bytes())

    def link(self, source: str, alias: str) -> None:
        self.wait()
        self._store.link(source, alias)

    def exists(self, key: str) -> bool:
        self.wait()
        return self._store.exists(key)

    def local_path(self, key: str) -> Path | None:
        return self._store.local_path(key)

    def open(self, key: str) -> BinaryIO:
        self.wait()
        return self._store.open(key)

    def delete(self, key: str) -> None:
        self.wait()
        self._store.delete(key)

    def keys(self, prefix: str = "") -> Iterator[str]:
        self.wait()
        return self._store.keys(prefix)

    def wait(self) -> None:
        for future in self._pending:
            future.result()
        self._pending.clear()


def _write_storage(dists: list[Dist], store: _ParallelWrites) -> None:
    """What ``IndexService._store_dist`` writes for each upload."""
    for d in dists:
        store.put_bytes(d.key, d.content)
        store.put_bytes(core_metadata_key(d.key), d.metadata)
    store.wait()
    for d in dists:
        store.link(d.key, layout.consistent_path(d.key, d.sha256))


def _file_row(d: Dist, project_id: int, release_id: int, now: dt.datetime) -> dict[str, object]:
    return {
        "release_id": release_id,
        "project_id": project_id,
        "filename": d.filename,
        "path": d.key,
        "packagetype": d.packagetype,
        "python_version": "py3" if d.packagetype == "bdist_wheel" else "source",
        "requires_python": ">=3.8",
        "size": len(d.content),
        "sha256": d.sha256,
        "sha512": hashlib.sha512(d.content).hexdigest(),
        "blake2_256": hashlib.blake2b(d.content, digest_size=32).hexdigest(),
        "md5": hashlib.md5(d.content, usedforsecurity=False).hexdigest(),
        "metadata_sha256": hashlib.sha256(d.metadata).hexdigest(),
        "metadata_size": len(d.metadata),
        "upload_time": now,
        "uploader_id": None,
    }


def _insert_rows(session: Session, dists: list[Dist], now: dt.datetime) -> dict[str, int]:
    """Projects, releases and files; returns the project ids by normalized name."""
    files_per_project: dict[str, int] = {}
    for d in dists:
        files_per_project[d.name] = files_per_project.get(d.name, 0) + 1
    session.execute(
        insert(Project),
        [
            # serial: one bump per uploaded file, as the upload API does
            {"name": n, "normalized_name": normalize(n), "created": now, "serial": 1 + count}
            for n, count in files_per_project.items()
        ],
    )
    project_ids = dict(session.execute(select(Project.normalized_name, Project.id)).all())
    releases = dict.fromkeys((normalize(d.name), d.version) for d in dists)
    release_rows = [
        {
            "project_id": project_ids[n],
            "version": v,
            "canonical_version": v,
            "created": now,
            "requires_python": ">=3.8",
            "core_metadata": {"name": n, "version": v, "summary": f"benchmark project {n}"},
            "description": "",
            "yanked": False,
        }
        for n, v in releases
    ]
    session.execute(insert(Release), release_rows)
    query = select(Release.project_id, Release.version, Release.id)
    release_ids = {(p, v): r for p, v, r in session.execute(query)}
    file_rows = []
    for d in dists:
        project_id = project_ids[normalize(d.name)]
        file_rows.append(_file_row(d, project_id, release_ids[(project_id, d.version)], now))
    session.execute(insert(File), file_rows)
    return project_ids


def _analyze(engine: Engine) -> None:
    """Fresh planner statistics, so that autovacuum does not start during the measurement."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def load_tufpi(dists: list[Dist], database_url: str, storage_dir: Path) -> None:
    """Leave the database and storage as uploading every file would have.

    The schema and the signed metadata must exist (``tufpi db upgrade``, ``tufpi trust
    init``); the targets and pages recorded here are pending until the signer publishes them.
    """
    now = dt.datetime.now(dt.UTC)
    engine = make_engine(database_url)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        store = _ParallelWrites(LocalStorage(storage_dir), pool)
        _write_storage(dists, store)
        with Session(engine) as session, session.begin(), session.no_autoflush:
            # One flush at the end instead of one per target: every path is new, and the
            # pages read only rows inserted (and so visible) already.
            project_ids = _insert_rows(session, dists, now)
            by_project: dict[str, list[changes.TargetFile]] = {}
            for d in dists:
                sha512 = hashlib.sha512(d.content).hexdigest()
                target = changes.TargetFile(d.key, len(d.content), d.sha256, sha512)
                by_project.setdefault(normalize(d.name), []).append(target)
            for name, targets in by_project.items():
                changes.set_targets(
                    session,
                    targets,
                    project_id=project_ids[name],
                    project=name,
                    actor=ACTOR,
                    now=now,
                )
            for project in session.scalars(select(Project)).all():
                pages.store_pages(session, store, project, ACTOR, now)
            store.wait()  # the pages are in storage before their targets commit
    _analyze(engine)
    engine.dispose()


def pending_changes(database_url: str) -> int:
    """Target changes the signer has not published yet."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            count = conn.execute(
                text("SELECT count(*) FROM target_changes WHERE published_version IS NULL")
            ).scalar()
    finally:
        engine.dispose()
    return int(count or 0)
