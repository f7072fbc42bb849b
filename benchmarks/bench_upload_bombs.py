"""Read latency while archive bombs are uploaded: p50/p99 of ``GET /simple/<project>/``
against a real ``tufpi serve``, without and then with ``--bombs`` concurrent hostile uploads
(tar.gz files of a million empty members, ~2 MiB each), in the same run; with
``--baseline DIR``, the same against another source tree (its server started with
``PYTHONPATH=DIR/src``), so that before and after are measured on one machine at one time.

    /tmp/v/bin/python benchmarks/bench_upload_bombs.py [--baseline /work/main] [--quick]

A bomb's whole request is sent before the reads start; the reads then run while the server
inspects (or refuses) the bombs. When the reads end, the bombs still unanswered are counted;
their answers are then waited for up to ``--answer-seconds`` and counted by status, and the
server is killed.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import contextlib
import dataclasses
import hashlib
import io
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import httpx
from common import free_port, machine, run_tufpi
from loadgen import LOCALHOST, Result, Target, measure

HERE = Path(__file__).resolve().parent
PROJECT = "bench-read"
BOMB_NAME = "bench-bomb"
START_TIMEOUT = 120.0
# How long a bomb's answer is waited for; past it, the bomb counts as "closed".
ANSWER_TIMEOUT = 900.0


def bomb_archive(members: int) -> bytes:
    """A tar.gz of ``members`` empty members: one repeated 512-byte header compresses to
    almost nothing (a million members are ~2 MiB)."""
    block = tarfile.TarInfo("bench_bomb-1.0/x").tobuf(format=tarfile.GNU_FORMAT) * 1000
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(block) for _ in range(members // 1000)]
    return b"".join([*parts, compressor.compress(b"\0" * 1024), compressor.flush()])


def tiny_wheel(version: str) -> tuple[str, bytes]:
    """A minimal valid wheel of the project whose page is read."""
    dist = PROJECT.replace("-", "_")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            f"{dist}-{version}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {PROJECT}\nVersion: {version}\n\n",
        )
    return f"{dist}-{version}-py3-none-any.whl", buffer.getvalue()


def upload_request(
    url: str, token: str, name: str, version: str, filetype: str, filename: str, data: bytes
) -> httpx.Request:
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": name,
        "version": version,
        "filetype": filetype,
        "pyversion": "source" if filetype == "sdist" else "py3",
        "metadata_version": "2.1",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
    }
    return httpx.Request(
        "POST",
        url + "legacy/",
        data=fields,
        files={"content": (filename, data, "application/octet-stream")},
        headers={
            "authorization": "Basic " + base64.b64encode(f"__token__:{token}".encode()).decode()
        },
    )


@dataclasses.dataclass
class Server:
    """One data directory and, while it runs, ``tufpi serve`` of one source tree."""

    tree: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    token: str = ""

    @property
    def port(self) -> int:
        return int(self.env["TUFPI_PORT"])

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}/"


def prepare(tree: Path, root: Path, bins: int) -> Server:
    """A fresh SQLite repository for ``tree``'s code, and an uploader's token."""
    data_dir = root / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUFPI_")}
    env.update(
        PYTHONPATH=str(tree / "src"),
        TUFPI_DATA_DIR=str(data_dir),
        TUFPI_KEYS_DIR=str(root / "keys"),
        TUFPI_HOST=LOCALHOST,
        TUFPI_PORT=str(free_port()),
        TUFPI_BINS=str(bins),
        TUFPI_PUBLISH_INTERVAL="0.5",
    )
    server = Server(tree, env)
    run_tufpi(env, "db", "upgrade")
    run_tufpi(env, "trust", "init")
    run_tufpi(env, "user", "add", "bench", "--no-password")
    server.token = run_tufpi(env, "token", "create", "--user", "bench").strip()
    return server


def start(server: Server, log: Path) -> None:
    server.process = subprocess.Popen(
        [sys.executable, "-m", "tufpi.cli", "serve", "--log-level", "warning"],
        env=server.env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"tufpi serve exited; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url, timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    stop(server)
    raise RuntimeError(f"tufpi serve did not answer in {START_TIMEOUT:.0f} s")


def stop(server: Server) -> None:
    if server.process is not None:
        server.process.kill()  # not terminate: a graceful stop would wait for the bombs
        server.process.wait(timeout=60)
        server.process = None


def send_all(request: httpx.Request) -> socket.socket:
    """Open a connection and send the whole of ``request``; the answer is read later."""
    assert request.url.port is not None
    sock = socket.create_connection((LOCALHOST, request.url.port), timeout=ANSWER_TIMEOUT)
    head = f"POST {request.url.raw_path.decode()} HTTP/1.1\r\n"
    headers = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
    sock.sendall((head + headers + "\r\n").encode("latin-1") + request.read())
    return sock


def status_of(sock: socket.socket) -> str:
    """The status code of the answer on ``sock`` ("closed" if the server went away or did
    not answer within ``ANSWER_TIMEOUT``)."""
    with sock:
        try:
            line = sock.makefile("rb").readline()
        except OSError:
            return "closed"
    parts = line.split()
    return parts[1].decode() if len(parts) > 1 else "closed"


@dataclasses.dataclass
class Figures:
    quiet: Result
    loaded: Result
    unanswered_after_reads: int
    answers: Counter[str]


def read_target(server: Server) -> Target:
    return Target(server.port, f"/simple/{PROJECT}/", "text/html")


def measure_tree(tree: Path, root: Path, args: argparse.Namespace, bomb: bytes) -> Figures:
    server = prepare(tree, root, args.bins)
    start(server, root / "serve.log")
    try:
        filename, data = tiny_wheel("1.0")
        request = upload_request(
            server.url, server.token, PROJECT, "1.0", "bdist_wheel", filename, data
        )
        with httpx.Client(timeout=60) as client:
            response = client.send(request)
            if response.status_code != 200:
                raise RuntimeError(f"upload failed: {response.status_code} {response.text}")
        target = read_target(server)
        measure(target, args.warmup, args.concurrency, args.max_seconds)
        quiet = measure(target, args.requests, args.concurrency, args.max_seconds)
        bombs = [
            upload_request(
                server.url,
                server.token,
                BOMB_NAME,
                "1.0",
                "sdist",
                "bench_bomb-1.0.tar.gz",
                bomb,
            )
            for _ in range(args.bombs)
        ]
        with concurrent.futures.ThreadPoolExecutor(args.bombs) as pool:
            sockets = list(pool.map(send_all, bombs))  # every bomb is sent before reads start
            answered = [pool.submit(status_of, sock) for sock in sockets]
            loaded = measure(target, args.requests, args.concurrency, args.max_seconds)
            unanswered = sum(not f.done() for f in answered)
            done, late = concurrent.futures.wait(answered, timeout=args.answer_seconds)
            answers = Counter(f.result() for f in done)
            answers["unanswered"] += len(late)
            stop(server)  # the late ones' connections close, and their threads end
    finally:
        stop(server)
    return Figures(quiet, loaded, unanswered, answers)


def ms(seconds: float) -> str:
    return f"{1000 * seconds:8.1f} ms"


def report(name: str, figures: Figures) -> None:
    for label, result in (("without bombs", figures.quiet), ("with bombs", figures.loaded)):
        print(
            f"  {name:8} {label:14} {result.requests:5} reads {result.rps:8.1f}/s "
            f"p50 {ms(result.percentile(50))} p99 {ms(result.percentile(99))} "
            f"max {ms(max(result.latencies, default=float('nan')))}"
        )
    quiet, loaded = figures.quiet, figures.loaded
    print(
        f"  {name:8} with/without: p50 x{loaded.percentile(50) / quiet.percentile(50):.2f}, "
        f"p99 x{loaded.percentile(99) / quiet.percentile(99):.2f}; bomb answers "
        f"{dict(figures.answers)}, {figures.unanswered_after_reads} unanswered when the "
        "reads ended"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: small figures")
    parser.add_argument("--baseline", type=Path, help="another source tree, measured first")
    parser.add_argument("--bombs", type=int, help="concurrent bomb uploads (default 40)")
    parser.add_argument("--members", type=int, help="members per bomb (default 1,000,000)")
    parser.add_argument("--requests", type=int, help="reads per measurement (default 2,000)")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4, help="read connections")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="cap per measurement")
    parser.add_argument(
        "--answer-seconds",
        type=float,
        default=180.0,
        help="after the reads, how long the bombs' answers are waited for",
    )
    parser.add_argument("--bins", type=int, default=256)
    parser.add_argument("--workdir", type=Path, help="keep data and logs here")
    args = parser.parse_args()
    args.bombs = args.bombs or (4 if args.quick else 40)
    args.members = args.members or (50_000 if args.quick else 1_000_000)
    args.requests = args.requests or (100 if args.quick else 2000)

    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    bomb = bomb_archive(args.members)
    print(
        f"{args.bombs} bombs of {args.members} empty members ({len(bomb)} bytes each); "
        f"{args.requests} reads of /simple/{PROJECT}/ over {args.concurrency} connections "
        "per measurement"
    )
    trees = {"current": HERE.parent}
    if args.baseline:
        trees = {"baseline": args.baseline.resolve(), **trees}
    root = args.workdir or Path(tempfile.mkdtemp(prefix="tufpi-bench-bombs-"))
    results = {}
    for name, tree in trees.items():
        results[name] = measure_tree(tree, root / name, args, bomb)
        report(name, results[name])
    if args.baseline:
        before, after = results["baseline"].loaded, results["current"].loaded
        print(
            f"== with bombs, current/baseline: p50 x"
            f"{after.percentile(50) / before.percentile(50):.3f}, "
            f"p99 x{after.percentile(99) / before.percentile(99):.3f}"
        )
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
