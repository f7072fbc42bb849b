"""Run the proxy: in the foreground (``tufpi proxy``, on 127.0.0.1:3141 by default) or in
this process for an installer already started against its address (``tufpi install``, see
``launch``). Either serves the index under a path that names it (``launch.index_prefix``)."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn
from tuf.api import exceptions

from tufpi.client import anchor
from tufpi.client.credentials import IndexAddress
from tufpi.client.fetcher import HttpClient
from tufpi.client.launch import Launched, simple_url
from tufpi.client.proxy import PUBLICATION_WAIT, create_proxy_app
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
# Seconds the proxy of ``tufpi install`` may take to start.
_START_TIMEOUT = 30.0


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


def serve(
    index: VerifiedIndex,
    host: str,
    port: int,
    options: ProxyOptions | None = None,
    announce: Callable[[str], None] = log.info,
) -> None:
    """Serve on ``host:port`` until interrupted; ``announce`` is told the simple URL
    (``launch.simple_url``) once the address is bound.

    Raises:
        Refusal: the address cannot be bound (in use, not this machine's).
    """
    try:
        sock = listening_socket(host, port)
    except OSError as e:
        raise Refusal(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    with sock:
        announce(simple_url(index.index_url, host, sock.getsockname()[1]))
        _server(index, options or ProxyOptions()).run(sockets=[sock])


def serve_installer(
    index: VerifiedIndex, launched: Launched, options: ProxyOptions | None = None
) -> int:
    """Serve the proxy on the installer's address until the installer exits; its exit
    code. The installer was started first (``launch.start``): its connections wait in the
    socket's backlog until the server accepts them.

    The proxy is left running, idle, in its daemon thread: the caller exits next (without
    the interpreter's teardown: see ``cli.client``). uvicorn's orderly stop (its 0.1 s
    polling, then 0.1 s for connections) would only delay that, and nothing is lost: the
    installer is gone, and every cache write is a temporary file renamed into place.

    Raises:
        Refusal: the proxy did not start (the caller stops the installer).
    """
    server = _server(index, options or ProxyOptions())
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [launched.sock]}, name="tufpi-proxy", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise Refusal("the verifying proxy did not start")
        if launched.process.poll() is not None:
            break
        time.sleep(0.01)
    code = launched.process.wait()
    log.info("%s", index.log_stats.summary())
    return code


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
