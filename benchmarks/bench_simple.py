"""Benchmark tufpi's simple API against pypiserver serving the same files, in one run.

Measures requests/s and p50/p99 latency of

* ``/simple/big-project/``: a project page with 1,000 files, and
* ``/simple/``: the index of 10,000 projects,

for ``tufpi serve`` on SQLite, ``tufpi serve`` on PostgreSQL and ``pypi-server run`` (waitress,
directory cache), each started in turn on 127.0.0.1 and driven by the same load generator
(``loadgen.py``), then prints the ratio tufpi/pypiserver. See ``benchmarks/README.md``.

    /tmp/v/bin/python benchmarks/bench_simple.py [--quick] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import gzip
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib import metadata as importlib_metadata
from pathlib import Path

import httpx
from common import default_postgres_url, postgres_database
from loadgen import LOCALHOST, Result, Target, measure
from simple_data import BIG, Dist, load_tufpi, make_dataset, pending_changes, write_directory

# What pip sends: it prefers PEP 691 JSON (so tufpi answers JSON; pypiserver only has HTML),
# and, through requests/urllib3, accepts gzip.
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
PIP_ACCEPT_ENCODING = "gzip, deflate"
HTML_ACCEPT = "text/html"
GOAL_RATIO = 2.0
GOAL_P99 = 0.050
# Start-up of `tufpi serve` includes the signer's first publication of the loaded targets.
_START_TIMEOUT = 600.0


# -- the servers ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return int(s.getsockname()[1])


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUFPI_")}
    env.update(extra)
    return env


def _bin(name: str) -> str:
    """A console script of this interpreter's environment."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        sys.exit(f"{name} not found next to {sys.executable}: pip install -e '.[test]'")
    return str(path)


