"""``tufpi install`` starts its installer first, then the verifying proxy the installer talks
to.

pip spends its first 0.2 s importing itself before it sends a request; the proxy needs about
as long to import tuf, httpx and uvicorn and to refresh the signed metadata. Done one after
the other, that is a third of a small install. So the proxy's address is bound first (from
then on the installer's connections wait in its backlog), the installer is started at once,
and the proxy is served on that socket once the index is verified (``running.
serve_installer``). If the index cannot be verified, the installer is stopped before it has
received a single byte.

This module stays light (no tuf, httpx or uvicorn): it runs before them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
import subprocess
from collections.abc import Iterator, Sequence
from urllib.parse import urlsplit

from tufpi.client.forward import origin_of
from tufpi.client.installers import installer_command, installer_env, installer_timeout
from tufpi.http import ListeningSocket, listening_socket

log = logging.getLogger("tufpi.client")
# Where ``tufpi proxy`` listens, and ``tufpi install``'s proxy when it is free.
STABLE_HOST = "127.0.0.1"
STABLE_PORT = 3141
# Seconds a stopped installer has to exit on SIGINT before it is killed.
_STOP_GRACE = 5.0


def index_prefix(index_url: str) -> str:
    """The path under which the proxy also serves the index at ``index_url``: its host (and
    port, and path), ``/pypi.example.org``. An installer pointed at
    ``http://127.0.0.1:3141/pypi.example.org/simple/`` records that URL in what it writes
    (``uv.lock``, ``pip-compile``'s output, its caches), which then says which index it came
    from, and stays the same from one proxy start to the next."""
    parts = urlsplit(index_url)
    return "/" + (parts.netloc + parts.path).strip("/")


def simple_url(index_url: str, host: str, port: int) -> str:
    """The proxy's simple API on ``host:port`` for the index at ``index_url``, under the
    path that names the index (``index_prefix``)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{index_prefix(index_url)}/simple/"


def stable_or_any_socket() -> ListeningSocket:
    """A listening socket on 127.0.0.1:3141 if free, else on any free loopback port. The
    stable address keeps installers' caches (keyed by URL) valid from one run to the next;
    it is taken when a ``tufpi proxy`` or another install runs."""
    try:
        return listening_socket(STABLE_HOST, STABLE_PORT)
    except OSError:
        log.info("%s:%d is in use: the proxy takes another port", STABLE_HOST, STABLE_PORT)
        return listening_socket(STABLE_HOST, 0)


@dataclasses.dataclass
class Launched:
    """An installer started against a proxy address nobody serves yet: ``sock`` is bound
    and listening, ``url`` the simple API the installer was given."""

    process: subprocess.Popen[bytes]
    sock: ListeningSocket
    url: str


def start(
    installer: str,
    index_url: str,
    args: Sequence[str],
    python: str | None,
    download_timeout: float,
) -> Launched:
    """Bind the proxy's address and start ``installer`` for ``python`` against it. Its
    timeout is set above the proxy's download deadline (``installer_timeout``)."""
    sock = stable_or_any_socket()
    url = simple_url(index_url, STABLE_HOST, sock.getsockname()[1])
    timeout = installer_timeout(download_timeout)
    command = installer_command(installer, url, args, timeout, python)
    env = installer_env(timeout, origin_of(url))
    try:
        process = subprocess.Popen(command, env=env)
    except OSError:
        sock.close()
        raise
    return Launched(process, sock, url)


def stop(launched: Launched) -> None:
    """Stop the installer and close the address. SIGINT, as Ctrl-C would: pip and uv then
    clean up (their temporary directories, the child processes they wait for), which they
    do not on SIGTERM; SIGKILL if it has not exited after a grace."""
    process = launched.process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=_STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    launched.sock.close()


@contextlib.contextmanager
def stopped_on_failure(launched: Launched) -> Iterator[None]:
    """The installer is stopped if anything in the block fails (the index is refused, the
    proxy does not start, Ctrl-C)."""
    try:
        yield
    except BaseException:
        stop(launched)
        raise
