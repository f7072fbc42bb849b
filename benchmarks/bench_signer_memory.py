"""Benchmark the signer with a million targets: its peak resident memory and how long it
takes to publish them all.

Migrates a fresh database (``tufpi db upgrade``), signs the empty repository
(``tufpi trust init``, 16,384 bins), then inserts 1,000,000 rows into ``targets`` directly,
spread over the bins by their path as the index would, with one pending ``target_changes``
row each, so the signer has to sign every bin. Then it runs ``tufpi signer`` in a
subprocess until no change is pending, and reports the signer's peak RSS (the larger of
``VmHWM`` in ``/proc/<pid>/status`` and the highest ``VmRSS`` sampled every 0.2 s), the
time until everything was published, the targets published per second, and each
publication the signer logged. See ``benchmarks/README.md``.

    /tmp/v/bin/python benchmarks/bench_signer_memory.py [--quick] [--postgres-url URL] [--targets N]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from common import default_postgres_url, machine, postgres_database, run_tufpi
from sqlalchemy import Engine, create_engine, func, insert, select, text

from tufpi.db.models import Target, TargetChange
from tufpi.trust import layout

BINS = 16384
GOAL_RSS = 1024**3  # the signer's resident memory under 1 GiB with a million targets
CHUNK = 10_000
# "signer: published snapshot 3 (timestamp 3): 16384 bins, 50000 changes"
PUBLISHED = re.compile(r"published snapshot (\d+) \(timestamp \d+\): (\d+) bins, (\d+) changes")


def _environment(root: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUFPI_")}
    env.update(
        TUFPI_DATA_DIR=str(root / "data"),
        TUFPI_KEYS_DIR=str(root / "keys"),
        TUFPI_DATABASE_URL=database_url,
        TUFPI_BINS=str(BINS),
    )
    return env


# -- the million targets -----------------------------------------------------------------------


def _rows(
    start: int, stop: int, now: dt.datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Targets ``start``..``stop`` and their pending changes, shaped like uploaded wheels."""
    targets, changes = [], []
    for i in range(start, stop):
        seed = i.to_bytes(8, "big")
        sha256 = hashlib.sha256(seed).hexdigest()
        sha512 = hashlib.sha512(seed).hexdigest()
        name = f"project_{i // 10}-1.{i % 10}-py3-none-any.whl"
        path = f"packages/{sha256[:2]}/{sha256[2:4]}/{sha256[4:]}/{name}"
        row = {
            "path": path,
            "bin": layout.bin_index(path, BINS),
            "length": 1000 + i % 100_000,
            "sha256": sha256,
            "sha512": sha512,
        }
        targets.append({**row, "project_id": None})
        changes.append({**row, "action": "add", "actor": "bench", "project": None, "created": now})
    return targets, changes


def fill(engine: Engine, count: int) -> float:
    """Insert ``count`` targets and their pending changes; returns the seconds it took."""
    started = time.monotonic()
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        for start in range(0, count, CHUNK):
            targets, changes = _rows(start, min(start + CHUNK, count), now)
            conn.execute(insert(Target), targets)
            conn.execute(insert(TargetChange), changes)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE targets"))
            conn.execute(text("VACUUM ANALYZE target_changes"))
    return time.monotonic() - started


def pending(engine: Engine) -> int:
    with engine.connect() as conn:
        query = select(func.count()).where(TargetChange.published_version.is_(None))
        return int(conn.execute(query.select_from(TargetChange)).scalar() or 0)


# -- the signer --------------------------------------------------------------------------------


@dataclasses.dataclass
class Publication:
    at: float  # seconds since the signer started
    snapshot: int
    bins: int
    changes: int


@dataclasses.dataclass
class SignerRun:
    seconds_to_active: float = 0.0
    seconds_to_done: float = 0.0
    hwm: int = 0  # bytes: VmHWM just before the stop
    cpu_seconds: float = 0.0
    publications: list[Publication] = dataclasses.field(default_factory=list)
    rss_samples: list[tuple[float, int]] = dataclasses.field(default_factory=list)


def _status(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS of ``pid``, in bytes."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found[key] = int(value.split()[0]) * 1024
    return found


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _follow(process: subprocess.Popen[str], started: float, run: SignerRun, log: Path) -> None:
    """Copy the signer's output to ``log``, noting when it became active and each publication."""
    assert process.stdout is not None
    with log.open("w") as out:
        for line in process.stdout:
            at = time.monotonic() - started
            out.write(f"{at:9.2f} {line}")
            out.flush()
            if "signer: active" in line:
                run.seconds_to_active = at
            if match := PUBLISHED.search(line):
                snapshot, bins, changes = map(int, match.groups())
                run.publications.append(Publication(at, snapshot, bins, changes))


def run_signer(env: dict[str, str], engine: Engine, log: Path, timeout: float) -> SignerRun:
    """Run ``tufpi signer`` until nothing is pending; its peak RSS is read just before the stop."""
    run = SignerRun()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "tufpi.cli", "signer", "--log-level", "info"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    follower = threading.Thread(target=_follow, args=(process, started, run, log), daemon=True)
    follower.start()
    try:
        last_count = 0.0
        while time.monotonic() - started < timeout:
            if process.poll() is not None:
                raise RuntimeError(f"tufpi signer exited with {process.returncode}; see {log}")
            run.rss_samples.append((time.monotonic() - started, _status(process.pid)["VmRSS"]))
            if time.monotonic() - last_count > 1.0:
                last_count = time.monotonic()
                if pending(engine) == 0:
                    run.seconds_to_done = time.monotonic() - started
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"the signer did not publish everything in {timeout:.0f} s")
        run.hwm = _status(process.pid)["VmHWM"]
        run.cpu_seconds = _cpu_seconds(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=60)
        follower.join(timeout=10)
    return run


