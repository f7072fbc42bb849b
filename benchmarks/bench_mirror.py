"""A mirrored file's first and second download through tufpi, and its project page's first
and cached request, against the same requests made straight to upstream, in the same run.
See ``benchmarks/README.md``.

    .venv/bin/python benchmarks/bench_mirror.py            # 10 kB, 1 MB, 20 MB: 20 files each
    .venv/bin/python benchmarks/bench_mirror.py --quick    # 10 kB and 200 kB: 2 files each

Upstream is a real ``tufpi serve`` on 127.0.0.1 (PyPI's shape: PEP 691 JSON pages with PEP
700 sizes and PEP 658 metadata files); the mirror a second ``tufpi serve`` whose
``upstream`` is it. Every file is a project of its own, never asked for before its turn.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import hashlib
import json
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.support: the suite's servers and clients

from common import machine  # noqa: E402

from tests.support.server import IndexServer, start  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402
from tests.support.wheelfile import zip_wheel  # noqa: E402

JSON = "application/vnd.pypi.simple.v1+json"
SIZES = (10_000, 1_000_000, 20_000_000)
QUICK_SIZES = (10_000, 200_000)
# The requests of one file, in the order they are made; the first of each group is the
# baseline the others are compared with.
PAGE_STEPS = ("page: direct from upstream", "page: first through tufpi", "page: cached")
FILE_STEPS = ("file: direct from upstream", "file: first through tufpi", "file: second")
LAGS = ("page signed after", "file re-signed after")


def label(size: int) -> str:
    """``10kB``, ``1MB``, ``20MB``: a size as the tables show it (decimal units)."""
    for unit, scale in (("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{size / scale:g}{unit}"
    return f"{size}B"


# --- the files ----------------------------------------------------------------------------


def wheel(name: str, size: int, seed: int) -> tuple[str, bytes]:
    """A valid wheel of ``name`` 1.0 of about ``size`` bytes: random bytes, stored (not
    deflated, so the size is what travels), the same for the same arguments."""
    dist = re.sub(r"[-_.]+", "_", name)
    info = f"{dist}-1.0.dist-info"
    files = {
        f"{dist}/__init__.py": b"",
        f"{dist}/payload.bin": random.Random(seed).randbytes(max(size - 800, 0)),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    return f"{dist}-1.0-py3-none-any.whl", zip_wheel(files, info)


@dataclasses.dataclass(frozen=True)
class File:
    """One project of the data set and its one wheel."""

    project: str
    size: int
    filename: str
    sha256: str
    length: int


def write_files(directory: Path, sizes: tuple[int, ...], count: int) -> list[File]:
    """``count`` wheels of each size, each of a project of its own, written to
    ``directory``, in the order they will be measured."""
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for size in sizes:
        for number in range(count):
            project = f"bench-mirror-{label(size).lower()}-{number}"
            filename, data = wheel(project, size, seed=size * 1000 + number)
            (directory / filename).write_bytes(data)
            digest = hashlib.sha256(data).hexdigest()
            files.append(File(project, size, filename, digest, len(data)))
    return files


# --- the servers --------------------------------------------------------------------------


def pending(server: IndexServer) -> int | None:
    """The changes the server's signer has not published yet (its ``/metrics``)."""
    with contextlib.suppress(httpx.HTTPError):
        for line in httpx.get(server.url + "metrics", timeout=5).text.splitlines():
            if line.startswith("tufpi_pending_changes "):
                return int(line.split()[1])
    return None


def _published(server: IndexServer) -> bool:
    return pending(server) == 0


def quiet(*servers: IndexServer) -> float:
    """Wait until no server has a change to publish (so that no signing overlaps a
    measurement); the seconds it took."""
    started = time.perf_counter()
    for server in servers:
        published = functools.partial(_published, server)
        wait_until(published, f"{server.url}: publication", timeout=300, interval=0.02)
    return time.perf_counter() - started


