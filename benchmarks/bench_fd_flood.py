"""A flood of idle connections against ``tufpi serve`` at a low open-file limit: how much it
logs, whether ``/simple/`` still answers during the flood, and how soon after. For this tree
and, with ``--baseline DIR``, another source tree. See ``benchmarks/README.md``.

    /tmp/v/bin/python benchmarks/bench_fd_flood.py [--quick] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import free_port, machine, run_tufpi, tree_env
from loadgen import LOCALHOST

HERE = Path(__file__).resolve().parent


def _env(data: Path, tree: Path, port: int = 8080) -> dict[str, str]:
    return tree_env(tree, data, data / "keys", 64, port)


def _served(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _flood(port: int, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.connect((LOCALHOST, port))
        socks.append(s)
    return socks


def run_tree(data: Path, tree: Path, args: argparse.Namespace) -> dict[str, float]:
    """Start ``tree``'s server under ``prlimit``, flood it, then release the flood."""
    port = free_port()
    url = f"http://{LOCALHOST}:{port}/simple/"
    log_path = data / f"serve-{tree.name}.log"
    with log_path.open("wb") as log:
        command = ["prlimit", f"--nofile={args.nofile}", "--", sys.executable, "-m"]
        process = subprocess.Popen(
            [*command, "tufpi.cli", "serve"],
            env=_env(data, tree, port),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            while not _served(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"tufpi serve did not start; see {log_path}")
                time.sleep(0.2)
            before = log_path.stat().st_size
            flood = _flood(port, args.connections)
            answered = polls = 0
            start = time.monotonic()
            while time.monotonic() - start < args.seconds:
                polls += 1
                answered += _served(url)
                time.sleep(0.5)
            during = log_path.stat().st_size - before
            for s in flood:
                s.close()
            released = time.monotonic()
            while not _served(url):
                time.sleep(0.05)
            recovered = time.monotonic() - released
        finally:
            process.terminate()
            process.wait(timeout=30)
    return {
        "log_bytes": during,
        "answered": answered / polls,
        "recovered": recovered,
        "log_bytes_total": log_path.stat().st_size - before,
    }


def report(name: str, f: dict[str, float], args: argparse.Namespace) -> str:
    return (
        f"{name}: {f['log_bytes']:,} bytes of log during the {args.seconds:g} s flood "
        f"({f['log_bytes_total']:,} until stopped), /simple/ answered {f['answered']:.0%} of "
        f"polls during it, answered {f['recovered']:.2f} s after the flood was released"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s of flood: a smoke run")
    parser.add_argument("--nofile", type=int, default=64, help="the server's RLIMIT_NOFILE")
    parser.add_argument("--connections", type=int, default=300, help="idle connections")
    parser.add_argument("--seconds", type=float, default=10, help="how long the flood lasts")
    parser.add_argument("--baseline", type=Path, help="another source tree, measured first")
    parser.add_argument("--workdir", type=Path, help="keep the repository and logs here")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 3.0
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine().items()))
    print(f"RLIMIT_NOFILE {args.nofile}, {args.connections} idle connections, {args.seconds:g} s")
    trees = {"current": HERE.parent}
    if args.baseline:
        trees = {"baseline": args.baseline.resolve(), **trees}
    with contextlib.ExitStack() as stack:
        work = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        data = work / "data"
        env = _env(data, HERE.parent)
        run_tufpi(env, "db", "upgrade")
        run_tufpi(env, "trust", "init")
        for name, tree in trees.items():
            print(report(name, run_tree(data, tree, args), args), flush=True)


if __name__ == "__main__":
    main()
