"""Benchmark back-signing: every target of a large index signed into 16,384 bins, from rows in
the database to complete published metadata, against the in-process limit in the same run.

For each size (1,000,000 and 2,273,539 targets by default): a fresh repository
(``tufpi db upgrade``, ``tufpi trust init``), the targets inserted straight into the database
with their hashes and one pending change each (as an import leaves them), then
``tufpi trust publish --all`` in a subprocess: every bin rebuilt from the database, signed
across worker processes, snapshot, timestamp. Measured from the start of that process to the
moment ``timestamp.json`` names the new snapshot, and to the process's exit (the database
has recorded every change as published); the peak memory is the largest sum of the RSS of
the process and its workers, sampled every 0.1 s.

The in-process limit: the same bins' rows, already in memory, built into python-tuf
``Targets``, signed with the same online key and serialised, in this one process, with no
database and no file written. See ``benchmarks/README.md``.

    /tmp/v/bin/python benchmarks/bench_backsign.py [--quick] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench_signer_memory import parse_common, pending, prepare
from common import machine, postgres_database
from sqlalchemy import create_engine, select, update
from tuf.api.serialization.json import JSONSerializer

from tufpi.db.models import Target, TargetChange
from tufpi.keys import load_signer
from tufpi.storage import LocalStorage
from tufpi.trust import roles
from tufpi.trust.store import MetadataStore

BINS = 16384
PEP458_TARGETS = 2_273_539  # PEP 458's count of PyPI's targets (its C8)
GOAL_RATE = 30_000  # targets per second, start to complete published metadata
GOAL_RATIO = 1.5  # at most this many times the in-process limit's time
GOAL_MEMORY = 2 * 1024**3
RSTUF_RATE = 1_000_000 / (55 * 60)  # RSTUF: 1 million artifacts in about 55 minutes
PUBLISHED = re.compile(r"published snapshot (\d+)")


@dataclasses.dataclass
class BacksignRun:
    workers: int
    seconds_to_published: float = 0.0
    seconds_to_exit: float = 0.0
    peak_rss: int = 0
    cpu_seconds: float = 0.0
    output: str = ""


def _tree_rss(pid: int) -> int:
    """The RSS of ``pid`` and all its descendants, in bytes."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                stat = (entry / "stat").read_text().rpartition(")")[2].split()
                children[int(stat[1])].append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def backsign(env: dict[str, str], root: Path, workers: int) -> BacksignRun:
    """Run ``tufpi trust publish --all`` and time it from outside."""
    timestamp = root / "data" / "files" / "tuf" / "timestamp.json"
    before = timestamp.stat().st_mtime_ns
    run = BacksignRun(workers)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "tufpi.cli", "trust", "publish", "--all", "--workers", str(workers)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the progress bar
        text=True,
    )
    while process.poll() is None:
        run.peak_rss = max(run.peak_rss, _tree_rss(process.pid))
        if not run.seconds_to_published and timestamp.stat().st_mtime_ns != before:
            run.seconds_to_published = time.monotonic() - started
        time.sleep(0.1)
    run.seconds_to_exit = time.monotonic() - started
    # The process and the workers it waited for: all the CPU the back-signing used.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.cpu_seconds = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    assert process.stdout is not None
    run.output = process.stdout.read()
    if process.returncode != 0 or not PUBLISHED.search(run.output):
        raise RuntimeError(f"tufpi trust publish failed ({process.returncode}):\n{run.output}")
    if not run.seconds_to_published:
        run.seconds_to_published = run.seconds_to_exit
    return run


def in_process_limit(database_url: str, root: Path, env: dict[str, str]) -> dict[str, float]:
    """Build, sign and serialise every bin from rows held in memory: no database, no files."""
    engine = create_engine(database_url)
    loading = time.monotonic()
    rows: dict[int, list[roles.TargetRow]] = defaultdict(list)
    with engine.connect() as conn:
        query = select(Target.bin, Target.path, Target.length, Target.sha256, Target.sha512)
        for index, path, length, sha256, sha512 in conn.execute(query):
            rows[index].append(roles.TargetRow(path, length, sha256, sha512))
    engine.dispose()
    loaded = time.monotonic() - loading
    store = MetadataStore(LocalStorage(root / "data" / "files"))
    trusted = roles.online_keys(store.root().signed)
    signer = load_signer(f"file2:{Path(env['TUFPI_KEYS_DIR']) / 'online.pem'}", trusted)
    serializer = JSONSerializer(compact=True)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    count = 0
    cpu = time.process_time()
    started = time.perf_counter()
    for index in range(BINS):
        md = roles.bin_role(2, expires, rows.get(index, ()))
        md.sign(signer)
        count += len(md.to_bytes(serializer)) > 0
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    targets = sum(len(r) for r in rows.values())
    return {
        "bins": count,
        "targets": targets,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "load_seconds": loaded,
    }


