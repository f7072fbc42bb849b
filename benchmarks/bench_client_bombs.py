"""Peak memory and time of the verifying client facing a 2 GiB decompression bomb, for each
kind of download it makes, against an honest download of the same kind in the same run.

    .venv/bin/python benchmarks/bench_client_bombs.py [--quick] [--repeat N]

A hostile server on 127.0.0.1 (``tests/support/hostile_http.py``) serves, for each kind, a
gzip body of about 2 MB that inflates to 2 GiB of zeros (the bomb), or an honest gzip body
as long as the kind allows (the baseline). Each download runs in a fresh Python process
doing what the client does for that kind, with tufpi's ``BoundedFetcher`` on tufpi's
``http_client``: ngclient's ``download_bytes`` with its cap for timestamp, snapshot and a
bin (metadata with no signed length), ngclient's ``download_file`` with the signed length for
a page and a file target, and ``BoundedFetcher.get`` with the PEP 658 cap for a ``.metadata``
file. For comparison, one process reads the bomb as the client's reads beside ngclient did
before (plain httpx, the whole body decoded at once), with its address space capped at
1 GiB so that the machine survives it. Each process reports its peak resident memory
(``VmHWM``) and the download's time; the bound the client must keep is 200 MB facing any
bomb.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.support.hostile_http, the server

from common import machine  # noqa: E402

from tests.support import hostile_http  # noqa: E402

MB = 1024 * 1024
RSS_BOUND = 200 * MB
NAIVE_ADDRESS_SPACE = 1024 * MB
# The kinds: how the client reads them, and the limit it reads them to (ngclient's default
# caps for metadata without a signed length; the signed length of a page and a file).
KINDS = {
    "timestamp": ("metadata", 16384),
    "snapshot": ("metadata", 2_000_000),
    "bin": ("metadata", 5_000_000),
    "page": ("target", 64 * 1024),
    "file": ("target", 20 * MB),
    "core-metadata": ("get", 10 * MB),
}


def worker(how: str, url: str, limit: int) -> None:
    """One download in this process, as the client makes it; prints its figures as JSON."""
    from tufpi.client.fetcher import BoundedFetcher, http_client

    if how == "naive":
        # What the client's reads beside ngclient did before the bounded fetcher: the whole
        # body at once, decoded (the address space capped, so the machine survives it).
        resource.setrlimit(resource.RLIMIT_AS, (NAIVE_ADDRESS_SPACE, NAIVE_ADDRESS_SPACE))
    started = time.monotonic()
    outcome = "ok"
    with http_client(None) as client:
        fetcher = BoundedFetcher(client, read_timeout=30, total_timeout=60)
        try:
            if how == "naive":
                import httpx

                httpx.get(url, timeout=60).raise_for_status()
            elif how == "metadata":
                fetcher.download_bytes(url, limit)
            elif how == "target":
                with fetcher.download_file(url, limit) as file:
                    file.seek(0, os.SEEK_END)
            else:
                fetcher.get(url, limit)
        except Exception as e:  # the outcome is a figure, whatever it is
            outcome = type(e).__name__
    seconds = time.monotonic() - started
    peak = peak_rss()
    print(json.dumps({"seconds": seconds, "peak": peak, "outcome": outcome}))


def peak_rss() -> int:
    """This process's peak resident memory (bytes): ``VmHWM``, which starts afresh at exec
    (``ru_maxrss`` keeps the forking parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def honest_body(limit: int) -> bytes:
    """Text-like bytes as long as the limit allows, gzip-compressed (what an index serves)."""
    rng = random.Random(limit)
    words = [
        bytes(rng.choices(b"abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 9))) for _ in range(500)
    ]
    block = b" ".join(rng.choices(words, k=64 * 1024 // 5))[: 64 * 1024]
    return gzip.compress((block * (limit // len(block) + 1))[:limit], 6)


def run_worker(how: str, url: str, limit: int) -> dict[str, float | str]:
    result = subprocess.run(
        [sys.executable, __file__, "--worker", how, url, str(limit)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _honest(body: bytes) -> hostile_http.Action:
    async def act(ex: hostile_http._Exchange) -> None:
        head = ex.head(**{"content-encoding": "gzip", "content-length": str(len(body))})
        await ex.send(head + body)

    return act


@dataclasses.dataclass(frozen=True)
class Figures:
    """One kind's downloads of one body: median time, worst peak, the outcomes seen."""

    seconds: float
    peak: float
    outcomes: list[str]

    @classmethod
    def of(cls, runs: list[dict[str, float | str]]) -> Figures:
        return cls(
            statistics.median(float(r["seconds"]) for r in runs),
            max(float(r["peak"]) for r in runs),
            sorted({str(r["outcome"]) for r in runs}),
        )


@dataclasses.dataclass(frozen=True)
class Row:
    kind: str
    limit: int
    honest: Figures
    bomb: Figures


def measure(
    server: hostile_http.HostileServer, kinds: dict[str, tuple[str, int]], repeat: int
) -> list[Row]:
    """Each kind's honest download, then its bomb, ``repeat`` times each."""
    rows = []
    for kind, (how, limit) in kinds.items():
        server.attack(f"/honest/{kind}", _honest(honest_body(limit)))
        server.attack(f"/bomb/{kind}", hostile_http.bomb())
        honest, bomb = (
            Figures.of(
                [run_worker(how, f"{server.url}{name}/{kind}", limit) for _ in range(repeat)]
            )
            for name in ("honest", "bomb")
        )
        rows.append(Row(kind, limit, honest, bomb))
    return rows


def report(rows: list[Row]) -> None:
    print(
        f"{'kind':<14}{'limit':>11}   {'honest s / peak MB':>20}   {'bomb s / peak MB':>18}   "
        "bomb/honest time, peak   bomb outcome"
    )
    for row in rows:
        honest, bomb = row.honest, row.bomb
        ratio_time = bomb.seconds / max(honest.seconds, 1e-6)
        print(
            f"{row.kind:<14}{row.limit:>11}   "
            f"{honest.seconds:>11.3f} / {honest.peak / MB:>6.1f}   "
            f"{bomb.seconds:>9.3f} / {bomb.peak / MB:>6.1f}   "
            f"x{ratio_time:>6.2f}, x{bomb.peak / honest.peak:>4.2f}        "
            f"{','.join(bomb.outcomes)}"
        )
    worst = max(r.bomb.peak for r in rows)
    refused = sum(r.bomb.outcomes == ["TooLong"] for r in rows)
    print(
        f"current: worst bomb peak {worst / MB:.1f} MB (bound {RSS_BOUND / MB:.0f} MB), "
        f"worst bomb time {max(r.bomb.seconds for r in rows):.2f} s, "
        f"bombs refused {refused}/{len(rows)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: one run per figure")
    parser.add_argument("--repeat", type=int, help="runs per figure (default 3; 1 with --quick)")
    parser.add_argument(
        "--worker", nargs=3, metavar=("HOW", "URL", "LIMIT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        how, url, limit = args.worker
        worker(how, url, int(limit))
        return
    repeat = args.repeat or (1 if args.quick else 3)
    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(
        f"bomb: {hostile_http.gzip_bomb_length() / MB:.1f} MB of gzip inflating to "
        f"{hostile_http.BOMB_SIZE / MB:.0f} MB; {repeat} run(s) per figure (median time, max peak)"
    )
    with hostile_http.running() as server:
        rows = measure(server, KINDS, repeat)
        naive = run_worker("naive", f"{server.url}bomb/core-metadata", 0)
    report(rows)
    worst = max(r.bomb.peak for r in rows)
    print(
        f"baseline: plain httpx reading the bomb whole (address space capped at "
        f"{NAIVE_ADDRESS_SPACE / MB:.0f} MB): {float(naive['seconds']):.2f} s, peak "
        f"{float(naive['peak']) / MB:.1f} MB, {naive['outcome']}; tufpi's worst bomb peak is "
        f"x{worst / float(naive['peak']):.2f} of it"
    )
    if worst >= RSS_BOUND:
        sys.exit(f"FAILED: a bomb took the client to {worst / MB:.0f} MB")


if __name__ == "__main__":
    main()