def upload(server: IndexServer, token: str, files: list[File], directory: Path) -> None:
    """Upload ``files`` from ``directory`` to ``server`` as twine does (the form twine
    sends), from this process: a twine process costs a second of the quick run."""
    with httpx.Client(timeout=300, auth=("__token__", token)) as client:
        for file in files:
            fields = {
                ":action": "file_upload",
                "protocol_version": "1",
                "name": file.project,
                "version": "1.0",
                "filetype": "bdist_wheel",
                "pyversion": "py3",
                "metadata_version": "2.1",
                "sha256_digest": file.sha256,
            }
            content = (directory / file.filename).read_bytes()
            response = client.post(
                server.url + "legacy/",
                data=fields,
                files={"content": (file.filename, content, "application/octet-stream")},
            )
            if response.status_code != 200:
                sys.exit(f"upload of {file.filename}: {response.status_code} {response.text}")


@contextlib.contextmanager
def servers(
    work: Path, bins: int, files: list[File], directory: Path
) -> Iterator[tuple[IndexServer, IndexServer]]:
    """(upstream, mirror): a tufpi holding ``files`` (uploaded, published), and a tufpi
    mirroring it; both SQLite, their access logs off."""
    quiet_log = ["--log-level", "warning"]
    with contextlib.ExitStack() as stack:
        started = time.perf_counter()
        upstream = start(work / "upstream", bins=str(bins), serve_args=quiet_log)
        stack.callback(upstream.stop)
        upload(upstream, upstream.new_user("bench"), files, directory)
        mirror = start(
            work / "mirror",
            bins=str(bins),
            serve_args=quiet_log,
            upstream=upstream.simple,
            upstream_refresh="3600",  # the cached page is served as stored, never refreshed
        )
        stack.callback(mirror.stop)
        quiet(upstream, mirror)
        print(f"servers ready ({bins} bins each): {time.perf_counter() - started:.1f} s")
        yield upstream, mirror


# --- the measurements ---------------------------------------------------------------------


def timed_get(client: httpx.Client, url: str, accept: str | None = None) -> tuple[float, bytes]:
    """One GET of ``url``, read to its last byte and decoded: (seconds, body). A page is
    asked for as JSON, gzip accepted; a file (``accept`` None) as stored, as pip asks for
    them. Exits unless it is 200."""
    headers = {"accept": accept} if accept else {"accept-encoding": "identity"}
    started = time.perf_counter()
    with client.stream("GET", url, headers=headers) as response:
        body = b"".join(response.iter_bytes())
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        sys.exit(f"GET {url}: {response.status_code} {response.reason_phrase}\n{body[:500]!r}")
    return elapsed, body


def file_url(page_url: str, page: bytes, filename: str) -> str:
    """The absolute URL of ``filename`` on a PEP 691 page read from ``page_url``."""
    for entry in json.loads(page)["files"]:
        if entry["filename"] == filename:
            return urllib.parse.urljoin(page_url, str(entry["url"]))
    sys.exit(f"{filename} is not on {page_url}")


@dataclasses.dataclass
class Figures:
    """Seconds by (size, step)."""

    times: dict[tuple[int, str], list[float]] = dataclasses.field(default_factory=dict)

    def add(self, size: int, step: str, seconds: float) -> None:
        self.times.setdefault((size, step), []).append(seconds)

    def of(self, size: int | None, step: str) -> list[float]:
        """Every time of ``step`` for files of ``size`` (None: of every size)."""
        found = []
        for (s, name), times in self.times.items():
            if name == step and size in (None, s):
                found += times
        return found


def _same(body: bytes, file: File, where: str) -> None:
    if len(body) != file.length or hashlib.sha256(body).hexdigest() != file.sha256:
        sys.exit(f"{where} sent other bytes for {file.filename} ({len(body)} bytes)")


