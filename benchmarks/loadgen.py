"""A small HTTP/1.1 load generator for benchmarks: a bounded number of GET requests over a
fixed number of keep-alive connections to 127.0.0.1, each request timed.

It speaks just enough HTTP/1.1 over asyncio streams (Content-Length, chunked, close) to stay
far cheaper per request than a general-purpose client, so that on a small machine the load
generator's own CPU use disturbs the server under test as little as possible.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Callable, Iterator

LOCALHOST = "127.0.0.1"


class LoadError(Exception):
    """The server answered something other than what the benchmark expects."""


@dataclasses.dataclass(frozen=True)
class Target:
    """One URL path on a server, requested with one Accept header; or, with ``paths``, a
    rotation: request number n asks ``paths[n % len(paths)]`` (``path`` then names them)."""

    port: int
    path: str
    accept: str
    accept_encoding: str | None = None
    paths: tuple[str, ...] = ()

    def request(self, number: int = 0) -> bytes:
        path = self.paths[number % len(self.paths)] if self.paths else self.path
        encoding = f"Accept-Encoding: {self.accept_encoding}\r\n" if self.accept_encoding else ""
        return (
            f"GET {path} HTTP/1.1\r\n"
            f"Host: {LOCALHOST}:{self.port}\r\n"
            f"Accept: {self.accept}\r\n"
            f"{encoding}"
            "User-Agent: tufpi-benchmark\r\n"
            "\r\n"
        ).encode("latin-1")


@dataclasses.dataclass(frozen=True)
class Result:
    """What one measurement found; latencies are in seconds, in completion order."""

    requests: int
    concurrency: int
    seconds: float
    latencies: tuple[float, ...]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in seconds."""
        ordered = sorted(self.latencies)
        if not ordered:
            return math.nan
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1]


@dataclasses.dataclass(frozen=True)
class _Response:
    status: int
    body: bytes
    keep_alive: bool


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers expected: the final CRLF
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def _read_response(reader: asyncio.StreamReader) -> _Response:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status_line, *lines = head.split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    keep_alive = headers.get("connection", "").lower() != "close"
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        body, keep_alive = await reader.read(), False
    return _Response(int(status_line.split(" ", 2)[1]), body, keep_alive)


async def _worker(
    target: Target,
    tickets: Iterator[int],
    deadline: float,
    latencies: list[float],
    check: Callable[[bytes], None] | None,
) -> None:
    request = target.request()
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    try:
        for ticket in tickets:  # shared by all workers: the total is bounded
            if time.perf_counter() > deadline:
                return
            if target.paths:
                request = target.request(ticket)
            if conn is None:
                conn = await asyncio.open_connection(LOCALHOST, target.port)
            reader, writer = conn
            start = time.perf_counter()
            writer.write(request)
            response = await _read_response(reader)
            latencies.append(time.perf_counter() - start)
            if response.status != 200:
                raise LoadError(f"{target.path}: HTTP {response.status}")
            if check is not None:
                check(response.body)
                check = None  # one full check per connection is enough
            if not response.keep_alive:
                writer.close()
                conn = None
    finally:
        if conn is not None:
            conn[1].close()


async def _run(
    target: Target,
    requests: int,
    concurrency: int,
    max_seconds: float,
    check: Callable[[bytes], None] | None,
    first: int,
) -> Result:
    tickets = iter(range(first, first + requests))
    latencies: list[float] = []
    start = time.perf_counter()
    deadline = start + max_seconds
    await asyncio.gather(
        *(_worker(target, tickets, deadline, latencies, check) for _ in range(concurrency))
    )
    seconds = time.perf_counter() - start
    return Result(len(latencies), concurrency, seconds, tuple(latencies))


def measure(
    target: Target,
    requests: int,
    concurrency: int,
    max_seconds: float,
    check: Callable[[bytes], None] | None = None,
    first: int = 0,
) -> Result:
    """Send at most ``requests`` GETs (stopping early after ``max_seconds``) over
    ``concurrency`` connections; ``check`` validates the first body on each connection.
    The requests are numbered from ``first`` (which of a rotation's ``paths`` they ask).

    Raises:
        LoadError: a response was not 200, or ``check`` refused a body.
    """
    if requests < 1 or concurrency < 1:
        raise ValueError("requests and concurrency must be positive")
    return asyncio.run(_run(target, requests, concurrency, max_seconds, check, first))
