"""Does scraping ``/metrics`` slow ``/simple/`` down? Latency of ``GET /simple/`` alone, then
while ``--scrapers`` clients request ``/metrics`` as fast as they can, on a repository of
16,384 bins (the default), for this tree and, with ``--baseline DIR``, another source tree
(the same repository, served by each in turn). See ``benchmarks/README.md``.

    /tmp/v/bin/python benchmarks/bench_metrics.py [--quick] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from common import free_port, machine, run_tufpi, tree_env
from loadgen import LOCALHOST, Result, Target, measure

HERE = Path(__file__).resolve().parent


def _env(data: Path, tree: Path, bins: int, port: int = 8080) -> dict[str, str]:
    return tree_env(tree, data, data / "keys", bins, port)


@contextlib.contextmanager
def serving(data: Path, tree: Path, bins: int) -> Iterator[tuple[int, int]]:
    """``tufpi serve`` from ``tree`` on the repository in ``data``: (port, pid)."""
    port = free_port()
    log = (data / f"serve-{tree.name}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "tufpi.cli", "serve", "--log-level", "warning"],
        env=_env(data, tree, bins, port),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"tufpi serve did not start; see {log.name}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://{LOCALHOST}:{port}/simple/", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (not its children: the signer is not what is measured)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# What the scrapers request: nothing (/simple/ alone), the cheapest read a TUF client makes
# (the reference: any request costs the event loop something), then /metrics.
LOADS = ("", "/tuf/timestamp.json", "/metrics")


def _scrape(port: int, path: str, seconds: float, concurrency: int) -> None:
    """The scrapers' process: ``path`` over ``concurrency`` connections for ``seconds``."""
    result = measure(Target(port, path, "*/*"), 10**9, concurrency, seconds)
    print(json.dumps({"requests": result.requests, "p50": result.percentile(50)}))


def _simple(port: int, seconds: float) -> Result:
    return measure(Target(port, "/simple/", "text/html"), 10**9, 4, seconds)


def _under_load(port: int, pid: int, path: str, args: argparse.Namespace) -> dict[str, float]:
    """``/simple/`` while ``args.scrapers`` clients request ``path`` as fast as they can."""
    if not path:
        return {"simple": _simple(port, args.seconds).percentile(99), "rate": 0, "p50": 0}
    scrape = ["--scrape", str(port), path, str(args.seconds + 2), str(args.scrapers)]
    scrapers = subprocess.Popen([sys.executable, __file__, *scrape], stdout=subprocess.PIPE)
    time.sleep(1)  # the scrapers' connections are up and busy
    cpu = _cpu_seconds(pid)
    simple = _simple(port, args.seconds)
    cpu = _cpu_seconds(pid) - cpu
    out, _ = scrapers.communicate(timeout=args.seconds + 60)
    scraped = json.loads(out.splitlines()[-1])
    return {
        "simple": simple.percentile(99),
        "rate": scraped["requests"] / (args.seconds + 2),
        "p50": scraped["p50"],
        "cpu": cpu / args.seconds,
    }


def run_tree(data: Path, tree: Path, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """``/simple/``'s p99 under each load, against ``tree``'s server."""
    with serving(data, tree, args.bins) as (port, pid):
        _simple(port, 1)  # warm-up
        return {path: _under_load(port, pid, path, args) for path in LOADS}


def report(name: str, figures: dict[str, dict[str, float]]) -> list[str]:
    alone = figures[""]["simple"]
    lines = [f"{name}: /simple/ p99 alone {alone * 1000:.1f} ms"]
    for path in LOADS[1:]:
        f = figures[path]
        lines.append(
            f"{name}: /simple/ p99 {f['simple'] * 1000:7.1f} ms ({f['simple'] / alone:5.2f}x alone)"
            f" while {path} is requested {f['rate']:5.0f}/s (p50 {f['p50'] * 1000:6.1f} ms),"
            f" server CPU {f['cpu']:.0%}"
        )
    ratio = figures["/metrics"]["simple"] / figures[LOADS[1]]["simple"]
    lines.append(f"{name}: /simple/ p99 under /metrics / under {LOADS[1]}: {ratio:.2f}")
    return lines


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="256 bins, 2 s: a smoke run")
    parser.add_argument("--bins", type=int, default=16384)
    parser.add_argument("--seconds", type=float, default=20, help="per measurement")
    parser.add_argument("--scrapers", type=int, default=20, help="concurrent /metrics clients")
    parser.add_argument("--baseline", type=Path, help="another source tree, measured first")
    parser.add_argument("--workdir", type=Path, help="keep the repository and logs here")
    parser.add_argument("--scrape", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.bins, args.seconds = 256, 2.0
    return args


def main() -> None:
    args = _arguments()
    if args.scrape:
        port, path, seconds, concurrency = args.scrape
        _scrape(int(port), path, float(seconds), int(concurrency))
        return
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine().items()))
    print(f"{args.bins} bins, {args.scrapers} scrapers, {args.seconds:g} s per measurement")
    trees = {"current": HERE.parent}
    if args.baseline:
        trees = {"baseline": args.baseline.resolve(), **trees}
    with contextlib.ExitStack() as stack:
        work = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        data = work / "data"
        env = _env(data, HERE.parent, args.bins)
        run_tufpi(env, "db", "upgrade")
        started = time.monotonic()
        run_tufpi(env, "trust", "init")
        print(f"trust init: {time.monotonic() - started:.0f} s")
        for name, tree in trees.items():
            print("\n".join(report(name, run_tree(data, tree, args))), flush=True)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
