"""Benchmark signed uploads: throughput and upload-to-published latency, signing on and off.

Starts ``tufpi serve`` on 127.0.0.1 with 16,384 bins (``--quick``: 1,024) twice per round,
once with its own signer (``TUFPI_SIGNER=true``, the default: a child process of serve) and
once with signing off (``TUFPI_SIGNER=false``: uploads still record their targets, nobody
signs), and drives both with the same pre-built wheels, POSTed to ``/legacy/`` the way twine
sends them:

* throughput: a fixed number of uploads by a fixed number of concurrent uploaders (closed
  loop); signed/unsigned is the cost of signing;
* latency: uploads sent on schedule at a fixed rate (open loop), and for each one the time
  from its scheduled send to the moment a client polling ``timestamp.json`` -> snapshot ->
  the file's bin-n finds it listed; that client reads the published files from the storage
  directory (``--watch storage``, the default) or through the server (``--watch http``).

On SQLite by default; ``--postgres`` runs the same on PostgreSQL as well. See
``benchmarks/README.md``.

    /tmp/v/bin/python benchmarks/bench_publish.py [--quick] [--separate-signer] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from common import default_postgres_url, machine, postgres_databases, run_tufpi
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

from tufpi.db.models import TargetChange

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support.wheelfile
from tests.support.wheelfile import zip_wheel
from tufpi.index.service import storage_key
from tufpi.trust import layout

LOCALHOST = "127.0.0.1"
BINS = 16384
QUICK_BINS = 1024  # --quick: the same code path, without writing 16,384 bins twice
# signed: serve's own signer, a child process (the default); unsigned: TUFPI_SIGNER=false,
# nobody signs;
# separate (--separate-signer): serve --no-signer plus a `tufpi signer` process.
MODES = ("signed", "unsigned")
SIGNING = ("signed", "separate")
# The goals.
GOAL_COST = 0.10  # signing costs under 10% of upload throughput
GOAL_P99 = 2.0  # p99 upload-to-published under 2 s at 50 uploads/s
# How often the latency phase's client polls timestamp.json (the resolution of "visible").
POLL_INTERVAL = 0.05
# Where the latency phase's client reads the signed metadata (--watch).
WATCHED = {
    "storage": "read from the storage directory",
    "http": "through the server under test",
}
# The open-loop sender never has more uploads than this outstanding (bounded load).
MAX_IN_FLIGHT = 256
# Waits, in seconds: server start-up, and the signer catching up after a phase.
START_TIMEOUT = 300.0
DRAIN_TIMEOUT = 600.0
PROJECTS = 500
PADDING_BYTES = 3000


# -- wheels ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Wheel:
    name: str
    version: str
    filename: str
    data: bytes
    sha256: str

    @property
    def target_path(self) -> str:
        """The file's target path (and storage key): ``packages/<sha256 parts>/<filename>``."""
        return storage_key(self.sha256, self.filename)


