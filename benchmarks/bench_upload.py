"""CPU per upload in the index's own code: ``IndexService.upload`` called in-process, with no
HTTP, on SQLite and on PostgreSQL; with ``--baseline DIR``, against another source tree too.

Each measurement runs in a fresh worker process (this script again, with ``PYTHONPATH`` set
to the tree measured) on a fresh repository with 16,384 bins: 200 unmeasured uploads, then
``--uploads`` measured ones, of the same wheels bench_publish.py sends. Where the tree has
inspection workers (``tufpi.index.inspector``), the metadata is read in them, as ``tufpi
serve`` reads it, and their CPU time counts. With a baseline, the
two trees alternate (ABBA...) for ``--rounds`` rounds, and the ratio of their medians is
printed.

    /tmp/v/bin/python benchmarks/bench_upload.py [--postgres-url URL] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import default_postgres_url, machine, postgres_database, run_tufpi

HERE = Path(__file__).resolve().parent
WARMUP = 200
BINS = 16384


def _children_cpu() -> float:
    """CPU seconds of this process's live children (the inspection workers, where the tree
    measured has them)."""
    total = 0.0
    for task in Path("/proc/self/task").iterdir():
        for pid in (task / "children").read_text().split():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _extract(services: Any) -> Callable[..., bytes] | None:
    """The server's way of reading an upload's metadata, where the tree measured has one:
    its inspection workers (tufpi.index.inspector), as ``tufpi serve`` builds them."""
    try:
        from tufpi.index.inspector import Inspector, bounds_of
    except ImportError:
        return None
    settings = services.settings
    inspector = Inspector(
        bounds_of(settings), settings.upload_concurrency, settings.inspect_processes
    )
    inspector.start()
    extract: Callable[..., bytes] = inspector.extract
    return extract


def worker(database_url: str | None, uploads: int) -> dict[str, float]:
    """In this process: a new repository, then CPU (this process's and its inspection
    workers') and wall time per upload."""
    from bench_publish import make_wheel, upload_fields

    from tufpi.config import from_environment
    from tufpi.index import upload as steps
    from tufpi.services import Services

    root = Path(tempfile.mkdtemp(prefix="tufpi-bench-upload-"))
    os.environ.update(
        TUFPI_DATA_DIR=str(root / "data"),
        TUFPI_KEYS_DIR=str(root / "keys"),
        TUFPI_BINS=str(BINS),
        TUFPI_DATABASE_URL=database_url or f"sqlite:///{root / 'data' / 'tufpi.sqlite3'}",
    )
    env = dict(os.environ)
    for args in (("db", "upgrade"), ("trust", "init"), ("user", "add", "bench", "--no-password")):
        run_tufpi(env, *args)
    token = run_tufpi(env, "token", "create", "--user", "bench").strip()
    services = Services.from_settings(from_environment(None))
    who = services.accounts.authenticate(("__token__", token))
    extract = _extract(services)
    how = () if extract is None else (extract,)

    def upload(i: int) -> None:
        wheel = make_wheel(i)
        form = steps.parse_form(list(upload_fields(wheel).items()))
        dist = steps.check_dist(form, wheel.filename)
        staged = steps.stage(io.BytesIO(wheel.data), 10**8)
        try:
            services.index.upload(who, form, steps.inspect(form, dist, staged, *how))
        finally:
            staged.discard()

    for i in range(WARMUP):
        upload(i)
    cpu, wall = time.process_time() + _children_cpu(), time.perf_counter()
    for i in range(WARMUP, WARMUP + uploads):
        upload(i)
    return {
        "cpu_ms": 1000 * (time.process_time() + _children_cpu() - cpu) / uploads,
        "wall_ms": 1000 * (time.perf_counter() - wall) / uploads,
    }


def measure(tree: Path, backend: str, admin_url: str | None, uploads: int) -> dict[str, float]:
    """One worker process running ``tree``'s code on a fresh database of ``backend``."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    command = [sys.executable, str(HERE / "bench_upload.py"), "--worker", "--uploads", str(uploads)]
    with contextlib.ExitStack() as stack:
        if backend == "postgresql":
            assert admin_url is not None
            command += ["--database-url", stack.enter_context(postgres_database(admin_url))]
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    figures: dict[str, float] = json.loads(out.splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=800, help="measured uploads per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per tree and database")
    parser.add_argument("--baseline", type=Path, help="another source tree, measured alternately")
    parser.add_argument(
        "--postgres-url",
        default=default_postgres_url(),
        help="a PostgreSQL server for throwaway databases (default: $TUFPI_BENCH_POSTGRES_URL, "
        "else $TUFPI_TEST_POSTGRES_URL; without one, SQLite only)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 10 uploads, 1 round (no figures)"
    )
    args = parser.parse_args()
    if args.quick:
        args.uploads, args.rounds = 10, 1
    if args.worker:
        print(json.dumps(worker(args.database_url, args.uploads)))
        return

    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    trees = {"current": HERE.parent}
    if args.baseline:
        trees = {"baseline": args.baseline.resolve(), **trees}
    backends = ["sqlite", *(["postgresql"] if args.postgres_url else [])]
    for backend in backends:
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for number in range(args.rounds):
            order = list(trees) if number % 2 == 0 else list(trees)[::-1]
            for name in order:
                figures = measure(trees[name], backend, args.postgres_url, args.uploads)
                runs[name].append(figures)
                print(
                    f"[{backend}] round {number + 1} {name:8} {figures['cpu_ms']:6.2f} ms CPU, "
                    f"{figures['wall_ms']:6.2f} ms wall per upload ({trees[name]})"
                )
        medians = {n: statistics.median(r["cpu_ms"] for r in rs) for n, rs in runs.items()}
        summary = ", ".join(f"{n} {m:.2f} ms" for n, m in medians.items())
        print(f"== {backend}: median CPU per upload: {summary}")
        if args.baseline:
            print(f"   current/baseline {medians['current'] / medians['baseline']:.3f}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
