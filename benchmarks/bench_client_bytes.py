"""Benchmark the signed metadata a verifying client downloads for one install, at PEP 458's
2019 scale (16,384 bins, 2,273,539 targets), against PEP 458's own estimates (Table 3).

It builds, with tufpi's own code (``tufpi.trust.roles``, ``layout``, ``MetadataStore`` over a
``LocalStorage``), a repository shaped like tufpi's: distribution targets at
``packages/<sha256[:2]>/<sha256[2:4]>/<sha256[4:]>/<filename>`` and each project's
``simple/<name>/index.html`` and ``index.json`` page targets, bins signed in chunks so memory
stays bounded. It serves that storage with tufpi's own web app (``create_app``, which gzips
``/tuf/`` answers with ``CompressMetadata``) under uvicorn, and runs tufpi's verifying client
(``VerifiedIndex``: ngclient's ``Updater`` built by ``make_updater`` over ``BoundedFetcher``)
through an httpx transport that counts every response body as received, still compressed.
See ``benchmarks/README.md``.

    /tmp/v/bin/python benchmarks/bench_client_bytes.py [--quick] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Snapshot, Targets

from tufpi.client.verified_index import (
    ClientBounds,
    Location,
    VerifiedIndex,
    fetch_first_root,
)
from tufpi.config import Settings
from tufpi.http.protocol import ReasonH11Protocol
from tufpi.index import pages
from tufpi.index.service import storage_key
from tufpi.index.views import FileView, ProjectPage
from tufpi.services import Services
from tufpi.storage import LocalStorage
from tufpi.trust import layout, roles
from tufpi.trust.store import MetadataStore
from tufpi.web.app import create_app

# PEP 458, "Metadata Scalability", Tables 2 and 3 (figures of November 2019).
PEP_TARGETS = 2_273_539  # C8: simple indices and distributions
PEP_DOWNLOAD = 2_184_393  # C9: average bytes of a downloaded distribution
PEP_BYTES = {"new": 1_517_722, "same": 108_698, "newer": 207_002}  # V16, V12, V14
GOALS = {"new": 0.08, "same": 0.01, "newer": 0.06}  # of one average download
ONLINE_EXPIRY = dt.timedelta(days=1)
OFFLINE_EXPIRY = dt.timedelta(days=365)
RESIGN_EVERY_HOURS = 18  # online_expiry minus resign_margin (tufpi's defaults)
BUCKETS = 64  # bins are signed bucket by bucket: ~1/64 of the targets in memory at a time
MIB = 1024 * 1024

_WORDS = (
    "py async aws azure api auth backend bio bot cache cdk cli client cloud config core "
    "crypto dash data db debug django docker doc env event fast file flask form geo git "
    "google graph grpc http image io jupyter json kafka lib log lambda learn map math "
    "media meta ml model mongo net node notebook num oauth open orm page parse path pdf "
    "plot plugin pool proto query queue redis rest rpc sdk search secure server service "
    "sim slack sql stats storage stream sync task tensor test text time tool torch tree "
    "type util vision web wrapper xml yaml zope airflow ansible boto celery odoo pandas "
    "pytest sphinx tox"
)
WORDS = _WORDS.split()
TAGS = (
    "cp27-cp27mu-manylinux1_x86_64",
    "cp36-cp36m-manylinux1_x86_64",
    "cp37-cp37m-manylinux1_x86_64",
    "cp37-cp37m-win_amd64",
    "cp37-cp37m-macosx_10_9_x86_64",
    "cp38-cp38-manylinux2010_x86_64",
    "cp38-cp38-win32",
    "cp310-cp310-musllinux_1_1_x86_64",
    "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64",
    "cp312-cp312-macosx_11_0_arm64",
    "cp312-cp312-win_amd64",
)


@dataclasses.dataclass(frozen=True)
class Shape:
    """The repository to build."""

    bins: int
    targets: int
    projects: int
    uploads_per_minute: int  # the changes in the newer snapshot, and the bins' history
    age_days: int  # how long the repository has been publishing: the bins' versions
    seed: int = 458

    @property
    def files(self) -> int:
        return self.targets - 2 * self.projects


# 200,000 projects: Bommarito & Bommarito counted 178,592 in mid-2019 (arXiv 1907.11073).
FULL = Shape(bins=16_384, targets=PEP_TARGETS, projects=200_000, uploads_per_minute=5, age_days=365)
# The same targets per bin, 1/16 of everything: checks that it all works, not the figures.
QUICK = Shape(
    bins=1_024, targets=PEP_TARGETS // 16, projects=12_500, uploads_per_minute=5, age_days=365
)


# --- the data set -------------------------------------------------------------------------


@dataclasses.dataclass
class Dist:
    filename: str
    version: str
    packagetype: str
    size: int
    sha256: str
    sha512: str
    content: bytes | None = None  # only for the files the installs download

    @property
    def path(self) -> str:
        return storage_key(self.sha256, self.filename)


@dataclasses.dataclass
class Project:
    name: str
    dists: list[Dist]
    wanted: str = ""  # the file an install picks (installs only)


def project_names(count: int, rng: random.Random) -> list[str]:
    """Unique normalised names of one to three words, like ``flask-redis-cache``."""
    names: set[str] = set()
    ordered: list[str] = []
    while len(ordered) < count:
        words = rng.sample(WORDS, rng.choice((1, 2, 2, 2, 3, 3)))
        name = "-".join(words)
        if name in names:
            name = f"{name}{rng.randrange(2, 100)}"
        if name not in names:
            names.add(name)
            ordered.append(name)
    return ordered


def file_counts(projects: int, files: int, rng: random.Random) -> list[int]:
    """Files per project: at least one each, heavy-tailed (Pareto), summing to ``files``."""
    weights = [rng.paretovariate(1.1) for _ in range(projects)]
    extra, total = files - projects, sum(weights)
    counts = [min(1 + int(extra * w / total), 20_000) for w in weights]
    for _ in range(files - sum(counts)):
        counts[rng.randrange(projects)] += 1
    return counts


def dist_size(rng: random.Random) -> int:
    """Log-normal, median 100 kB, mean ~2.74 MB: PEP 458's average release file on disk."""
    return max(200, min(int(rng.lognormvariate(math.log(100_000), 2.57)), 2**30))


