"""Run the proxy: in the foreground (``tufpi proxy``) or on an ephemeral loopback port around
an installer (``tufpi install``)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

import uvicorn

from tufpi.client import anchor
from tufpi.client.credentials import TOKEN_ENV, IndexAddress
from tufpi.client.fetcher import HttpClient
from tufpi.client.forward import installer_proxy_env, origin_of
from tufpi.client.proxy import create_proxy_app
from tufpi.client.refusals import Refusal
from tufpi.client.verified_index import (
    ClientBounds,
    Location,
    VerifiedIndex,
    cache_dir_for,
    fetch_first_root,
)
from tufpi.config import Settings
from tufpi.http import ServerLimits, connection_budget, open_files_limit, protocol_class

# Connections the proxy accepts at most (see _limits).
_MAX_CONNECTIONS = 256

log = logging.getLogger("tufpi.client")
# Settings that could make an installer read from another index, unverified.
_INDEX_ENV_PREFIXES = ("PIP_", "UV_")
# Seconds the installer waits beyond tufpi's download deadline (``installer_timeout``).
INSTALLER_TIMEOUT_MARGIN = 30.0


def open_index(
    address: IndexAddress,
    cache_root: Path,
    root_file: Path | None,
    root_sha256: str | None,
    refresh_interval: float,
    client: HttpClient,
    bounds: ClientBounds | None = None,
) -> VerifiedIndex:
    """Trust for the index at ``address``: a root file, a pinned root fingerprint, or the
    cached root. ``client`` carries ``address.auth``; ``address.url`` has no credentials.

    The cache is bound to its first root (``anchor``): with a pin, a cache bootstrapped from
    another root, or holding metadata but no record of its first root, is discarded, with a
    warning, and rebuilt from the pinned root; a cache bootstrapped from the pinned root is
    reused without fetching that root again.

    Raises:
        Refusal: no usable root, or the index fails verification at once.
    """
    bounds = bounds or ClientBounds()
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
    index = VerifiedIndex(location, None, client, bounds, refresh_interval)
    index.refresh()
    return index


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


def _server(index: VerifiedIndex, host: str, port: int, allow_unpublished: bool) -> uvicorn.Server:
    config = uvicorn.Config(
        create_proxy_app(index, allow_unpublished),
        host=host,
        port=port,
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


def serve(index: VerifiedIndex, host: str, port: int, allow_unpublished: bool = False) -> None:
    """Serve until interrupted."""
    _server(index, host, port, allow_unpublished).run()


@contextlib.contextmanager
def background(index: VerifiedIndex, allow_unpublished: bool = False) -> Iterator[str]:
    """The proxy on an ephemeral 127.0.0.1 port for the duration; yields its simple URL."""
    server = _server(index, "127.0.0.1", 0, allow_unpublished)
    thread = threading.Thread(target=server.run, name="tufpi-proxy", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise Refusal("the verifying proxy did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/simple/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def installer_timeout(download_timeout: float) -> float:
    """The installer's network timeout: above tufpi's download deadline, so that a slow file
    is refused by tufpi, in its words ("slow retrieval"), before the installer gives up on
    the proxy with its own "Read timed out" (pip's default is 15 s, uv's 30 s; tufpi's 60 s).
    """
    return download_timeout + INSTALLER_TIMEOUT_MARGIN


def installer_command(
    installer: str, simple_url: str, args: Sequence[str], timeout: float | None = None
) -> list[str]:
    """pip or uv, told to use only the proxy and to ignore configured extra indexes (pip
    also to reach every host through the proxy, which serves only itself: ``forward``);
    pip given ``timeout`` (seconds) before ``args``, which may still override it (uv: see
    ``installer_env``)."""
    if installer == "pip":
        pip = [sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check"]
        timeout_args = ["--timeout", f"{timeout:g}"] if timeout is not None else []
        proxy_args = ["--proxy", origin_of(simple_url)]
        return [*pip, "install", "--index-url", simple_url, *proxy_args, *timeout_args, *args]
    if installer == "uv":
        uv = shutil.which("uv")
        program = [uv] if uv else [sys.executable, "-m", "uv"]
        return [*program, "pip", "install", "--no-config", "--index-url", simple_url, *args]
    raise ValueError(f"unknown installer {installer!r}")


def installer_env(timeout: float | None = None, proxy_url: str | None = None) -> dict[str, str]:
    """This environment without PIP_*/UV_* settings (extra indexes, find-links...), and
    without the index token: the installer talks only to the proxy, and the build backends
    it runs for sdists are code from the index. uv's HTTP timeout is ``timeout`` (whole
    seconds, rounded up). With ``proxy_url``, every HTTP proxy variable names it and
    ``NO_PROXY`` is dropped (``forward.installer_proxy_env``)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_INDEX_ENV_PREFIXES) and k != TOKEN_ENV
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    if timeout is not None:
        env["UV_HTTP_TIMEOUT"] = str(math.ceil(timeout))
    return env if proxy_url is None else installer_proxy_env(env, proxy_url)


def install(
    index: VerifiedIndex,
    installer: str,
    args: Sequence[str],
    allow_unpublished: bool = False,
) -> int:
    """Run the installer against a proxy on an ephemeral port; its exit code. The
    installer's timeout is set above the index's download deadline (``installer_timeout``).
    """
    timeout = installer_timeout(index.bounds.download_timeout)
    with background(index, allow_unpublished) as simple_url:
        command = installer_command(installer, simple_url, args, timeout)
        env = installer_env(timeout, origin_of(simple_url))
        return subprocess.run(command, env=env, check=False).returncode
