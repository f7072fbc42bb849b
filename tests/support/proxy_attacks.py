"""Hostile parts for the proxy's attack and load tests, all real servers and sockets on
127.0.0.1: a tampering mirror that also sends decompression bombs, a host of another origin,
and clients that trickle their requests a byte at a time."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import httpx

from tests.support import clients
from tests.support.dists import make_dists
from tests.support.mirror import Mirror, Stream
from tests.support.server import IndexServer
from tests.support.tuf_client import first_root, wait_for_target

GiB = 1024 * 1024 * 1024
T = TypeVar("T")
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"


@functools.cache
def gzip_bomb(inflated: int = GiB) -> bytes:
    """A gzip member (RFC 1952) of ``inflated`` zero bytes: about 1 MB for 1 GiB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1024 * 1024)
    out = [packer.compress(block) for _ in range(inflated // len(block))]
    out.append(packer.flush())
    return b"".join(out)


class HostileMirror(Mirror):
    """The tampering mirror, with decompression bombs."""

    def bomb(self, path: str, inflated: int = GiB) -> None:
        """Answer ``path`` (exactly) with a gzip-encoded body inflating to ``inflated``."""
        stream = Stream(
            gzip_bomb(inflated),
            256 * 1024,
            0.0,
            endless=False,
            headers={"content-encoding": "gzip"},
        )
        self._add(lambda p: p == path, stream)

    def fail(self, path: str, status: int = 500) -> None:
        """Answer ``path`` (exactly) with ``status`` and a short body."""
        self._add(
            lambda p: p == path,
            lambda _p, a: dataclasses.replace(a, status=status, body=b"upstream failed\n"),
        )

    def endless_gzip(self, path: str) -> None:
        """Answer ``path`` with a gzip header whose comment never ends (decodes to nothing)."""
        stream = Stream(
            b"\x1f\x8b\x08\x10\0\0\0\0\0\xff",
            1024,
            0.05,
            endless=True,
            filler=b"x",
            headers={"content-encoding": "gzip"},
        )
        self._add(lambda p: p == path, stream)


class OtherHost:
    """A plain HTTP server of another origin, serving ``files`` by path."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.requests: list[str] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.requests.append(self.path)
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("content-length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def other_host(files: dict[str, bytes]) -> Iterator[OtherHost]:
    host = OtherHost(files)
    try:
        yield host
    finally:
        host.close()


class Tricklers:
    """``count`` connections to ``port`` sending a request head a byte every ``interval``
    seconds; a connection the server closes is opened again (a persistent attacker)."""

    def __init__(self, port: int, count: int, interval: float = 0.5) -> None:
        self.port = port
        self.count = count
        self.interval = interval
        self.connects = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._head = f"GET /simple/trickle/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()

    def _open(self) -> tuple[socket.socket, int]:
        self.connects += 1
        return socket.create_connection(("127.0.0.1", self.port), timeout=5), 0

    def _run(self) -> None:
        conns = [self._open() for _ in range(self.count)]
        while not self._stop.wait(self.interval):
            for i, (sock, sent) in enumerate(conns):
                try:
                    sock.sendall(self._head[sent % len(self._head) : sent % len(self._head) + 1])
                    conns[i] = (sock, sent + 1)
                except OSError:
                    sock.close()
                    with contextlib.suppress(OSError):
                        conns[i] = self._open()
        for sock, _ in conns:
            sock.close()

    def __enter__(self) -> Tricklers:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def timed(function: Callable[..., T], *args: object, **kwargs: object) -> tuple[T, float]:
    """``function(*args, **kwargs)`` and the seconds it took."""
    start = time.monotonic()
    result = function(*args, **kwargs)
    return result, time.monotonic() - start


def publish(
    server: IndexServer, workdir: Path, user: str, releases: list[tuple[str, str, list[str]]]
) -> dict[str, list[Path]]:
    """Upload an sdist and a wheel of each (name, version, dependencies) and wait until the
    signed metadata lists each project's current pages; the built files by "name-version"."""
    token = server.new_user(user)
    built = {}
    for name, version, deps in releases:
        dists = make_dists(workdir, name, version, dependencies=deps)
        result = clients.twine_upload(server.url, token, dists)
        assert result.returncode == 0, result.stdout + result.stderr
        built[f"{name}-{version}"] = dists
    for name in {name for name, _, _ in releases}:
        page = httpx.get(f"{server.simple}{name}/").content
        wait_for_target(
            server, workdir, f"simple/{name}/index.html", hashlib.sha256(page).hexdigest()
        )
    return built


def published_root(
    server: IndexServer, workdir: Path, user: str, releases: list[tuple[str, str, list[str]]]
) -> Path:
    """``publish`` the releases, then write the index's first root (what a client pins) to
    ``workdir/root.json``; its path."""
    publish(server, workdir, user, releases)
    path = workdir / "root.json"
    path.write_bytes(first_root(server))
    return path


@contextlib.contextmanager
def hostile_mirror(upstream: str) -> Iterator[HostileMirror]:
    """A running ``HostileMirror`` in front of ``upstream``, honest until told otherwise."""
    mirror = HostileMirror(upstream)
    mirror.start()
    try:
        yield mirror
    finally:
        mirror.close()


def file_path(server: IndexServer, project: str, filename: str) -> str:
    """The path (``packages/...``) of ``filename`` on the index's JSON page of ``project``."""
    page = httpx.get(f"{server.simple}{project}/", headers={"accept": JSON_ACCEPT}).json()
    url = next(f["url"] for f in page["files"] if f["filename"] == filename)
    return str(url).removeprefix("../../")


def peak_memory_of(marker: str) -> int:
    """The peak resident memory (VmHWM, bytes) of the one process whose command line holds
    ``marker``."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            if marker.encode() not in cmdline:
                continue
            status = (proc / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no process with {marker!r} in its command line")


class Repeat:
    """Repeat ``request()`` in a thread until stopped; keeps each answer's status."""

    def __init__(self, request: Callable[[], int]) -> None:
        self.statuses: list[int] = []
        self._request = request
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.statuses.append(self._request())
            except httpx.HTTPError:
                self.statuses.append(0)

    def start(self) -> Repeat:
        self._thread.start()
        return self

    def stop(self, timeout: float) -> None:
        self._stop.set()
        self._thread.join(timeout)