def make_dists(name: str, count: int, rng: random.Random) -> list[Dist]:
    """``count`` files of releases 0.1.0, 0.1.1, ...: an sdist and a wheel, or 4-12 wheels."""
    under = name.replace("-", "_")
    binary = rng.random() < 0.15
    dists: list[Dist] = []
    minor, patch = 1, 0
    while len(dists) < count:
        version = f"0.{minor}.{patch}"
        release = [(f"{under}-{version}.tar.gz", "sdist")]
        if binary:
            tags = rng.sample(TAGS, rng.randrange(4, len(TAGS) + 1))
            release += [(f"{under}-{version}-{tag}.whl", "bdist_wheel") for tag in tags]
        else:
            release.append((f"{under}-{version}-py3-none-any.whl", "bdist_wheel"))
        for filename, kind in release[: count - len(dists)]:
            sha256, sha512 = rng.randbytes(32).hex(), rng.randbytes(64).hex()
            dists.append(Dist(filename, version, kind, dist_size(rng), sha256, sha512))
        minor, patch = (minor + 1, 0) if rng.random() < 0.2 else (minor, patch + 1)
    return dists


def page_lengths(name: str, dists: Sequence[Dist]) -> tuple[int, int]:
    """Approximate lengths of a project's two pages (only their digits reach the metadata)."""
    per_file = sum(len(d.path) + len(d.filename) for d in dists)
    return 230 + 2 * len(name) + per_file + 140 * len(dists), (
        110 + len(name) + per_file + 230 * len(dists)
    )


def file_view(d: Dist) -> FileView:
    return FileView(
        filename=d.filename,
        path=d.path,
        version=d.version,
        packagetype=d.packagetype,
        python_version="source" if d.packagetype == "sdist" else "py3",
        requires_python=">=3.8",
        size=d.size,
        sha256=d.sha256,
        blake2_256=hashlib.blake2b(d.sha256.encode(), digest_size=32).hexdigest(),
        md5=hashlib.md5(d.sha256.encode()).hexdigest(),
        metadata_sha256=hashlib.sha256(d.sha512.encode()).hexdigest(),
        upload_time=dt.datetime(2019, 11, 7, tzinfo=dt.UTC),
        yanked=False,
        yanked_reason=None,
    )


