"""A hostile HTTP/1.1 server for the fetcher's tests: protocol-level attacks an honest server
library cannot even express, on a raw asyncio socket server on 127.0.0.1.

It forwards every GET to an index (``upstream``), honestly, or answers it with a fixed
page (``serve``: an upstream page a test writes), unless a rule for the request path says
otherwise: ``103 Early Hints`` forever, the response head trickled a byte at a
time, the body trickled, a body without end, a gzip decompression bomb. It records, per
attack, when the attack started and whether the client is still connected, so a test can
wait for a positive signal ("the naive client is still being served after 2x the deadline")
instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import struct
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator

import httpx

# What the bombs inflate to: 2 GiB of zeros, from about 2 MB of gzip.
BOMB_SIZE = 2 * 1024**3
_SEGMENT = 1024 * 1024


@functools.cache
def _bomb_segment() -> bytes:
    """1 MiB of zeros as raw deflate, ending at a full flush (so it can be repeated)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    compressor.compress(bytes(_SEGMENT))
    compressor.flush(zlib.Z_FULL_FLUSH)  # the first segment may differ: take the second
    return compressor.compress(bytes(_SEGMENT)) + compressor.flush(zlib.Z_FULL_FLUSH)


@functools.cache
def _zeros_crc(size: int) -> int:
    crc = 0
    zeros = bytes(_SEGMENT)
    for _ in range(size // _SEGMENT):
        crc = zlib.crc32(zeros, crc)
    return crc


def gzip_bomb(size: int = BOMB_SIZE) -> Iterator[bytes]:
    """A valid gzip member (RFC 1952) that inflates to ``size`` zeros (a multiple of 1 MiB),
    built piece by piece: nothing near ``size`` is ever in memory."""
    yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # magic, deflate, no flags, no mtime
    segment = _bomb_segment()
    batch = segment * 64
    for _ in range(size // _SEGMENT // 64):
        yield batch
    for _ in range(size // _SEGMENT % 64):
        yield segment
    yield b"\x03\x00"  # an empty final fixed-Huffman block
    yield struct.pack("<II", _zeros_crc(size), size & 0xFFFFFFFF)


def gzip_bomb_length(size: int = BOMB_SIZE) -> int:
    """How many bytes ``gzip_bomb(size)`` sends."""
    return 10 + len(_bomb_segment()) * (size // _SEGMENT) + 2 + 8


@dataclasses.dataclass
class Attack:
    """One attack in progress: when it started, when the client went away (None: still
    connected), what the server sent."""

    path: str
    started: float = dataclasses.field(default_factory=time.monotonic)
    ended: float | None = None
    sent: int = 0

    @property
    def running_for(self) -> float:
        return (self.ended or time.monotonic()) - self.started


@dataclasses.dataclass(frozen=True)
class _Honest:
    status: int
    headers: dict[str, str]
    body: bytes


Action = Callable[["_Exchange"], Awaitable[None]]


@dataclasses.dataclass
class _Exchange:
    """One request being answered: the honest answer, the writer, the attack's record."""

    honest: _Honest
    writer: asyncio.StreamWriter
    attack: Attack
    stop: asyncio.Event

    async def send(self, data: bytes, interval: float = 0.0) -> None:
        self.writer.write(data)
        await self.writer.drain()
        self.attack.sent += len(data)
        if interval:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), interval)
        if self.stop.is_set():
            raise ConnectionAbortedError("the server stopped the attack")

    def head(self, status: int = 200, **extra: str) -> bytes:
        """A response head: the honest headers with ``extra``; 200 unless told (an attacker
        answers as if it had the file)."""
        headers = {**self.honest.headers, **extra}
        lines = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Other'}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


def early_hints(interval: float = 0.05) -> Action:
    """``103 Early Hints`` without end (httpcore reads on past every 1xx answer)."""

    async def act(ex: _Exchange) -> None:
        while True:
            await ex.send(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
            await ex.send(b"", interval)

    return act


def trickle_head(interval: float = 0.2) -> Action:
    """The honest answer, its head sent one byte every ``interval`` seconds."""

    async def act(ex: _Exchange) -> None:
        head = ex.head(**{"content-length": str(len(ex.honest.body))})
        for i in range(len(head)):
            await ex.send(head[i : i + 1], interval)
        await ex.send(ex.honest.body)

    return act


def trickle_body(interval: float = 0.2) -> Action:
    """The honest answer, its body sent one byte every ``interval`` seconds."""

    async def act(ex: _Exchange) -> None:
        await ex.send(ex.head(**{"content-length": str(len(ex.honest.body))}))
        for i in range(len(ex.honest.body)):
            await ex.send(ex.honest.body[i : i + 1], interval)

    return act


def endless(chunk: int = 64 * 1024, interval: float = 0.001) -> Action:
    """The honest body, then zeros without end (no length: ended by closing)."""

    async def act(ex: _Exchange) -> None:
        await ex.send(ex.head(connection="close") + ex.honest.body)
        while True:
            await ex.send(bytes(chunk), interval)

    return act


def bomb(size: int = BOMB_SIZE) -> Action:
    """A gzip decompression bomb (``Content-Encoding: gzip``) inflating to ``size`` zeros."""

    async def act(ex: _Exchange) -> None:
        length = str(gzip_bomb_length(size))
        await ex.send(ex.head(**{"content-encoding": "gzip", "content-length": length}))
        for piece in gzip_bomb(size):
            await ex.send(piece)

    return act


class HostileServer:
    """Forward to ``upstream`` (may be None: then every unmatched path is a 404); attack the
    paths a rule matches. Runs its own event loop in a thread."""

    def __init__(self, upstream: str | None = None) -> None:
        self.upstream = None if upstream is None else upstream.rstrip("/") + "/"
        self.attacks: list[Attack] = []
        self.requests: list[str] = []
        self.connections = 0
        self._rules: list[tuple[Callable[[str], bool], Action]] = []
        self._fixed: dict[str, _Honest] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._call(self._start())
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/"

    def _call(self, coroutine: Awaitable[object]) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)  # type: ignore[arg-type]

    async def _start(self) -> None:
        self._stop = asyncio.Event()
        self._client = httpx.AsyncClient(timeout=30, follow_redirects=False)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    # ----- rules -----

    def attack(self, matches: Callable[[str], bool] | str, action: Action) -> None:
        """Answer the paths ``matches`` (a predicate, or one path) with ``action``."""
        predicate = (lambda p: p == matches) if isinstance(matches, str) else matches
        with self._lock:
            self._rules.append((predicate, action))

    def serve(
        self, path: str, body: bytes, headers: dict[str, str] | None = None, status: int = 200
    ) -> None:
        """Answer ``path`` with ``body`` and ``headers`` instead of forwarding it (an attack
        on ``path`` starts from this answer)."""
        with self._lock:
            self._fixed[path] = _Honest(status, dict(headers or {}), body)

    def honest(self) -> None:
        """Stop every attack in progress and forget the rules."""
        with self._lock:
            self._rules.clear()
        self._call(self._halt())

    async def _halt(self) -> None:
        assert self._stop is not None
        self._stop.set()
        await asyncio.sleep(0)
        self._stop = asyncio.Event()

    def attacks_on(self, path: str) -> list[Attack]:
        with self._lock:
            return [a for a in self.attacks if a.path == path]

    # ----- serving -----

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                path = request_line.split(" ")[1]
                headers = dict(
                    line.split(":", 1) for line in header_lines if ":" in line
                )  # one GET, no body
                if not await self._answer(path.partition("?")[0], path, headers, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _rule(self, path: str) -> Action | None:
        with self._lock:
            self.requests.append(path)
            for predicate, action in reversed(self._rules):
                if predicate(path):
                    return action
        return None

    async def _forward(self, full_path: str, headers: dict[str, str]) -> _Honest:
        with self._lock:
            fixed = self._fixed.get(full_path.partition("?")[0])
        if fixed is not None:
            return fixed
        if self.upstream is None:
            return _Honest(404, {"content-type": "text/plain"}, b"no such thing\n")
        passed = {k.strip(): v.strip() for k, v in headers.items() if k.strip().lower() == "accept"}
        response = await self._client.get(self.upstream + full_path.lstrip("/"), headers=passed)
        kept = {
            k: v
            for k, v in response.headers.items()
            if k in ("content-type", "cache-control", "location")
        }
        return _Honest(response.status_code, kept, response.content)

    async def _answer(
        self, path: str, full_path: str, headers: dict[str, str], writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; whether the connection may carry another."""
        action = self._rule(path)
        honest = await self._forward(full_path, headers)
        if action is None:
            ex = _Exchange(honest, writer, Attack(path), asyncio.Event())
            head = ex.head(honest.status, **{"content-length": str(len(honest.body))})
            await ex.send(head + honest.body)
            return True
        assert self._stop is not None
        attack = Attack(path)
        with self._lock:
            self.attacks.append(attack)
        try:
            await action(_Exchange(honest, writer, attack, self._stop))
        except (ConnectionError, OSError):
            pass
        finally:
            attack.ended = time.monotonic()
        return False

    def close(self) -> None:
        self.honest()
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._client.aclose()


@contextlib.contextmanager
def running(upstream: str | None = None) -> Iterator[HostileServer]:
    """A started hostile server in front of ``upstream``, closed afterwards."""
    server = HostileServer(upstream)
    try:
        yield server
    finally:
        server.close()
