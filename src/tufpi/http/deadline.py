"""One deadline for one request, enforced below httpx: every name lookup, connect, TLS
handshake, read and write of the network backend under httpcore is clamped to the time the
current request has left, and refused once it is past.

httpx's own timeouts are per operation: a server that answers ``103 Early Hints`` forever
(httpcore reads on past every 1xx), trickles a header line a byte at a time, or trickles the
body (each read brings a byte, so a read timeout never fires) holds a reader for as long as
it likes. Under ``deadline_at(t)`` no operation outlives ``t``. The verifying client
(``tufpi.client.fetcher``) and the upstream reader (``tufpi.upstream``) both read through
clients whose transports ``bound_transports`` put under the deadline.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator

import httpcore
import httpx

__all__ = ["bound_transports", "deadline_at"]

# When the download running in this context must be over (time.monotonic()); None outside
# a download. Set only around a synchronous call (never across a yield), so it is always
# reset in the context that set it.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "tufpi_download_deadline", default=None
)


def _clamp(timeout: float | None, late: type[Exception]) -> float | None:
    """``timeout``, shortened to what the current download has left; ``late`` raised once
    nothing is left."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise late("past the download's deadline")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every operation ends by the current download's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # The TLS handshake is one operation with one timeout in CPython's ssl module.
        clamped = _clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, clamped))

    def get_extra_info(self, info: str) -> object:
        return self._stream.get_extra_info(info)


def _addresses(host: str, port: int) -> list[str]:
    """The addresses of ``host``, resolved by the current download's deadline.

    ``getaddrinfo`` takes no timeout: it runs in a daemon thread of its own (one that hangs
    in the system resolver is left to it, and cannot keep the process from exiting), and
    the download waits for it no longer than its deadline.
    """
    deadline = _DEADLINE.get()
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return [host]
    if deadline is None:
        return [host]
    result: list[list[str] | OSError] = []
    done = threading.Event()

    def resolve() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            result.append(list(dict.fromkeys(str(info[4][0]) for info in infos)))
        except OSError as e:
            result.append(e)
        done.set()

    threading.Thread(target=resolve, name="tufpi-resolve", daemon=True).start()
    if not done.wait(max(0.0, deadline - time.monotonic())):
        raise httpcore.ConnectTimeout(f"no address for {host!r} by the download's deadline")
    if isinstance(result[0], OSError):
        raise httpcore.ConnectError(str(result[0]))
    return result[0]


class _DeadlineBackend(httpcore.NetworkBackend):
    """The network backend under httpcore, with every stream, connect and name resolution
    under the deadline."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Connect to each address of ``host`` in turn (as ``socket.create_connection``
        does), each attempt ending by the deadline. TLS still verifies the host name: httpcore
        passes it to ``start_tls``, not the address."""
        error: Exception = httpcore.ConnectError(f"no address for {host!r}")
        options = list(socket_options or [])
        for address in _addresses(host, port):
            clamped = _clamp(timeout, httpcore.ConnectTimeout)
            try:
                stream = self._backend.connect_tcp(address, port, clamped, local_address, options)
            except httpcore.ConnectError as e:
                error = e
                continue
            return _DeadlineStream(stream)
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        clamped = _clamp(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_unix_socket(path, clamped, socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def bound_transports(client: httpx.Client) -> None:
    """Put ``_DeadlineBackend`` under every connection pool of ``client`` (its transport and
    the proxies' mounted from the environment).

    httpx has no public way to choose httpcore's network backend: this reaches the pool of
    each ``HTTPTransport`` (``_pool``; ``httpcore.ConnectionPool`` and its proxy subclasses
    keep the backend in ``_network_backend``). It fails, rather than leaving a pool unbounded,
    if a later httpx or httpcore moved either.
    """
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        if transport is None:  # a mount that disables a proxy for some hosts
            continue
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if not isinstance(backend, httpcore.NetworkBackend):
            raise RuntimeError(f"cannot bound the downloads of {type(transport).__name__}")
        if not isinstance(backend, _DeadlineBackend):
            pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]


@contextlib.contextmanager
def deadline_at(when: float) -> Iterator[None]:
    """Every network operation of a bounded client inside this block ends by ``when`` (a
    ``time.monotonic()`` value). Enter it only around synchronous calls, never across a
    ``yield`` of a generator: the deadline belongs to the context that set it.

    Raises (from inside the block):
        httpcore.ConnectTimeout, ReadTimeout, WriteTimeout: past ``when`` (httpx wraps them
            as its own timeouts).
    """
    token = _DEADLINE.set(when)
    try:
        yield
    finally:
        _DEADLINE.reset(token)