def make_installable(project: Project, rng: random.Random) -> None:
    """Give the newest wheel real content (at most 4 MiB), so a client can download it."""
    dist = next(d for d in reversed(project.dists) if d.filename.endswith(".whl"))
    dist.size = min(dist.size, 4 * MIB)
    dist.content = rng.randbytes(dist.size)
    dist.sha256 = hashlib.sha256(dist.content).hexdigest()
    dist.sha512 = hashlib.sha512(dist.content).hexdigest()
    project.wanted = dist.filename


def page_rows(project: Project, storage: LocalStorage | None) -> list[roles.TargetRow]:
    """The two page targets; real rendered pages (stored) when ``storage`` is given."""
    if storage is None:
        lengths = page_lengths(project.name, project.dists)
        seed = hashlib.sha512(project.name.encode()).hexdigest()
        return [
            roles.TargetRow(
                layout.page_path(project.name, filename),
                length,
                hashlib.sha256(f"{seed}{filename}".encode()).hexdigest(),
                hashlib.sha512(f"{seed}{filename}".encode()).hexdigest(),
            )
            for filename, length in zip(layout.PAGE_FILES, lengths, strict=True)
        ]
    versions = tuple(dict.fromkeys(d.version for d in project.dists))
    files = tuple(file_view(d) for d in project.dists)
    rendered = pages.render(ProjectPage(project.name, project.name, 1, versions, files))
    rows = []
    for filename, body in rendered.items():
        path = layout.page_path(project.name, filename)
        sha256 = hashlib.sha256(body).hexdigest()
        storage.put_bytes(layout.consistent_path(path, sha256), body)
        rows.append(roles.TargetRow(path, len(body), sha256, hashlib.sha512(body).hexdigest()))
    return rows


def store_dists(project: Project, storage: LocalStorage) -> None:
    for d in project.dists:
        if d.content is not None:
            storage.put_bytes(d.path, d.content)
            storage.link(d.path, layout.consistent_path(d.path, d.sha256))


# --- building the repository --------------------------------------------------------------


@dataclasses.dataclass
class Keys:
    root: list[CryptoSigner]
    targets: CryptoSigner
    bins: CryptoSigner
    online: CryptoSigner

    @classmethod
    def generate(cls) -> Keys:
        new = CryptoSigner.generate_ed25519
        return cls([new(), new(), new()], new(), new(), new())

    def keyset(self) -> roles.KeySet:
        return roles.KeySet(
            root=[s.public_key for s in self.root],
            root_threshold=2,
            targets=[self.targets.public_key],
            targets_threshold=1,
            bins=[self.bins.public_key],
            bins_threshold=1,
            online=[self.online.public_key],
        )


@dataclasses.dataclass
class Repository:
    """What the benchmark needs to know about the repository it built."""

    storage: LocalStorage
    store: MetadataStore
    keys: Keys
    shape: Shape
    root_sha256: str
    installs: list[tuple[Project, Project]]
    names: list[str]
    counts: list[int]
    bin_versions: dict[str, int]


def bin_history(shape: Shape, rng: random.Random) -> list[int]:
    """Each bin's version after ``age_days`` of publishing: one per scheduled re-sign (an
    upper bound: a change also resets the schedule) plus one per upload touching it (an
    upload changes three targets: the file and both pages), Poisson, normal-approximated."""
    scheduled = shape.age_days * 24 // RESIGN_EVERY_HOURS
    changes = shape.uploads_per_minute * 1440 * shape.age_days * 3 / shape.bins
    return [
        1 + scheduled + max(0, round(rng.gauss(changes, math.sqrt(changes))))
        for _ in range(shape.bins)
    ]


def write_buckets(
    shape: Shape, workdir: Path, rng: random.Random, storage: LocalStorage, log: Any
) -> tuple[list[str], list[int], list[tuple[Project, Project]]]:
    """Generate every target and append it to the bucket file of its bin (``bin\\trow``)."""
    names = project_names(shape.projects, rng)
    counts = file_counts(shape.projects, shape.files, rng)
    chosen = rng.sample(range(shape.projects), 6)
    installable = set(chosen)
    by_index: dict[int, Project] = {}
    shift = layout.bit_length(shape.bins) - layout.bit_length(BUCKETS)
    outs = [(workdir / f"bucket-{b:02d}.tsv").open("w") for b in range(BUCKETS)]
    try:
        for i, (name, count) in enumerate(zip(names, counts, strict=True)):
            project = Project(name, make_dists(name, count, rng))
            if i in installable:
                make_installable(project, rng)
                store_dists(project, storage)
                by_index[i] = project
            rows = [roles.TargetRow(d.path, d.size, d.sha256, d.sha512) for d in project.dists]
            rows += page_rows(project, storage if i in installable else None)
            for row in rows:
                index = layout.bin_index(row.path, shape.bins)
                outs[index >> shift].write(
                    f"{index}\t{row.path}\t{row.length}\t{row.sha256}\t{row.sha512}\n"
                )
            if i % 50_000 == 0:
                log(f"  generated {i:,} of {shape.projects:,} projects")
    finally:
        for out in outs:
            out.close()
    projects = [by_index[i] for i in chosen]
    installs = [(projects[0], projects[1]), (projects[2], projects[3]), (projects[4], projects[5])]
    return names, counts, installs