def _wait_until_up(process: subprocess.Popen[bytes], port: int, log: Path) -> str:
    """Wait for ``GET /`` to answer 200; returns the ``Server`` header of that answer."""
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            answer = httpx.get(f"http://{LOCALHOST}:{port}/", timeout=2)
            if answer.status_code == 200:
                return str(answer.headers.get("server", ""))
        time.sleep(0.2)
    sys.exit(f"server did not start in {_START_TIMEOUT:g} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def running(args: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """Run a server until the block ends, once it answers; yields its ``Server`` header."""
    with log.open("wb") as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield _wait_until_up(process, port, log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def pypiserver_command(port: int, packages: Path) -> list[str]:
    # "auto" runs waitress when it is installed (checked from the Server header): one process,
    # waitress's default 4 threads. cached-dir is the watchdog directory cache, pypiserver's
    # documented setting for "serving thousands of packages".
    return [
        _bin("pypi-server"),
        "run",
        "--host",
        LOCALHOST,
        "--port",
        str(port),
        "--server",
        "auto",
        "--backend",
        "cached-dir",
        "--disable-fallback",
        str(packages),
    ]


def _wait_for_signer(database_url: str) -> None:
    """Measure only once the in-process signer has published every loaded target."""
    deadline = time.monotonic() + _START_TIMEOUT
    while (pending := pending_changes(database_url)) > 0:
        if time.monotonic() > deadline:
            sys.exit(f"the signer still has {pending} changes to publish")
        time.sleep(1)


# -- measuring ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Page:
    label: str
    path: str
    entries: int  # how many links a correct answer lists


@dataclasses.dataclass(frozen=True)
class Row:
    server: str
    page: Page
    accept: str
    result: Result
    size: int  # bytes of the body as sent (compressed, when it was)


@dataclasses.dataclass(frozen=True)
class Plan:
    requests: int
    warmup: int
    concurrency: int
    max_seconds: float
    pages: tuple[Page, ...]


def _checker(page: Page, sizes: list[int]) -> Callable[[bytes], None]:
    """Refuse a body that does not list exactly the expected files or projects; note its
    size in ``sizes``."""

    def check(body: bytes) -> None:
        sizes.append(len(body))
        if body.startswith(b"\x1f\x8b"):
            body = gzip.decompress(body)
        if body.startswith(b"{"):
            data = json.loads(body)
            found = len(data["files"] if "files" in data else data["projects"])
        else:
            found = body.count(b"</a>")
        if found != page.entries:
            raise SystemExit(f"{page.path}: listed {found} entries, expected {page.entries}")

    return check


def run_server(name: str, port: int, accepts: dict[str, str], plan: Plan) -> list[Row]:
    """Warm up, then measure, each page with each Accept header."""
    rows = []
    for page in plan.pages:
        for label, accept in accepts.items():
            target = Target(port, page.path, accept, PIP_ACCEPT_ENCODING)
            sizes: list[int] = []
            check = _checker(page, sizes)
            measure(target, plan.warmup, plan.concurrency, plan.max_seconds, check)
            result = measure(target, plan.requests, plan.concurrency, plan.max_seconds, check)
            rows.append(Row(name, page, label, result, sizes[-1]))
            print(
                f"  {name:<17} {page.path:<22} {label:<11} {result.rps:8.1f} req/s  "
                f"p50 {result.percentile(50) * 1000:7.1f} ms  "
                f"p99 {result.percentile(99) * 1000:7.1f} ms",
                flush=True,
            )
    return rows


def measure_pypiserver(work: Path, plan: Plan) -> list[Row]:
    port = _free_port()
    command = pypiserver_command(port, work / "pypiserver-packages")
    with running(command, _clean_env(), port, work / "pypiserver.log") as http_server:
        if http_server != "waitress":
            sys.exit(f"pypiserver runs on {http_server!r}, not waitress: pip install waitress")
        return run_server("pypiserver", port, {"pip (HTML)": PIP_ACCEPT}, plan)


def initialised_tufpi(base: Path, database_url: str) -> tuple[dict[str, str], int]:
    """A tufpi instance under ``base`` (``data/``, ``keys/``) on ``database_url``, its
    tables made and its signed metadata initialised: the environment to serve it with,
    and the free port it will listen on."""
    (base / "data").mkdir(parents=True)
    port = _free_port()
    env = _clean_env(
        TUFPI_DATA_DIR=str(base / "data"),
        TUFPI_DATABASE_URL=database_url,
        TUFPI_KEYS_DIR=str(base / "keys"),
        TUFPI_HOST=LOCALHOST,
        TUFPI_PORT=str(port),
    )
    for step in (["db", "upgrade"], ["trust", "init"]):
        subprocess.run([_bin("tufpi"), *step], env=env, check=True, capture_output=True)
    return env, port


def measure_tufpi(
    label: str, database_url: str, dists: list[Dist], work: Path, plan: Plan
) -> list[Row]:
    """Initialise and load a tufpi instance, serve it, measure it."""
    base = work / f"tufpi-{label.lower()}"
    data_dir = base / "data"
    started = time.perf_counter()
    env, port = initialised_tufpi(base, database_url)
    load_tufpi(dists, database_url, data_dir / "files")
    print(f"tufpi on {label}: initialised and loaded in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    command = [_bin("tufpi"), "serve", "--log-level", "warning"]
    with running(command, env, port, base / "serve.log"):
        _wait_for_signer(database_url)
        print(
            f"tufpi on {label}: serving, loaded targets signed in "
            f"{time.perf_counter() - started:.0f} s"
        )
        accepts = {"pip (JSON)": PIP_ACCEPT, "text/html": HTML_ACCEPT}
        return run_server(f"tufpi {label}", port, accepts, plan)


# -- reporting ------------------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:
        return "not installed"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> list[str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        ram = f"{kib / 1024 / 1024:.1f} GiB"
    versions = ", ".join(
        f"{d} {_version(d)}" for d in ("tufpi", "uvicorn", "starlette", "pypiserver", "waitress")
    )
    return [
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- CPUs (nproc): {os.cpu_count()}, {cpu}",
        f"- RAM: {ram}",
        f"- Python {platform.python_version()} on {platform.platform()}",
        f"- {versions}",
    ]


def report(rows: list[Row], plan: Plan) -> str:
    lines = [
        "| server | page | Accept | body KiB | requests | req/s | p50 ms | p99 ms |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.server} | `{r.page.path}` ({r.page.label}) | {r.accept} | "
            f"{r.size / 1024:.0f} | {r.result.requests} | {r.result.rps:.0f} | "
            f"{r.result.percentile(50) * 1000:.1f} | {r.result.percentile(99) * 1000:.1f} |"
        )
    lines += [
        "",
        f"Ratio tufpi/pypiserver in requests/s (goal: >= {GOAL_RATIO:g}x, and tufpi's p99 "
        f"< {GOAL_P99 * 1000:g} ms):",
        "",
        "| page | tufpi on | Accept | ratio | tufpi p99 ms | goal |",
        "|---|---|---|---:|---:|---|",
    ]
    base = {r.page.path: r.result for r in rows if r.server == "pypiserver"}
    for r in rows:
        if r.server == "pypiserver":
            continue
        ratio = r.result.rps / base[r.page.path].rps
        p99 = r.result.percentile(99)
        met = "met" if ratio >= GOAL_RATIO and p99 < GOAL_P99 else "MISSED"
        lines.append(
            f"| `{r.page.path}` | {r.server.removeprefix('tufpi ')} | {r.accept} | "
            f"{ratio:.1f}x | {p99 * 1000:.1f} | {met} |"
        )
    lines += [
        "",
        f"{plan.concurrency} connections, Accept-Encoding: {PIP_ACCEPT_ENCODING}; per "
        f"measurement at most {plan.requests} requests or {plan.max_seconds:g} s, after a "
        f"warm-up of at most {plan.warmup} requests.",
    ]
    return "\n".join(lines)


# -- main -----------------------------------------------------------------------------------


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 300 projects, 50 files, 100 requests (not for the figures)",
    )
    parser.add_argument("--requests", type=int, help="requests per measurement (default 3000)")
    parser.add_argument("--warmup", type=int, help="warm-up requests (default 200)")
    parser.add_argument("--max-seconds", type=float, help="cap per measurement (default 30)")
    parser.add_argument("--concurrency", type=int, default=8, help="connections (default 8)")
    parser.add_argument("--projects", type=int, help="projects (default 10000)")
    parser.add_argument("--files", type=int, help="files of big-project (default 1000)")
    parser.add_argument(
        "--postgres-url",
        default=default_postgres_url(),
        help="admin URL of a PostgreSQL server; a scratch database is created and dropped "
        "(env TUFPI_BENCH_POSTGRES_URL or TUFPI_TEST_POSTGRES_URL; omitted: SQLite only)",
    )
    parser.add_argument("--workdir", type=Path, help="keep the data set and logs here")
    return parser.parse_args(argv)


def _plan(args: argparse.Namespace) -> Plan:
    quick = args.quick
    args.projects = args.projects or (300 if quick else 10_000)
    args.files = args.files or (50 if quick else 1_000)
    pages = (
        Page(f"project page, {args.files:,} files", f"/simple/{BIG}/", args.files),
        Page(f"index, {args.projects:,} projects", "/simple/", args.projects),
    )
    return Plan(
        requests=args.requests or (100 if quick else 3000),
        warmup=args.warmup or (10 if quick else 200),
        concurrency=args.concurrency,
        max_seconds=args.max_seconds or (2.0 if quick else 30.0),
        pages=pages,
    )


def _workdir(args: argparse.Namespace, stack: contextlib.ExitStack) -> Path:
    if not args.workdir:
        return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tufpi-bench-")))
    work: Path = args.workdir.resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    return work


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    plan = _plan(args)
    load_before = _load()
    with contextlib.ExitStack() as stack:
        work = _workdir(args, stack)
        dists = make_dataset(args.projects, args.files)
        write_directory(dists, work / "pypiserver-packages")
        print(f"data set: {len(dists):,} files", flush=True)
        rows = measure_pypiserver(work, plan)
        sqlite_url = f"sqlite:///{work / 'tufpi-sqlite' / 'data' / 'tufpi.sqlite3'}"
        rows += measure_tufpi("SQLite", sqlite_url, dists, work, plan)
        if args.postgres_url:
            database_url = stack.enter_context(postgres_database(args.postgres_url))
            rows += measure_tufpi("PostgreSQL", database_url, dists, work, plan)
        else:
            print("PostgreSQL: skipped (no --postgres-url)")
    load = f"- load average (1, 5, 15 min) at the start: {load_before}; at the end: {_load()}"
    print("\nMachine:\n" + "\n".join([*machine(), load]) + "\n")
    print(report(rows, plan))
    if args.quick:
        print("\n--quick: a smoke run on a small data set; the goal is for the full run.")


if __name__ == "__main__":
    main()
