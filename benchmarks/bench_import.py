"""Benchmark ``tufpi import``: real small distribution files brought into a fresh index.

Writes N tiny but well-formed wheels and sdists (``simple_data``: a wheel and an sdist per
version, ten files per project) into one directory, as pypiserver keeps them, then for each
database runs ``tufpi db upgrade``, ``tufpi trust init`` (16,384 bins) and times
``tufpi import DIR``: files per second from the start of the command to complete published
metadata, and where the time goes (discover, hash and read in the worker processes, write:
storing files, rows and targets, pages; signing the one batch). See ``benchmarks/README.md``.

    /tmp/v/bin/python benchmarks/bench_import.py [--files 10000] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_client_bytes import machine
from common import default_postgres_url, postgres_database
from simple_data import Dist, sdist, wheel, write_directory

FILES_PER_PROJECT = 10


def dataset(files: int) -> list[Dist]:
    """``files`` distributions: projects of five versions, a wheel and an sdist each."""
    dists = []
    for i in range(files):
        project, k = divmod(i, FILES_PER_PROJECT)
        make = wheel if k % 2 == 0 else sdist
        dists.append(make(f"import-bench-{project:05d}", f"1.{k // 2}.0"))
    return dists


def tufpi(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tufpi.cli", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )


def run_once(
    label: str, source: Path, work: Path, database_url: str | None, jobs: int | None
) -> dict[str, Any]:
    data = work / f"data-{label}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUFPI_", "PIP_", "UV_"))}
    env.update(
        TUFPI_DATA_DIR=str(data),
        TUFPI_KEYS_DIR=str(work / f"keys-{label}"),
        TUFPI_BINS="16384",
    )
    if database_url:
        env["TUFPI_DATABASE_URL"] = database_url
    tufpi(env, "db", "upgrade")
    tufpi(env, "trust", "init")
    report = work / f"report-{label}.json"
    extra = ["--jobs", str(jobs)] if jobs else []
    cpu_before = _children_cpu()
    start = time.perf_counter()
    tufpi(env, "import", str(source), "--report", str(report), *extra)
    wall = time.perf_counter() - start
    summary: dict[str, Any] = json.loads(report.read_text())
    summary["wall"] = wall
    summary["cpu"] = _children_cpu() - cpu_before
    return summary


def _children_cpu() -> float:
    """CPU seconds (user + system) of the child processes waited for so far: the import
    and its workers, not the database server. Steadier than the wall time on a machine
    that other work shares."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def show(label: str, files: int, summary: dict[str, Any]) -> None:
    seconds = summary["seconds"]
    wall = summary["wall"]
    published = summary["published"]
    print(f"\n{label}: {summary['imported']:,} of {files:,} files imported in {wall:.1f} s")
    print(f"  {summary['imported'] / wall:,.0f} files/s, start of the command to published")
    cpu = summary["cpu"]
    print(
        f"  {cpu:.1f} CPU seconds in the import and its workers: "
        f"{summary['imported'] / cpu:,.0f} files per CPU second"
    )
    print(
        f"  one batch: {published['changes']:,} target changes, {published['bins']:,} bins, "
        f"snapshot {published['snapshot_version']}"
    )
    overlapped = seconds["read and write"]
    writing = seconds.get("write", 0.0)
    rows = [
        (
            "start-up (process, settings, lock)",
            wall - sum(seconds[k] for k in ("discover", "read and write", "publish")),
        ),
        ("discover", seconds["discover"]),
        ("hash and read (workers, beyond the writes)", overlapped - writing),
        ("write: store files", seconds.get("write: store files", 0.0)),
        (
            "write: rows and targets",
            seconds.get("write: rows and targets", 0.0)
            - seconds.get("write: pages", 0.0)
            - seconds.get("write: log entries", 0.0),
        ),
        ("write: log entries (encoded, inserted)", seconds.get("write: log entries", 0.0)),
        ("write: pages", seconds.get("write: pages", 0.0)),
        ("sign and publish the batch", seconds["publish"]),
    ]
    for name, value in rows:
        print(f"  {name:45} {value:7.1f} s  {100 * value / wall:5.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, help="worker processes (default: CPUs)")
    parser.add_argument(
        "--postgres-url",
        default=default_postgres_url(),
        help="admin URL of a PostgreSQL server (a database is created and dropped)",
    )
    parser.add_argument("--workdir", type=Path, help="keep the data here")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 40 files (the figures are not)"
    )
    args = parser.parse_args()
    if args.quick:
        args.files = 40
    with contextlib.ExitStack() as stack:
        work = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        work.mkdir(parents=True, exist_ok=True)
        source = work / "source"
        started = time.perf_counter()
        dists = dataset(args.files)
        write_directory(dists, source)
        size = sum(len(d.content) for d in dists)
        print(f"machine: {machine()}")
        print(
            f"data set: {len(dists):,} files ({size / 1e6:.1f} MB) in "
            f"{len(dists) // FILES_PER_PROJECT:,} projects, written in "
            f"{time.perf_counter() - started:.1f} s"
        )
        show("SQLite", len(dists), run_once("sqlite", source, work, None, args.jobs))
        if args.postgres_url:
            url = stack.enter_context(postgres_database(args.postgres_url))
            show("PostgreSQL", len(dists), run_once("postgresql", source, work, url, args.jobs))


if __name__ == "__main__":
    main()