def sign_buckets(
    shape: Shape,
    workdir: Path,
    store: MetadataStore,
    online: CryptoSigner,
    versions: list[int],
    expires: dt.datetime,
    log: Any,
) -> dict[str, int]:
    """Sign each bin from its bucket file, one bucket in memory at a time."""
    signed: dict[str, int] = {}
    per_bucket = shape.bins // BUCKETS
    for b in range(BUCKETS):
        rows: dict[int, list[roles.TargetRow]] = {}
        path = workdir / f"bucket-{b:02d}.tsv"
        with path.open() as f:
            for line in f:
                index, target, length, sha256, sha512 = line.rstrip("\n").split("\t")
                row = roles.TargetRow(target, int(length), sha256, sha512)
                rows.setdefault(int(index), []).append(row)
        path.unlink()
        for index in range(b * per_bucket, (b + 1) * per_bucket):
            name = layout.bin_name(index, shape.bins)
            md = roles.bin_role(versions[index], expires, rows.get(index, ()))
            md.sign(online)
            store.write_versioned(name, md)
            signed[name] = versions[index]
        if b % 8 == 7:
            log(f"  signed {(b + 1) * per_bucket:,} of {shape.bins:,} bins")
    return signed


def build(shape: Shape, workdir: Path, now: dt.datetime, log: Any) -> Repository:
    """Sign the whole repository, as a year-old tufpi at ``shape``'s scale would hold it."""
    rng = random.Random(shape.seed)
    storage = LocalStorage(workdir / "files")
    store = MetadataStore(storage)
    keys = Keys.generate()
    keyset = keys.keyset()
    online_expires, offline_expires = now + ONLINE_EXPIRY, now + OFFLINE_EXPIRY
    log(f"generating {shape.targets:,} targets of {shape.projects:,} projects")
    names, counts, installs = write_buckets(shape, workdir, rng, storage, log)
    versions = bin_history(shape, rng)
    log(f"signing {shape.bins:,} bins")
    bin_versions = sign_buckets(shape, workdir, store, keys.online, versions, online_expires, log)
    targets = roles.new_targets(keyset, offline_expires)
    targets.sign(keys.targets)
    store.write_versioned(Targets.type, targets)
    bins = roles.new_bins(keyset, shape.bins, offline_expires)
    bins.sign(keys.bins)
    store.write_versioned(roles.BINS_ROLE, bins)
    snapshot = roles.first_snapshot(
        online_expires, {Targets.type: 1, roles.BINS_ROLE: 1, **bin_versions}
    )
    # One publication per upload (the signer looks every 0.5 s) over age_days.
    snapshot.signed.version = shape.uploads_per_minute * 1440 * shape.age_days
    snapshot.sign(keys.online)
    snapshot_bytes = store.write_versioned(Snapshot.type, snapshot)
    root = roles.new_root(keyset, offline_expires)
    for signer in keys.root:
        root.sign(signer, append=True)
    root_bytes = store.write_root(root)
    timestamp = roles.next_timestamp(None, online_expires, snapshot.signed.version, snapshot_bytes)
    timestamp.signed.version = snapshot.signed.version
    timestamp.sign(keys.online)
    store.write_timestamp(timestamp)
    return Repository(
        storage,
        store,
        keys,
        shape,
        hashlib.sha256(root_bytes).hexdigest(),
        installs,
        names,
        counts,
        bin_versions,
    )