def measure_one(
    client: httpx.Client, upstream: IndexServer, mirror: IndexServer, file: File, figures: Figures
) -> None:
    """The page's three requests, then the file's three downloads, each after both servers
    have nothing left to publish; and how long the mirror took to sign what each first
    request recorded."""
    direct_page = f"{upstream.simple}{file.project}/"
    mirror_page = f"{mirror.simple}{file.project}/"
    quiet(upstream, mirror)
    seconds, page = timed_get(client, direct_page, JSON)
    figures.add(file.size, PAGE_STEPS[0], seconds)
    seconds, mirrored = timed_get(client, mirror_page, JSON)
    figures.add(file.size, PAGE_STEPS[1], seconds)
    figures.add(file.size, LAGS[0], quiet(mirror))
    seconds, _ = timed_get(client, mirror_page, JSON)
    figures.add(file.size, PAGE_STEPS[2], seconds)
    quiet(upstream, mirror)
    direct_url = file_url(direct_page, page, file.filename)
    mirror_url = file_url(mirror_page, mirrored, file.filename)
    for step, url in zip(FILE_STEPS, (direct_url, mirror_url, mirror_url), strict=True):
        seconds, body = timed_get(client, url)
        figures.add(file.size, step, seconds)
        _same(body, file, step)
        if step == FILE_STEPS[1]:
            figures.add(file.size, LAGS[1], quiet(mirror))


def measure(upstream: IndexServer, mirror: IndexServer, files: list[File]) -> Figures:
    figures = Figures()
    with httpx.Client(timeout=900) as client:
        for file in files:
            measure_one(client, upstream, mirror, file, figures)
            times = [figures.times[file.size, step][-1] * 1000 for step in FILE_STEPS]
            print(
                f"{file.filename:42} direct {times[0]:8.1f} ms, first {times[1]:8.1f} ms, "
                f"second {times[2]:8.1f} ms",
                flush=True,
            )
    return figures


# --- the report ---------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    """The nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


def _row(name: str, what: str, values: list[float], base: list[float] | None) -> str:
    median = statistics.median(values)
    ratio = f"{median / statistics.median(base):.2f}x" if base else ""
    return (
        f"| {name} | {what} | {len(values)} | {median * 1000:.1f} | {p95(values) * 1000:.1f} "
        f"| {ratio} |"
    )


def report(figures: Figures, sizes: tuple[int, ...]) -> list[str]:
    """Per size, the file's three downloads (ratio: median against the direct download);
    over every size, the page's three requests (against the direct request) and the
    signing lags."""
    lines = ["", "| file | request | n | median ms | p95 ms | ratio to direct |"]
    lines.append("|---|---|---:|---:|---:|---:|")
    for size in sizes:
        base = figures.of(size, FILE_STEPS[0])
        for step in FILE_STEPS:
            ratio_base = None if step == FILE_STEPS[0] else base
            lines.append(_row(label(size), step, figures.of(size, step), ratio_base))
    base = figures.of(None, PAGE_STEPS[0])
    for step in PAGE_STEPS:
        ratio_base = None if step == PAGE_STEPS[0] else base
        lines.append(_row("any", step, figures.of(None, step), ratio_base))
    lines += [_row("any", step, figures.of(None, step), None) for step in LAGS]
    lines.append("")
    for size in sizes:
        rates = [size / statistics.median(figures.of(size, step)) / 1e6 for step in FILE_STEPS]
        shown = [f"{r:.1f}" if r < 10 else f"{r:.0f}" for r in rates]
        lines.append(
            f"{label(size)} at the median: direct {shown[0]} MB/s, first {shown[1]} MB/s, "
            f"second {shown[2]} MB/s"
        )
    return lines


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 files of 10 and 200 kB, 64 bins")
    parser.add_argument("--files", type=int, default=20, help="files of each size")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="bytes")
    parser.add_argument("--bins", type=int, default=16384)
    parser.add_argument("--workdir", type=Path, help="keep both indexes and their logs here")
    args = parser.parse_args()
    if args.quick:
        args.files, args.sizes, args.bins = 2, list(QUICK_SIZES), 64
    return args


def main() -> None:
    args = _arguments()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine().items()), flush=True)
    sizes = tuple(args.sizes)
    with contextlib.ExitStack() as stack:
        work = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        work.mkdir(parents=True, exist_ok=True)
        files = write_files(work / "files", sizes, args.files)
        total = sum(f.length for f in files) / 1e6
        shown = ", ".join(map(label, sizes))
        print(f"{len(files)} wheels, {total:.1f} MB: {args.files} of each of {shown}")
        with servers(work, args.bins, files, work / "files") as (upstream, mirror):
            figures = measure(upstream, mirror, files)
    print("\n".join(report(figures, sizes)))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