def make_wheel(index: int) -> Wheel:
    """Wheel number ``index``: release ``1.<index // PROJECTS>`` of ``bench-<index % PROJECTS>``.

    A few KB: METADATA, WHEEL, RECORD and a module padded with incompressible bytes.
    """
    name, version = f"bench-{index % PROJECTS}", f"1.{index // PROJECTS}"
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    padding = base64.b64encode(random.Random(index).randbytes(PADDING_BYTES * 3 // 4)).decode()
    files = {
        f"{dist}/__init__.py": f"PADDING = {padding!r}\n".encode(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            "Summary: A throwaway wheel for tufpi's upload benchmark\n"
        ).encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tufpi-bench\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    data = zip_wheel(files, info)
    filename = f"{dist}-{version}-py3-none-any.whl"
    return Wheel(name, version, filename, data, hashlib.sha256(data).hexdigest())


def upload_fields(wheel: Wheel) -> dict[str, str]:
    """The multipart fields twine sends with a wheel (besides ``content``)."""
    return {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": wheel.name,
        "version": wheel.version,
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "metadata_version": "2.1",
        "summary": "A throwaway wheel for tufpi's upload benchmark",
        "md5_digest": hashlib.md5(wheel.data, usedforsecurity=False).hexdigest(),
        "sha256_digest": wheel.sha256,
        "blake2_256_digest": hashlib.blake2b(wheel.data, digest_size=32).hexdigest(),
    }


# -- servers -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class Index:
    """One repository (data directory and database) and, while it runs, its server."""

    mode: str
    backend: str
    data_dir: Path
    database_url: str
    env: dict[str, str]
    token: str = ""
    process: subprocess.Popen[bytes] | None = None
    signer: subprocess.Popen[bytes] | None = None  # mode "separate"

    @property
    def pids(self) -> list[int]:
        """The server, its children (serve's signer process) and a separate signer."""
        pids = [p.pid for p in (self.process, self.signer) if p is not None]
        return [*pids, *(c for pid in pids for c in _children(pid))]

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.env['TUFPI_PORT']}/"

    @property
    def bins(self) -> int:
        return int(self.env["TUFPI_BINS"])

    def engine(self) -> Engine:
        return create_engine(self.database_url)


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += map(int, (task / "children").read_text().split())
    return children


def prepare(
    mode: str, backend: str, root: Path, database_url: str, publish_interval: float, bins: int
) -> Index:
    """Migrate, ``trust init`` with ``bins`` bins, and create an uploader with a token."""
    data_dir = root / f"{backend}-{mode}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUFPI_")}
    env.update(
        TUFPI_DATA_DIR=str(data_dir),
        TUFPI_KEYS_DIR=str(root / f"{backend}-{mode}-keys"),
        TUFPI_DATABASE_URL=database_url,
        TUFPI_HOST=LOCALHOST,
        TUFPI_PORT=str(_free_port()),
        TUFPI_BINS=str(bins),
        TUFPI_SIGNER="true" if mode == "signed" else "false",
        TUFPI_PUBLISH_INTERVAL=str(publish_interval),
    )
    index = Index(mode, backend, data_dir, database_url, env)
    run_tufpi(env, "db", "upgrade")
    run_tufpi(env, "trust", "init")
    run_tufpi(env, "user", "add", "bench", "--no-password")
    index.token = run_tufpi(env, "token", "create", "--user", "bench").strip()
    return index