def publish_minute(repo: Repository, now: dt.datetime) -> int:
    """One minute of uploads (``uploads_per_minute`` new files, each changing its project's
    two pages) published as the next snapshot, as tufpi's publisher would: each changed bin
    rebuilt from its rows, signed with version + 1; then snapshot, then timestamp.

    Returns the number of bins changed.
    """
    rng = random.Random(repo.shape.seed + 1)
    bins = repo.shape.bins
    installing = {p.name for pair in repo.installs for p in pair}
    changes: dict[str, roles.TargetRow] = {}
    for _ in range(repo.shape.uploads_per_minute):
        i = rng.randrange(len(repo.names))
        while repo.names[i] in installing:  # keep the installs' bins as they were
            i = rng.randrange(len(repo.names))
        name = repo.names[i]
        dists = make_dists(name, repo.counts[i] + 1, random.Random(f"{repo.shape.seed}{i}"))
        new = dists[-1]
        new.sha256, new.sha512 = rng.randbytes(32).hex(), rng.randbytes(64).hex()
        changes[new.path] = roles.TargetRow(new.path, new.size, new.sha256, new.sha512)
        for row in page_rows(Project(name, dists), None):  # both pages re-rendered
            changes[row.path] = row._replace(
                sha256=rng.randbytes(32).hex(), sha512=rng.randbytes(64).hex()
            )
    by_bin: dict[str, list[roles.TargetRow]] = {}
    for row in changes.values():
        by_bin.setdefault(layout.bin_name(layout.bin_index(row.path, bins), bins), []).append(row)
    expires = now + ONLINE_EXPIRY
    changed: dict[str, int] = {}
    for name, new_rows in by_bin.items():
        current: Metadata[Targets] = repo.store.read(name, repo.bin_versions[name])
        rows = {
            path: roles.TargetRow(path, t.length, t.hashes["sha256"], t.hashes["sha512"])
            for path, t in current.signed.targets.items()
        }
        rows.update((row.path, row) for row in new_rows)
        md = roles.bin_role(current.signed.version + 1, expires, rows.values())
        md.sign(repo.keys.online)
        repo.store.write_versioned(name, md)
        changed[name] = md.signed.version
    timestamp = repo.store.timestamp()
    snapshot = roles.next_snapshot(
        repo.store.snapshot(timestamp.signed.snapshot_meta.version).signed, expires, changed
    )
    snapshot.sign(repo.keys.online)
    snapshot_bytes = repo.store.write_versioned(Snapshot.type, snapshot)
    new_timestamp = roles.next_timestamp(
        timestamp.signed, expires, snapshot.signed.version, snapshot_bytes
    )
    new_timestamp.sign(repo.keys.online)
    repo.store.write_timestamp(new_timestamp)
    repo.bin_versions.update(changed)
    return len(changed)


# --- serving and counting -----------------------------------------------------------------


@dataclasses.dataclass
class Fetch:
    """One HTTP answer: its body as received (still content-encoded) and decoded."""

    path: str
    status: int
    headers: int  # status line and header lines, as sent
    encoding: str
    wire: int = 0
    decoded: int = 0

    @property
    def metadata(self) -> bool:
        return self.path.startswith("/" + layout.METADATA_PREFIX)


class _CountingStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, fetch: Fetch) -> None:
        self.inner = inner
        self.fetch = fetch
        gzipped = fetch.encoding == "gzip"
        self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            self.fetch.wire += len(chunk)
            plain = self.decoder.decompress(chunk) if self.decoder else chunk
            self.fetch.decoded += len(plain)
            yield chunk

    def close(self) -> None:
        self.inner.close()


