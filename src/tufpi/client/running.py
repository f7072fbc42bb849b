"""Run the proxy: in the foreground (``tufpi proxy``, on 127.0.0.1:3141 by default) or in
this process around an installer (``tufpi install``: on 127.0.0.1:3141 when it is free, else
an ephemeral loopback port). Either serves the index under a path that names it
(``proxy.index_prefix``)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

import uvicorn
from tuf.api import exceptions

from tufpi.client import anchor
from tufpi.client.credentials import IndexAddress
from tufpi.client.fetcher import HttpClient
from tufpi.client.forward import origin_of
from tufpi.client.installers import installer_command, installer_env, installer_timeout
from tufpi.client.proxy import PUBLICATION_WAIT, create_proxy_app, index_prefix
from tufpi.client.refusals import Refusal
from tufpi.client.verified_index import (
    ClientBounds,
    Location,
    VerifiedIndex,
    cache_dir_for,
    fetch_first_root,
    read_first_root,
)
from tufpi.config import Settings
from tufpi.http import (
    ServerLimits,
    connection_budget,
    listening_socket,
    open_files_limit,
    protocol_class,
)

# Connections the proxy accepts at most (see _limits).
_MAX_CONNECTIONS = 256

log = logging.getLogger("tufpi.client")
# Where ``tufpi proxy`` listens, and ``tufpi install``'s proxy when it is free.
STABLE_HOST = "127.0.0.1"
STABLE_PORT = 3141


@dataclasses.dataclass(frozen=True)
class ProxyOptions:
    """How the proxy answers: whether it passes unpublished files through, unverified
    (``--allow-unpublished``), and how long a page request waits for an upload whose
    publication is pending (``proxy.PUBLICATION_WAIT``)."""

    allow_unpublished: bool = False
    publication_wait: float = PUBLICATION_WAIT


def open_index(
    address: IndexAddress,
    cache_root: Path,
    root_file: Path | None,
    root_sha256: str | None,
    refresh_interval: float,
    client: HttpClient,
    bounds: ClientBounds | None = None,
    recheck_interval: float = 1.0,
) -> VerifiedIndex:
    """Trust for the index at ``address``: a root file, a pinned root fingerprint, or the
    cached root. ``client`` carries ``address.auth``; ``address.url`` has no credentials.
    ``recheck_interval``: see ``VerifiedIndex``.

    The cache is bound to its first root (``anchor``): with a pin, a cache bootstrapped from
    another root, or holding metadata but no record of its first root, is discarded, with a
    warning, and rebuilt from the pinned root; a cache bootstrapped from the pinned root is
    reused without fetching that root again.

    Raises:
        Refusal: no usable root, the URL is not a tufpi index's, or the index fails
            verification at once.
    """
    bounds = bounds or ClientBounds()
    try:
        location = _bind_cache(address, cache_root, root_file, root_sha256, client, bounds)
        index = VerifiedIndex(
            location, None, client, bounds, refresh_interval, recheck_interval=recheck_interval
        )
        index.refresh()
    except Refusal as e:
        raise _first_contact(address, e) from e.__cause__
    return index


def _first_contact(address: IndexAddress, refusal: Refusal) -> Refusal:
    """``refusal``, or, when the index has no signed metadata at all (HTTP 404 for its
    first root or its timestamp), words that say the URL is not a tufpi index's."""
    cause = refusal.__cause__
    if isinstance(cause, exceptions.DownloadHTTPError) and cause.status_code == 404:
        return Refusal(
            f"{address.url} is not a tufpi index: it has no signed metadata at "
            f"{address.url}tuf/ (HTTP 404). Give the index's root URL (https://HOST/) or "
            "its simple API's (https://HOST/simple/)"
        )
    return refusal


def _bind_cache(
    address: IndexAddress,
    cache_root: Path,
    root_file: Path | None,
    root_sha256: str | None,
    client: HttpClient,
    bounds: ClientBounds,
) -> Location:
    """The index's cache, bound to the pin (see ``open_index``)."""
    location = Location.of_index(address.url, cache_dir_for(cache_root, address))
    pinned_root = root_file.read_bytes() if root_file is not None else None
    pin = hashlib.sha256(pinned_root).hexdigest() if pinned_root is not None else root_sha256
    pin = pin.lower() if pin is not None else None
    state = anchor.read_state(location.metadata_dir)
    verdict = anchor.judge(pin, state)
    if verdict in (anchor.Verdict.FRESH, anchor.Verdict.FOREIGN) and pin is not None:
        # The pinned root first: a pin that matches nothing leaves the cache as it was.
        if pinned_root is None:
            fetcher = bounds.fetcher(client)
            pinned_root = fetch_first_root(fetcher, address.url, pin, bounds.config)
        if verdict is anchor.Verdict.FOREIGN:
            log.warning("%s", anchor.discard_message(location.metadata_dir.parent, pin, state))
            anchor.discard(location.metadata_dir.parent)
        anchor.bootstrap(location.metadata_dir, location.metadata_url, pinned_root, record=True)
    elif verdict is anchor.Verdict.BOUND:
        # Trust is re-derived from the anchor, never taken from the cached root.json: ngclient
        # walks forward from it, verifying every newer root it finds (cached or fetched).
        first = anchor.anchor_bytes(location.metadata_dir)
        anchor.bootstrap(location.metadata_dir, location.metadata_url, first, record=False)
    elif verdict is anchor.Verdict.UNPINNED:
        log.warning("%s", anchor.trusted_message(address.url, state))
    else:
        raise Refusal(f"no trusted root in {location.metadata_dir}: give --root or --root-sha256")
    return location