def measure(
    backend: str, database_url: str, root: Path, count: int, args: argparse.Namespace
) -> dict[str, Any]:
    env, engine, fill_seconds = prepare(f"{backend}, {count:,}", database_url, root, count)
    try:
        runs = []
        for workers in args.workers:
            if runs:
                # The same work for every run: each change pending again (not timed).
                with engine.begin() as conn:
                    conn.execute(
                        update(TargetChange).values(published_version=None, published_at=None)
                    )
            print(
                f"[{backend}, {count:,}] tufpi trust publish --all --workers {workers} "
                f"(load {os.getloadavg()[0]:.2f})..."
            )
            runs.append(backsign(env, root, workers))
            if pending(engine):
                raise RuntimeError("changes still pending after the back-signing")
    finally:
        engine.dispose()
    print(f"[{backend}, {count:,}] the in-process limit (load {os.getloadavg()[0]:.2f})...")
    limit = in_process_limit(database_url, root, env)
    return report(backend, count, fill_seconds, runs, limit)


def report(
    backend: str,
    count: int,
    fill_seconds: float,
    runs: list[BacksignRun],
    limit: dict[str, float],
) -> dict[str, Any]:
    limit_rate = limit["targets"] / limit["seconds"]
    print(f"\n== {backend}: back-signing {count:,} targets into {BINS} bins ==")
    print(f"  filled the tables in {fill_seconds:.1f} s")
    print(
        f"  in-process limit (one process, rows in memory, no I/O): {limit['seconds']:.1f} s, "
        f"{limit_rate:,.0f} targets/s (rows loaded in {limit['load_seconds']:.1f} s, not counted)"
    )
    figures: dict[str, Any] = {
        "backend": backend,
        "targets": count,
        "bins": BINS,
        "fill_seconds": fill_seconds,
        "in_process_limit": {**limit, "targets_per_second": limit_rate},
        "runs": [],
    }
    for run in runs:
        rate = count / run.seconds_to_published
        ratio = run.seconds_to_published / limit["seconds"]
        workers = run.workers or os.cpu_count()
        print(f"  tufpi trust publish --all, {workers} signing worker(s):")
        print(
            f"    timestamp.json in place after {run.seconds_to_published:.1f} s: "
            f"{rate:,.0f} targets/s (goal >= {GOAL_RATE:,}: "
            f"{'met' if rate >= GOAL_RATE else 'NOT met'}); "
            f"{rate / RSTUF_RATE:,.0f}x RSTUF's ~{RSTUF_RATE:,.0f}/s"
        )
        print(
            f"    {ratio:.2f}x the in-process limit's time (goal <= {GOAL_RATIO}: "
            f"{'met' if ratio <= GOAL_RATIO else 'NOT met'})"
        )
        print(
            f"    CPU time of the process and its workers: {run.cpu_seconds:.1f} s, "
            f"{run.cpu_seconds / limit['cpu_seconds']:.2f}x the in-process limit's "
            f"({limit['cpu_seconds']:.1f} s)"
        )
        print(
            f"    exit (every change recorded as published) after {run.seconds_to_exit:.1f} s: "
            f"{count / run.seconds_to_exit:,.0f} targets/s"
        )
        print(
            f"    peak RSS, process and workers: {run.peak_rss / 1024**2:,.0f} MiB (goal < 2 GiB: "
            f"{'met' if run.peak_rss < GOAL_MEMORY else 'NOT met'})"
        )
        for line in run.output.strip().splitlines():
            print(f"    | {line}")
        figures["runs"].append(
            {
                **dataclasses.asdict(run),
                "targets_per_second": rate,
                "ratio_to_limit": ratio,
            }
        )
    return figures


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10,000 targets only")
    parser.add_argument(
        "--targets",
        type=int,
        nargs="+",
        help=f"sizes to measure (default 1,000,000 and {PEP458_TARGETS:,})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[0],
        help="signing worker counts to run, each in turn (0: one per CPU; default 0)",
    )
    args = parse_common(parser)
    if args.targets is None:
        args.targets = [10_000] if args.quick else [1_000_000, PEP458_TARGETS]
    return args


def main() -> None:
    args = parse_args()
    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    results = []
    with contextlib.ExitStack() as stack:
        if args.workdir:
            args.workdir.mkdir(parents=True, exist_ok=False)
            base = args.workdir
        else:
            base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tufpi-bench-")))
        for count in args.targets:
            root = base / f"{'postgresql' if args.postgres else 'sqlite'}-{count}"
            root.mkdir()
            with contextlib.ExitStack() as per_size:
                if args.postgres:
                    url = per_size.enter_context(postgres_database(args.postgres_url))
                    results.append(measure("postgresql", url, root, count, args))
                else:
                    url = f"sqlite:///{root / 'data' / 'tufpi.sqlite3'}"
                    results.append(measure("sqlite", url, root, count, args))
            if not args.workdir:
                shutil.rmtree(root)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