class CountingTransport(httpx.BaseTransport):
    """httpx's own transport, counting each response body before httpx decodes it."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.fetches: list[Fetch] = []

    @property
    def _pool(self) -> object:
        """The inner transport's connection pool: tufpi's fetcher puts its deadline under
        every pool of a client it is given, and refuses a transport whose pool it cannot
        reach."""
        return self.inner._pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        reason = response.extensions.get("reason_phrase", b"")
        head = len(f"HTTP/1.1 {response.status_code} ") + len(reason) + 2
        head += sum(len(k) + len(v) + 4 for k, v in response.headers.raw) + 2
        encoding = response.headers.get("content-encoding", "")
        fetch = Fetch(request.url.path, response.status_code, head, encoding)
        self.fetches.append(fetch)
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_CountingStream(response.stream, fetch),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self.inner.close()


@contextlib.contextmanager
def serving(storage_dir: Path, data_dir: Path) -> Iterator[str]:
    """tufpi's web app (no signer) over ``storage_dir``, under uvicorn as ``tufpi serve``
    runs it. Its /tuf/, /simple/<name>/<file> and /packages/ routes read storage only."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir, storage_dir=storage_dir, signer=False)
    app = create_app(Services.from_settings(settings))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, http=ReasonH11Protocol, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def install(
    index_url: str, cache: Path, pair: tuple[Project, Project], root_sha256: str | None
) -> list[Fetch]:
    """One install as a verifying client makes it: for the project and its dependency, the
    signed JSON page (PEP 691, what pip asks for) and the chosen file, each verified.

    With ``root_sha256`` the client is new: it fetches ``1.root.json`` and pins it.
    """
    transport = CountingTransport()
    with httpx.Client(transport=transport) as client:
        root = (
            fetch_first_root(ClientBounds().fetcher(client), index_url, root_sha256)
            if root_sha256
            else None
        )
        index = VerifiedIndex(Location.of_index(index_url, cache), root, client)
        for project in pair:
            page = json.loads(index.page(project.name, "index.json"))
            entry = next(e for e in page["files"] if e["filename"] == project.wanted)
            data = index.target(entry["url"].removeprefix("../../")).read_bytes()
            if hashlib.sha256(data).hexdigest() != entry["hashes"]["sha256"]:
                raise RuntimeError(f"{project.wanted}: not the file the page lists")
    return transport.fetches


@dataclasses.dataclass
class Case:
    label: str
    goal: str  # the key of GOALS and PEP_BYTES this case is judged against
    pep_model: bool  # True: PEP 458's case (bin-n not cached); False: the same install again
    fetches: list[Fetch]

    @property
    def metadata(self) -> list[Fetch]:
        return [f for f in self.fetches if f.metadata]

    @property
    def wire(self) -> int:
        return sum(f.wire for f in self.metadata)

    @property
    def decoded(self) -> int:
        return sum(f.decoded for f in self.metadata)

    @property
    def headers(self) -> int:
        return sum(f.headers for f in self.metadata)


def measure(repo: Repository, workdir: Path, log: Any) -> tuple[list[Case], int]:
    """The five client runs; returns them and the number of bins the new snapshot changed."""
    a, b, c = repo.installs
    cache, later = workdir / "client", workdir / "client-copy"
    with serving(repo.storage.root, workdir / "data") as url:
        log(f"serving {repo.storage.root} at {url}")
        cases = [
            Case("new user: install A", "new", True, install(url, cache, a, repo.root_sha256)),
            Case("returning, same snapshot: A again", "same", False, install(url, cache, a, None)),
            Case("returning, same snapshot: install B", "same", True, install(url, cache, b, None)),
        ]
        shutil.copytree(cache, later)
        changed = publish_minute(repo, dt.datetime.now(dt.UTC))
        log(f"published the next snapshot: {changed} bins changed")
        cases += [
            Case(
                "returning, newer snapshot: A again", "newer", False, install(url, cache, a, None)
            ),
            Case(
                "returning, newer snapshot: install C", "newer", True, install(url, later, c, None)
            ),
        ]
    return cases, changed


# --- what would lower it ------------------------------------------------------------------