def _spawn(index: Index, command: str) -> subprocess.Popen[bytes]:
    log = (index.data_dir / f"{command}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "tufpi.cli", command, "--log-level", "warning"],
        env=index.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def start(index: Index) -> None:
    """Start ``tufpi serve`` (access log off: ``--log-level warning``) and wait for it; in
    mode "separate" also ``tufpi signer``."""
    index.process = _spawn(index, "serve")
    if index.mode == "separate":
        index.signer = _spawn(index, "signer")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if index.process.poll() is not None:
            raise RuntimeError(f"tufpi serve exited; see {index.data_dir / 'serve.log'}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(index.url, timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    stop(index)
    raise RuntimeError(f"tufpi serve did not answer in {START_TIMEOUT:.0f} s")


def stop(index: Index) -> None:
    for process in (index.process, index.signer):
        if process is None:
            continue
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
    index.process = index.signer = None


def pending_changes(engine: Engine) -> int:
    with engine.connect() as conn:
        query = "SELECT count(*) FROM target_changes WHERE published_version IS NULL"
        return int(conn.execute(text(query)).scalar() or 0)


def drain(engine: Engine, since: float) -> float:
    """Wait until the signer has published every change; returns when (monotonic)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while pending_changes(engine):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the signer did not catch up in {DRAIN_TIMEOUT:.0f} s")
        time.sleep(0.05)
    return max(time.monotonic(), since)


# -- measuring ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Sample:
    """One upload: when it was due, sent and answered, and when clients could see it."""

    wheel: Wheel
    due: float  # monotonic
    sent: float = 0.0  # monotonic
    sent_wall: float = 0.0  # time.time(), to compare with the database's published_at
    answered: float = 0.0
    status: int = 0
    visible: float | None = None  # monotonic: the first poll that found it in its bin-n
    published_at: float | None = None  # the database's published_at, as a POSIX time

    @property
    def path(self) -> str:
        return self.wheel.target_path


@dataclasses.dataclass
class Usage:
    """CPU seconds used by the server's processes (its signer included) and by this
    load generator, and the 1-minute load average at the end."""

    server: float
    generator: float
    load: float

    @classmethod
    def now(cls, pids: Sequence[int]) -> Usage:
        server = 0.0
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            server += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # u+s time
        me = resource.getrusage(resource.RUSAGE_SELF)
        return cls(server, me.ru_utime + me.ru_stime, os.getloadavg()[0])

    def __sub__(self, before: Usage) -> Usage:
        return Usage(self.server - before.server, self.generator - before.generator, self.load)


def _refused(sample: Sample) -> bool:
    return sample.answered > 0 and sample.status != 200


async def send(client: httpx.AsyncClient, index: Index, sample: Sample) -> Sample:
    """POST one wheel to /legacy/ as twine does: multipart, Basic auth with an API token."""
    wheel = sample.wheel
    sample.sent, sample.sent_wall = time.monotonic(), time.time()
    try:
        response = await client.post(
            index.url + "legacy/",
            data=upload_fields(wheel),
            files={"content": (wheel.filename, wheel.data, "application/octet-stream")},
            auth=("__token__", index.token),
        )
    except httpx.TransportError as e:  # counted as a failed upload (status 0)
        sample.answered = time.monotonic()
        print(f"  upload of {wheel.filename}: {type(e).__name__} {e}")
        return sample
    sample.answered = time.monotonic()
    sample.status = response.status_code
    if response.status_code != 200:
        print(f"  upload of {wheel.filename}: {response.status_code} {response.text.strip()}")
    return sample


def _client(connections: int) -> httpx.AsyncClient:
    # Drop idle connections well before uvicorn's 5 s keep-alive timeout closes them, so a
    # request is never sent on a connection the server is closing.
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=2.0
    )
    return httpx.AsyncClient(limits=limits, timeout=120)


async def closed_loop(index: Index, wheels: Sequence[Wheel], concurrency: int) -> list[Sample]:
    """Upload every wheel once, ``concurrency`` at a time, as fast as the server answers."""
    samples: list[Sample] = []
    queue = iter(wheels)  # shared: each wheel is taken by exactly one uploader
    async with _client(concurrency) as client:

        async def uploader() -> None:
            for wheel in queue:
                samples.append(await send(client, index, Sample(wheel, time.monotonic())))

        await asyncio.gather(*(uploader() for _ in range(concurrency)))
    return samples


class HttpMetadata:
    """Signed metadata as a client gets it: ``GET /tuf/NAME`` from the server under test,
    uncompressed (so that the server does not gzip a half-megabyte snapshot for each look)."""

    errors = (httpx.TransportError,)

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client = client
        self.url = url + "tuf/"

    async def signed(self, name: str) -> dict[str, Any]:
        response = await self.client.get(self.url + name, headers={"Accept-Encoding": "identity"})
        response.raise_for_status()
        signed: dict[str, Any] = json.loads(response.content)["signed"]
        return signed


class StorageMetadata:
    """Signed metadata read from the storage directory the server publishes into: what a
    static server or CDN in front of that storage serves, without asking the server under
    test. (Through the server, a poll every 50 ms and a GET per bin add some 70 requests a
    second, which on a 2-CPU machine compete with the uploads being measured.)"""

    errors = (OSError,)

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def signed(self, name: str) -> dict[str, Any]:
        return await asyncio.to_thread(self._read, name)

    def _read(self, name: str) -> dict[str, Any]:
        signed: dict[str, Any] = json.loads((self.directory / name).read_bytes())["signed"]
        return signed


MetadataSource = HttpMetadata | StorageMetadata


class Watcher:
    """A client's view of publication: timestamp.json -> snapshot -> the file's bin-n.

    Polls every ``POLL_INTERVAL`` seconds and notes, for each expected upload, the first
    poll whose metadata lists its target path with its sha256. Signatures are not verified
    (the end-to-end tests do that with ngclient).
    """

    def __init__(self, source: MetadataSource, bins: int) -> None:
        self.source = source
        self.bins = bins
        self.expected: list[Sample] = []
        self.bin_of: dict[str, str] = {}  # target path -> its bin's name
        self.timestamp_version = 0
        self.checked: dict[str, int] = {}  # bin name -> the version last read
        self.new_timestamps: list[float] = []  # when each new timestamp.json was first seen

    def expect(self, sample: Sample) -> None:
        self.expected.append(sample)
        self.bin_of[sample.path] = layout.bin_name(
            layout.bin_index(sample.path, self.bins), self.bins
        )

    def missing(self) -> list[Sample]:
        """Uploads not seen in a bin-n yet, less those refused (a refused upload is never
        published: waiting for it would wait until the deadline)."""
        return [s for s in self.expected if s.visible is None and not _refused(s)]

    async def poll(self) -> None:
        timestamp = await self.source.signed("timestamp.json")
        seen = time.monotonic()
        if timestamp["version"] == self.timestamp_version:
            return
        meta: dict[str, dict[str, int]] = timestamp["meta"]
        snapshot = await self.source.signed(f"{meta['snapshot.json']['version']}.snapshot.json")
        versions = {k: v["version"] for k, v in snapshot["meta"].items()}
        waiting: dict[str, list[Sample]] = {}
        for sample in self.missing():
            name = self.bin_of[sample.path]
            if versions[f"{name}.json"] != self.checked.get(name):
                waiting.setdefault(name, []).append(sample)
        await asyncio.gather(
            *(self._check(name, versions[f"{name}.json"], s, seen) for name, s in waiting.items())
        )
        # Only now: if a request above failed, the next poll looks at this timestamp again.
        self.timestamp_version = int(str(timestamp["version"]))
        self.new_timestamps.append(seen)

    async def _check(self, name: str, version: int, samples: list[Sample], seen: float) -> None:
        targets: dict[str, dict[str, dict[str, str]]] = (
            await self.source.signed(f"{version}.{name}.json")
        )["targets"]
        self.checked[name] = max(version, self.checked.get(name, 0))
        for sample in samples:
            listed = targets.get(sample.path)
            if listed is not None and listed["hashes"]["sha256"] == sample.wheel.sha256:
                sample.visible = seen

    async def run(self, sending_done: asyncio.Event, deadline: float) -> None:
        """Poll until sending is over and every upload is visible, or until ``deadline``."""
        while time.monotonic() < deadline:
            with contextlib.suppress(*self.source.errors):  # look again at the next poll
                await self.poll()
            if sending_done.is_set() and not self.missing():
                return
            await asyncio.sleep(POLL_INTERVAL)
        print(f"  {len(self.missing())} uploads still not published at the deadline")


async def open_loop(
    index: Index, wheels: Sequence[Wheel], rate: float, watch: str | None
) -> tuple[list[Sample], list[float]]:
    """Send wheel i at start + i / rate whether or not earlier uploads were answered.

    Latency counts from the time an upload was due, so a sender that falls behind cannot
    hide a slow server (``send lag`` reports how far behind it was). Returns the samples
    and, when watching, the times new timestamps were seen.
    """
    async with _client(MAX_IN_FLIGHT) as client, _client(8) as poller:
        source: MetadataSource = (
            HttpMetadata(poller, index.url)
            if watch == "http"
            else StorageMetadata(index.data_dir / "files" / "tuf")
        )
        watcher = Watcher(source, index.bins)
        sending_done = asyncio.Event()
        start = time.monotonic() + 0.2
        deadline = start + len(wheels) / rate + DRAIN_TIMEOUT
        watching = asyncio.create_task(watcher.run(sending_done, deadline)) if watch else None
        slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        tasks = []

        async def in_slot(sample: Sample) -> Sample:
            try:
                return await send(client, index, sample)
            finally:
                slots.release()

        for i, wheel in enumerate(wheels):
            sample = Sample(wheel, start + i / rate)
            await asyncio.sleep(max(0.0, sample.due - time.monotonic()))
            await slots.acquire()
            watcher.expect(sample)
            tasks.append(asyncio.create_task(in_slot(sample)))
        samples = list(await asyncio.gather(*tasks))
        sending_done.set()
        if watching is not None:
            await watching
    return samples, watcher.new_timestamps


def read_published_at(engine: Engine, samples: Sequence[Sample]) -> None:
    """Fill in each sample's ``published_at``: the signer's clock when its batch started."""
    by_path = {s.path: s for s in samples}
    paths = list(by_path)
    with Session(engine) as session:
        for start in range(0, len(paths), 500):
            rows = session.execute(
                select(TargetChange.path, func.min(TargetChange.published_at))
                .where(
                    TargetChange.path.in_(paths[start : start + 500]),
                    TargetChange.published_at.is_not(None),
                )
                .group_by(TargetChange.path)
            )
            for path, moment in rows:
                assert moment is not None  # the query keeps published rows only
                aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite
                by_path[path].published_at = aware.timestamp()


# -- phases ------------------------------------------------------------------------------------


@dataclasses.dataclass
class Phase:
    """One measured phase against one server."""

    backend: str
    mode: str
    kind: str  # "throughput" or "latency"
    samples: list[Sample]
    usage: Usage
    drained: float | None = None  # monotonic: when the signer had published everything
    timestamps: list[float] = dataclasses.field(default_factory=list)  # new ones, when seen

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.status == 200]

    @property
    def errors(self) -> int:
        return len(self.samples) - len(self.ok)

    @property
    def first_sent(self) -> float:
        return min(s.sent for s in self.samples)

    @property
    def seconds(self) -> float:
        return max(s.answered for s in self.samples) - self.first_sent


def run_phases(index: Index, offset: int, args: argparse.Namespace) -> list[Phase]:
    """Warm up, then the throughput phase, then the latency phase, on a running server."""
    pids, signed = index.pids, index.mode in SIGNING
    engine = index.engine()
    wheels = [make_wheel(offset + i) for i in range(args.warmup + args.uploads + args.latency_n)]
    warm, rest = wheels[: args.warmup], wheels[args.warmup :]
    try:
        asyncio.run(closed_loop(index, warm, args.concurrency))
        if signed:
            drain(engine, 0.0)
        before = Usage.now(pids)
        samples = asyncio.run(closed_loop(index, rest[: args.uploads], args.concurrency))
        drained = drain(engine, max(s.answered for s in samples)) if signed else None
        throughput = Phase(
            index.backend, index.mode, "throughput", samples, Usage.now(pids) - before, drained
        )
        before = Usage.now(pids)
        samples, timestamps = asyncio.run(
            open_loop(index, rest[args.uploads :], args.rate, args.watch if signed else None)
        )
        if signed:
            drained = drain(engine, max(s.answered for s in samples))
            read_published_at(engine, samples)
        usage = Usage.now(pids) - before
        latency = Phase(index.backend, index.mode, "latency", samples, usage, drained, timestamps)
    finally:
        engine.dispose()
    return [throughput, latency]


def run_backend(
    backend: str, database_urls: dict[str, str], root: Path, args: argparse.Namespace
) -> list[Phase]:
    """Each mode, ``args.rounds`` times, alternating the order (ABBA...)."""
    indexes = {}
    for mode in args.modes:
        print(f"[{backend}] preparing the {mode} repository (trust init, {args.bins} bins)...")
        indexes[mode] = prepare(
            mode, backend, root, database_urls[mode], args.publish_interval, args.bins
        )
    phases: list[Phase] = []
    per_round = args.warmup + args.uploads + args.latency_n
    for number in range(args.rounds):
        for mode in args.modes if number % 2 == 0 else args.modes[::-1]:
            index = indexes[mode]
            print(f"[{backend}] round {number + 1}: {mode} (load {os.getloadavg()[0]:.2f})")
            start(index)
            try:
                phases += run_phases(index, number * per_round, args)
            finally:
                stop(index)
            if args.workdir:
                for phase in phases[-2:]:
                    name = f"samples-{backend}-{mode}-{number + 1}-{phase.kind}.csv"
                    write_samples(args.workdir / name, phase)
            report_round(phases[-2:])
    return phases


def write_samples(path: Path, phase: Phase) -> None:
    """One line per upload, in seconds from the phase's first send (empty: not seen)."""
    start = phase.first_sent
    lines = ["due,sent,answered,status,published"]
    for s in phase.samples:
        visible = "" if s.visible is None else f"{s.visible - start:.4f}"
        lines.append(
            f"{s.due - start:.4f},{s.sent - start:.4f},{s.answered - start:.4f},{s.status},"
            f"{visible}"
        )
    path.write_text("\n".join(lines) + "\n")


# -- figures -----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN when there are no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def _ms(values: Sequence[float]) -> str:
    p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
    return f"p50 {p50:7.1f} ms  p99 {p99:7.1f} ms"


def throughput_of(phases: Sequence[Phase]) -> float:
    return sum(len(p.ok) for p in phases) / sum(p.seconds for p in phases)


def published_rate_of(phases: Sequence[Phase]) -> float:
    """Uploads per second from the first send until the signer had published them all."""
    total = sum((p.drained or 0.0) - p.first_sent for p in phases)
    return sum(len(p.ok) for p in phases) / total


def cpu_ms_per_upload(phases: Sequence[Phase], which: str) -> float:
    used: float = sum(getattr(p.usage, which) for p in phases)
    return 1000 * used / sum(len(p.samples) for p in phases)


def report_round(phases: Sequence[Phase]) -> None:
    for phase in phases:
        extra = ""
        if phase.kind == "throughput":
            extra = f"{throughput_of([phase]):6.1f} uploads/s"
            if phase.drained is not None:
                extra += f", published {published_rate_of([phase]):6.1f}/s"
        else:
            visible = [s.visible - s.due for s in phase.ok if s.visible is not None]
            extra = (
                "published " + _ms(visible)
                if visible
                else "answered " + _ms([s.answered - s.due for s in phase.ok])
            )
        print(
            f"  {phase.kind:10} {len(phase.ok)} ok, {phase.errors} errors: {extra} "
            f"(load {phase.usage.load:.2f})"
        )


def _select(phases: Sequence[Phase], mode: str, kind: str) -> list[Phase]:
    return [p for p in phases if p.mode == mode and p.kind == kind]


def _gaps(phases: Sequence[Phase]) -> list[float]:
    """Seconds between successive new timestamps seen during the phases."""
    return [b - a for p in phases for a, b in zip(p.timestamps, p.timestamps[1:], strict=False)]


def _sending_rate(phases: Sequence[Phase]) -> float:
    """Uploads per second actually sent in open-loop phases."""
    spans = [max(s.sent for s in p.samples) - p.first_sent for p in phases]
    return sum(len(p.samples) - 1 for p in phases) / sum(spans)


def mode_figures(phases: Sequence[Phase], mode: str) -> dict[str, float]:
    """The figures of one mode, pooled over its rounds (NaN where they do not apply)."""
    throughput, latency = _select(phases, mode, "throughput"), _select(phases, mode, "latency")
    samples = [s for p in latency for s in p.ok]
    answered = [s.answered - s.due for s in samples]
    visible = [s.visible - s.due for s in samples if s.visible is not None]
    db = [s.published_at - s.sent_wall for s in samples if s.published_at is not None]
    signing = mode in SIGNING
    return {
        "uploads_per_s": throughput_of(throughput),
        "published_per_s": published_rate_of(throughput) if signing else float("nan"),
        "server_cpu_ms_per_upload": cpu_ms_per_upload(throughput, "server"),
        "latency_server_cpu_ms_per_upload": cpu_ms_per_upload(latency, "server"),
        "generator_cpu_ms_per_upload": cpu_ms_per_upload([*throughput, *latency], "generator"),
        "achieved_rate": _sending_rate(latency),
        "send_lag_p99": percentile([s.sent - s.due for p in latency for s in p.samples], 99),
        "answered_p50": percentile(answered, 50),
        "answered_p99": percentile(answered, 99),
        "visible_p50": percentile(visible, 50),
        "visible_p99": percentile(visible, 99),
        "visible_max": max(visible, default=float("nan")),
        "db_published_p50": percentile(db, 50),
        "db_published_p99": percentile(db, 99),
        "publication_gap_p50": percentile(_gaps(latency), 50),
        "latency_uploads": len(samples),
        "errors": sum(p.errors for p in (*throughput, *latency)),
        "not_visible": len(samples) - len(visible) if signing else 0,
    }


def _goal(met: bool) -> str:
    return "met" if met else "NOT met"


def summarise(
    backend: str, phases: Sequence[Phase], args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """Print the figures of one backend and return them, by mode."""
    figures = {mode: mode_figures(phases, mode) for mode in args.modes}
    unsigned = figures["unsigned"]
    print(
        f"\n== {backend}: {args.bins} bins, {args.rounds} round(s), publish interval "
        f"{args.publish_interval} s =="
    )
    print(f"throughput, {args.concurrency} concurrent uploaders, {args.uploads} uploads/round:")
    for mode, f in figures.items():
        published = ""
        if mode in SIGNING:
            published = f", {f['published_per_s']:.1f}/s until the signer had published all"
        print(
            f"  {mode:8} {f['uploads_per_s']:7.1f} uploads/s, server CPU "
            f"{f['server_cpu_ms_per_upload']:5.1f} ms/upload{published}"
        )
    for mode in (m for m in args.modes if m in SIGNING):
        ratio = figures[mode]["uploads_per_s"] / unsigned["uploads_per_s"]
        figures[mode]["ratio_to_unsigned"] = ratio
        print(
            f"  {mode}/unsigned {ratio:.3f}: signing costs {1 - ratio:.1%} of upload throughput "
            f"(goal < {GOAL_COST:.0%}: {_goal(1 - ratio < GOAL_COST)})"
        )
    print(
        f"latency at {args.rate:g} uploads/s offered, {args.latency_n} uploads/round; "
        f"published = seen by a client polling timestamp.json every {POLL_INTERVAL * 1000:.0f} ms"
        f" ({WATCHED[args.watch]})"
    )
    for mode, f in figures.items():
        _print_latency(mode, f)
    return figures


def _print_latency(mode: str, f: dict[str, float]) -> None:
    def ms(key: str) -> str:
        return f"{f[key] * 1000:.0f}"

    print(
        f"  {mode:8} sent {f['achieved_rate']:.1f}/s (lag p99 {ms('send_lag_p99')} ms); "
        f"answered p50 {ms('answered_p50')} ms, p99 {ms('answered_p99')} ms; "
        f"server CPU {f['latency_server_cpu_ms_per_upload']:.1f} ms/upload"
    )
    if mode not in SIGNING:
        return
    print(
        f"  {'':8} published p50 {ms('visible_p50')} ms, p99 {ms('visible_p99')} ms, "
        f"max {ms('visible_max')} ms (goal p99 < {GOAL_P99:g} s: "
        f"{_goal(f['visible_p99'] < GOAL_P99)}); a new timestamp every "
        f"{f['publication_gap_p50']:.2f} s (median)"
    )
    print(
        f"  {'':8} database published_at (signer's clock at the start of the batch) - sent: "
        f"p50 {ms('db_published_p50')} ms, p99 {ms('db_published_p99')} ms"
    )
    if f["errors"] or f["not_visible"]:
        print(f"  {'':8} {f['errors']:.0f} failed uploads, {f['not_visible']:.0f} never seen")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run (under a minute; the figures are not)"
    )
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    parser.add_argument(
        "--postgres-url",
        default=default_postgres_url(),
        help="a PostgreSQL URL whose server the throwaway databases are created on (implies "
        "--postgres; default: $TUFPI_BENCH_POSTGRES_URL, else $TUFPI_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--postgres-only", action="store_true", help="skip the SQLite run")
    parser.add_argument(
        "--bins", type=int, help=f"TUFPI_BINS (default {BINS}; --quick: {QUICK_BINS})"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="throughput phase uploaders")
    parser.add_argument("--rate", type=float, help="latency phase uploads/s (default 50)")
    parser.add_argument("--uploads", type=int, help="throughput phase uploads per round and mode")
    parser.add_argument("--latency-seconds", type=float, help="latency phase length")
    parser.add_argument("--warmup", type=int, help="unmeasured uploads first")
    parser.add_argument("--rounds", type=int, help="rounds of both modes, order alternating")
    parser.add_argument(
        "--publish-interval", type=float, default=0.5, help="TUFPI_PUBLISH_INTERVAL"
    )
    parser.add_argument(
        "--separate-signer",
        action="store_true",
        help="a third mode: serve --no-signer with a separate `tufpi signer` process",
    )
    parser.add_argument(
        "--watch",
        choices=sorted(WATCHED),
        default="storage",
        help="where the latency phase's client reads timestamp, snapshot and bins: the "
        "storage directory (what a static server or CDN serves; the default) or GET /tuf/ "
        "from the server under test",
    )
    parser.add_argument("--workdir", type=Path, help="work in this new directory and keep it")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    given_url = any(a.startswith("--postgres-url") for a in sys.argv)
    args.postgres = args.postgres or args.postgres_only or given_url
    if args.postgres and not args.postgres_url:
        parser.error("--postgres needs --postgres-url (or $TUFPI_BENCH_POSTGRES_URL)")
    quick = {
        "uploads": 24,
        "latency_seconds": 2.0,
        "warmup": 3,
        "rounds": 1,
        "rate": 20.0,
        "bins": QUICK_BINS,
    }
    full = {
        "uploads": 2000,
        "latency_seconds": 60.0,
        "warmup": 50,
        "rounds": 2,
        "rate": 50.0,
        "bins": BINS,
    }
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.latency_n = int(args.rate * args.latency_seconds)
    args.modes = [*MODES, "separate"] if args.separate_signer else list(MODES)
    return args


def main() -> None:
    args = parse_args()
    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print("the load generator runs on the same cores as the server")
    results: dict[str, object] = {
        "machine": info,
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    with contextlib.ExitStack() as stack:
        if args.workdir:
            args.workdir.mkdir(parents=True, exist_ok=False)
            root = args.workdir
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tufpi-bench-")))
        if not args.postgres_only:
            sqlite = {m: f"sqlite:///{root / f'sqlite-{m}' / 'tufpi.sqlite3'}" for m in args.modes}
            results["sqlite"] = summarise("sqlite", run_backend("sqlite", sqlite, root, args), args)
        if args.postgres:
            with postgres_databases(args.postgres_url, len(args.modes)) as urls:
                databases = dict(zip(args.modes, urls, strict=True))
                phases = run_backend("postgresql", databases, root, args)
                results["postgresql"] = summarise("postgresql", phases, args)
    print("\nmachine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