def forget_credentialed_cache(cache_root: Path, raw_index_url: str) -> None:
    """Remove the cache directory that earlier versions made for an index URL with
    credentials: its name held the token (the cache is now named for the URL without)."""
    if "@" not in raw_index_url:
        return
    legacy = cache_root / quote(raw_index_url.strip().rstrip("/"), safe="")
    if legacy.is_dir() and legacy.parent == cache_root:
        shutil.rmtree(legacy, ignore_errors=True)


def _limits() -> ServerLimits:
    """What a connection to the proxy may hold: ``tufpi serve``'s defaults (request head
    within 15 s, a body making progress), and connections at most half of what the open-file
    limit allows, 256 at most (the other half: the proxy's own downloads and files)."""
    soft = open_files_limit()
    cap = min(_MAX_CONNECTIONS, max(8, connection_budget(soft) // 2))
    return ServerLimits.from_settings(Settings(max_connections=cap), soft)


def _server(index: VerifiedIndex, options: ProxyOptions) -> uvicorn.Server:
    config = uvicorn.Config(
        create_proxy_app(index, options.allow_unpublished, options.publication_wait),
        # A client trickling its request (or never reading the answer) is cut off, and the
        # connections are capped, as for `tufpi serve` (tufpi.http).
        http=protocol_class(_limits()),
        log_level="warning",
        # uvicorn's records go to the root logger, whose handlers scrub secrets (Redactor).
        log_config=None,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def simple_url(index: VerifiedIndex, host: str, port: int) -> str:
    """The proxy's simple API for ``index``, under the path that names the index
    (``proxy.index_prefix``): stable from one start to the next on the same address."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{index_prefix(index.index_url)}/simple/"


def serve(
    index: VerifiedIndex,
    host: str,
    port: int,
    options: ProxyOptions | None = None,
    announce: Callable[[str], None] = log.info,
) -> None:
    """Serve on ``host:port`` until interrupted; ``announce`` is told the simple URL
    (``simple_url``) once the address is bound.

    Raises:
        Refusal: the address cannot be bound (in use, not this machine's).
    """
    try:
        sock = listening_socket(host, port)
    except OSError as e:
        raise Refusal(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    with sock:
        announce(simple_url(index, host, sock.getsockname()[1]))
        _server(index, options or ProxyOptions()).run(sockets=[sock])


@contextlib.contextmanager
def background(
    index: VerifiedIndex, options: ProxyOptions | None = None, stop_wait: float = 10.0
) -> Iterator[str]:
    """The proxy on 127.0.0.1:3141 if free, else any free port, for the duration; yields its
    simple URL (``simple_url``). At the end it is told to stop, and waited for at most
    ``stop_wait`` seconds; with 0, not waited for (its thread is a daemon: for a process
    that exits next)."""
    try:
        # The stable address: installers' caches (keyed by URL) stay valid from one run to
        # the next. Taken (a running `tufpi proxy`, another install): any free port.
        sock = listening_socket(STABLE_HOST, STABLE_PORT)
    except OSError:
        log.info("%s:%d is in use: the proxy takes another port", STABLE_HOST, STABLE_PORT)
        sock = listening_socket(STABLE_HOST, 0)
    server = _server(index, options or ProxyOptions())
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="tufpi-proxy", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise Refusal("the verifying proxy did not start")
            time.sleep(0.02)
        yield simple_url(index, STABLE_HOST, sock.getsockname()[1])
    finally:
        server.should_exit = True
        if stop_wait > 0:
            thread.join(timeout=stop_wait)
            sock.close()


def install(
    index: VerifiedIndex,
    installer: str,
    args: Sequence[str],
    python: str | None = None,
    options: ProxyOptions | None = None,
) -> int:
    """Run the installer for the interpreter ``python`` through a proxy in this process
    (``background``); its exit code. The caller exits next: the proxy is not waited for.
    The installer's timeout is set above the index's download deadline
    (``installer_timeout``).
    """
    timeout = installer_timeout(index.bounds.download_timeout)
    # The process exits once the installer has: uvicorn's orderly stop (its 0.1 s polling,
    # then 0.1 s for connections) would only delay that. Nothing is lost by not waiting:
    # the installer is gone, and every cache write is a temporary file renamed into place.
    with background(index, options, stop_wait=0) as url:
        command = installer_command(installer, url, args, timeout, python)
        env = installer_env(timeout, origin_of(url))
        return subprocess.run(command, env=env, check=False).returncode


def first_root_fingerprint(address: IndexAddress, client: HttpClient, bounds: ClientBounds) -> str:
    """The sha256 of the index's first root, as the index serves it now (trust on first
    use): read within ``bounds``, and checked to be a root signed by its own keys.

    Raises:
        Refusal: unreachable, not a tufpi index, or not a valid first root.
    """
    try:
        data = read_first_root(bounds.fetcher(client), address.url, bounds.config)
    except Refusal as e:
        raise _first_contact(address, e) from e.__cause__
    return anchor.first_root_sha256(data)