def gzip9(data: bytes) -> int:
    """Size with the app's gzip settings (level 9, a gzip container)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return len(compressor.compress(data) + compressor.flush())


def zstd_size(data: bytes, workdir: Path, patch_from: bytes | None = None) -> int | None:
    """``zstd -19`` (optionally ``--patch-from`` an older file), if the CLI is installed."""
    if shutil.which("zstd") is None:
        return None
    src, ref = workdir / "zstd-in", workdir / "zstd-ref"
    src.write_bytes(data)
    cmd = ["zstd", "-19", "-q", "-c", "--long=27"]
    if patch_from is not None:
        ref.write_bytes(patch_from)
        cmd.append(f"--patch-from={ref}")
    out = subprocess.run([*cmd, str(src)], capture_output=True, check=True).stdout
    return len(out)


def without_hash(data: bytes, algorithm: str) -> bytes:
    """A bin-n file as it would be without one of its two hashes (signature kept as is)."""
    md = json.loads(data)
    for target in md["signed"]["targets"].values():
        target["hashes"].pop(algorithm, None)
    return json.dumps(md, separators=(",", ":"), sort_keys=True).encode()


def shares(case: Case) -> str:
    """How much of a case's bytes each kind of file takes."""
    kinds: dict[str, int] = {}
    for f in case.metadata:
        kind = f.path.rsplit(".", 2)[-2].removeprefix("bin-")
        kind = "bin-n" if ".bin-" in f.path else kind.rsplit("/", 1)[-1]
        kinds[kind] = kinds.get(kind, 0) + f.wire
    parts = sorted(kinds.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {100 * v / case.wire:.0f}%" for k, v in parts if v)


def analyse(repo: Repository, cases: list[Case], workdir: Path) -> list[str]:
    """Per-entry costs measured in this run, and what other choices would save."""
    store, bins = repo.store, repo.shape.bins
    new_user = cases[0]
    snaps = sorted(
        int(f.path.rsplit("/", 1)[1].split(".")[0])
        for case in cases
        for f in case.metadata
        if f.path.endswith(".snapshot.json")
    )
    old, new = store.read_bytes(Snapshot.type, snaps[0]), store.read_bytes(Snapshot.type, snaps[-1])
    snap_wire = next(f.wire for f in new_user.metadata if f.path.endswith(".snapshot.json"))
    bin_fetches = [f for f in new_user.metadata if ".bin-" in f.path]
    bin_bytes = [store.storage.open(f.path.lstrip("/")).read() for f in bin_fetches]
    n_targets = sum(len(json.loads(b)["signed"]["targets"]) for b in bin_bytes)
    per_entry = snap_wire / (bins + 2)
    per_target = sum(f.wire for f in bin_fetches) / n_targets
    full = sum(gzip9(b) for b in bin_bytes)
    lean = {a: sum(gzip9(without_hash(b, a)) for b in bin_bytes) for a in ("sha256", "sha512")}
    lines = [f"{case.label}: {shares(case)}" for case in cases]
    lines += [
        f"snapshot.json: {len(new):,} B, {snap_wire:,} B gzip-9 on the wire "
        f"({per_entry:.2f} B per role listed; {len(new) / (bins + 2):.1f} B uncompressed)",
        f"bin-n: {per_target:.0f} B on the wire per target ({n_targets:,} targets in the "
        f"{len(bin_fetches)} bins fetched): {full:,} B gzip-9; without sha512 "
        f"{lean['sha512']:,} B ({100 * (1 - lean['sha512'] / full):.0f}% less), without "
        f"sha256 {lean['sha256']:,} B ({100 * (1 - lean['sha256'] / full):.0f}% less: it "
        "repeats the hash in the path)",
    ]
    zstd_plain, zstd_delta = zstd_size(new, workdir), zstd_size(new, workdir, patch_from=old)
    if zstd_plain is not None and zstd_delta is not None:
        lines.append(
            f"snapshot with zstd -19: {zstd_plain:,} B; as a delta from the client's previous "
            f"snapshot (zstd --patch-from, what a compression dictionary would give): "
            f"{zstd_delta:,} B"
        )
    depth = math.ceil(math.log2(bins + 2))
    proof = depth * (64 + 3) + 150
    lines.append(
        f"TAP 16 (Merkle snapshot), estimated: a proof of {depth} sha256 siblings, about "
        f"{proof:,} B uncompressed per role, instead of the whole snapshot"
    )
    k, targets = 4, repo.shape.targets
    best = math.sqrt(k * per_target * targets / per_entry)
    lines.append(
        f"bin count, model from these per-entry sizes (snapshot {per_entry:.2f} B x bins + "
        f"{k} bin-n x {per_target:.0f} B x targets/bins), a returning install of 2 files on a "
        f"newer snapshot: minimum at ~{best:,.0f} bins"
    )
    for count in (1024, 4096, 16384, 65536):
        snap_part, bin_part = per_entry * count, k * per_target * targets / count
        lines.append(
            f"  {count:>6,} bins: snapshot {snap_part:>9,.0f} B + bin-n {bin_part:>9,.0f} B = "
            f"{snap_part + bin_part:>9,.0f} B ({100 * (snap_part + bin_part) / PEP_DOWNLOAD:.1f}%);"
            f" the same install again: {snap_part:>7,.0f} B "
            f"({100 * snap_part / PEP_DOWNLOAD:.1f}%)"
        )
    return lines


# --- report -------------------------------------------------------------------------------


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {ram:.1f} GiB RAM, Python {platform.python_version()}"
        f", {platform.system()} {platform.release()}, {now}"
    )