# -- figures -----------------------------------------------------------------------------------


def report(backend: str, count: int, fill_seconds: float, run: SignerRun) -> dict[str, Any]:
    published_at = run.publications[-1].at if run.publications else run.seconds_to_done
    signing = published_at - run.seconds_to_active
    # The kernel updates the high-water mark lazily, so a sample may exceed it: take both.
    sampled = max((r for _, r in run.rss_samples), default=0)
    peak = max(run.hwm, sampled)
    figures = {
        "backend": backend,
        "targets": count,
        "bins": BINS,
        "fill_seconds": fill_seconds,
        "peak_rss_bytes": peak,
        "vmhwm_bytes": run.hwm,
        "max_sampled_rss_bytes": sampled,
        "seconds_to_active": run.seconds_to_active,
        "seconds_to_last_publication": published_at,
        "seconds_to_done": run.seconds_to_done,
        "signer_cpu_seconds": run.cpu_seconds,
        "targets_per_second": count / signing if signing > 0 else float("nan"),
        "publications": [dataclasses.asdict(p) for p in run.publications],
    }
    rss_mib = peak / 1024**2
    met = "met" if peak < GOAL_RSS else "NOT met"
    print(f"\n== {backend}: {count:,} targets in {BINS} bins ==")
    print(f"  filled the tables in {fill_seconds:.1f} s")
    print(
        f"  signer peak RSS {rss_mib:.0f} MiB (goal < 1 GiB: {met}): VmHWM "
        f"{run.hwm / 1024**2:.1f} MiB, highest VmRSS sampled {sampled / 1024**2:.1f} MiB"
    )
    print(
        f"  active after {run.seconds_to_active:.1f} s; last publication at {published_at:.1f} s;"
    )
    print(
        f"  publishing took {signing:.1f} s: {figures['targets_per_second']:,.0f} targets/s, "
        f"signer CPU {run.cpu_seconds:.1f} s"
    )
    print(f"  {len(run.publications)} publications:")
    previous = run.seconds_to_active
    for p in run.publications:
        print(
            f"    at {p.at:8.1f} s (+{p.at - previous:6.1f} s): snapshot {p.snapshot}, "
            f"{p.bins} bins, {p.changes} changes"
        )
        previous = p.at
    return figures


def prepare(
    label: str, database_url: str, root: Path, count: int
) -> tuple[dict[str, str], Engine, float]:
    """A fresh repository with ``count`` targets pending: (environment, engine, fill seconds)."""
    env = _environment(root, database_url)
    print(f"[{label}] tufpi db upgrade, tufpi trust init ({BINS} bins)...")
    run_tufpi(env, "db", "upgrade")
    run_tufpi(env, "trust", "init")
    engine = create_engine(database_url)
    print(f"[{label}] inserting {count:,} targets and pending changes...")
    return env, engine, fill(engine, count)


def measure(
    backend: str, database_url: str, root: Path, args: argparse.Namespace
) -> dict[str, Any]:
    env, engine, fill_seconds = prepare(backend, database_url, root, args.targets)
    try:
        print(f"[{backend}] running tufpi signer (load {os.getloadavg()[0]:.2f})...")
        run = run_signer(env, engine, root / "signer.log", args.timeout)
    finally:
        engine.dispose()
    return report(backend, args.targets, fill_seconds, run)


def parse_common(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Add the options every database benchmark has (--postgres, --postgres-url, --workdir,
    --json) and parse."""
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL, not SQLite")
    parser.add_argument(
        "--postgres-url",
        default=default_postgres_url(),
        help="a PostgreSQL URL whose server the throwaway databases are created on (implies "
        "--postgres; default: $TUFPI_BENCH_POSTGRES_URL, else $TUFPI_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--workdir", type=Path, help="work in this new directory and keep it")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    args.postgres = args.postgres or any(a.startswith("--postgres-url") for a in sys.argv)
    if args.postgres and not args.postgres_url:
        parser.error("--postgres needs --postgres-url (or $TUFPI_BENCH_POSTGRES_URL)")
    return args


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10,000 targets instead")
    parser.add_argument("--targets", type=int, help="how many targets (default 1,000,000)")
    parser.add_argument("--timeout", type=float, default=4 * 3600.0, help="give up after (s)")
    args = parse_common(parser)
    if args.targets is None:
        args.targets = 10_000 if args.quick else 1_000_000
    return args


def main() -> None:
    args = parse_args()
    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    with contextlib.ExitStack() as stack:
        if args.workdir:
            args.workdir.mkdir(parents=True, exist_ok=False)
            root = args.workdir
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tufpi-bench-")))
        if args.postgres:
            url = stack.enter_context(postgres_database(args.postgres_url))
            figures = measure("postgresql", url, root, args)
        else:
            figures = measure("sqlite", f"sqlite:///{root / 'data' / 'tufpi.sqlite3'}", root, args)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, **figures}, indent=2) + "\n")


if __name__ == "__main__":
    main()