def pct(n: float, of: float = PEP_DOWNLOAD) -> str:
    return f"{100 * n / of:.2f}%"


def report(repo: Repository, cases: list[Case], changed: int, analysis: list[str]) -> None:
    shape = repo.shape
    print(f"machine: {machine()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"repository: {shape.bins:,} bins, {shape.targets:,} targets = {shape.files:,} "
        f"distribution files + {2 * shape.projects:,} pages (index.html, index.json) of "
        f"{shape.projects:,} projects; bin versions after {shape.age_days} days at "
        f"{shape.uploads_per_minute} uploads/minute; the newer snapshot: one minute of "
        f"uploads, {changed} bins changed"
    )
    print(
        "install: a project and its dependency = 2 signed JSON pages + 2 files; "
        "bytes = /tuf/ response bodies as received (gzip), without HTTP headers"
    )
    print(f"% of PEP 458's average download, {PEP_DOWNLOAD:,} B (C9)\n")
    header = (
        f"{'case':<38} {'files':>5} {'wire B':>9} {'%':>7} {'%/dist':>8} "
        f"{'uncompr. B':>10} {'%':>7} {'PEP 458 B':>10} {'%':>5} {'ours/PEP':>8} "
        f"{'goal':>5} {'met':>4} {'+headers':>8}"
    )
    print(header)
    print("-" * len(header))
    for case in cases:
        pep, goal = PEP_BYTES[case.goal], GOALS[case.goal]
        print(
            f"{case.label:<38} {len(case.metadata):>5} {case.wire:>9,} {pct(case.wire):>7} "
            f"{pct(case.wire, 2 * PEP_DOWNLOAD):>8} {case.decoded:>10,} "
            f"{pct(case.decoded):>7} {pep:>10,} {pct(pep):>5} {case.wire / pep:>8.3f} "
            f"{100 * goal:>4.0f}% {'yes' if case.wire <= goal * PEP_DOWNLOAD else 'NO':>4} "
            f"{case.headers:>8,}"
        )
    print(
        "\nwire B: compressed, as received; %/dist: per distribution (the install fetches "
        "2), PEP 458's unit; +headers: HTTP status and header lines of those answers, not in "
        "wire B (nor is the 11-byte body of a 404 the client does not read).\n"
        "PEP 458's cases are the 'install' rows (the bin-n roles of the files are not "
        "cached yet; PEP 458 counts 2 bin-n per distribution and ignores root, timestamp and "
        "targets); 'again' re-runs the same install with the same cache."
    )
    for case in cases:
        print(f"\n{case.label}:")
        for f in case.metadata:
            print(f"  {f.status} {f.path:<40} {f.wire:>9,} B on the wire {f.decoded:>9,} B")
        others = [f for f in case.fetches if not f.metadata]
        print(f"  (not counted: {len(others)} target downloads, {sum(f.wire for f in others):,} B)")
    print()
    for line in analysis:
        print(line)


def log_to_stderr(start: float) -> Any:
    def log(message: str) -> None:
        print(f"[{time.monotonic() - start:7.1f}s] {message}", file=sys.stderr, flush=True)

    return log


@contextlib.contextmanager
def workspace(path: Path | None) -> Iterator[Path]:
    if path is None:
        with tempfile.TemporaryDirectory(prefix="tufpi-client-bytes-") as tmp:
            yield Path(tmp)
        return
    if path.exists() and any(path.iterdir()):
        raise SystemExit(f"{path} is not empty")
    path.mkdir(parents=True, exist_ok=True)
    yield path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,024 bins, 1/16 of the targets")
    parser.add_argument("--workdir", type=Path, help="build here and keep it (default: temp)")
    args = parser.parse_args(argv)
    shape = QUICK if args.quick else FULL
    log = log_to_stderr(time.monotonic())
    with workspace(args.workdir) as workdir:
        repo = build(shape, workdir, dt.datetime.now(dt.UTC), log)
        log("built; running the clients")
        cases, changed = measure(repo, workdir, log)
        analysis = analyse(repo, cases, workdir)
    log(f"peak resident memory {peak_rss() / MIB:,.0f} MiB")
    report(repo, cases, changed, analysis)
    return 0


def peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


if __name__ == "__main__":
    raise SystemExit(main())
