"""Run the proxy: in the foreground (``tufpi proxy``) or on an ephemeral loopback port around
an installer (``tufpi install``)."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

import httpx
import uvicorn

from tufpi.client.credentials import TOKEN_ENV, IndexAddress
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
from tufpi.web.limits import ServerLimits, connection_budget
from tufpi.web.server import protocol_class

# Connections the proxy accepts at most (see _limits).
_MAX_CONNECTIONS = 256

# Settings that could make an installer read from another index, unverified.
_INDEX_ENV_PREFIXES = ("PIP_", "UV_")


def open_index(
    address: IndexAddress,
    cache_root: Path,
    root_file: Path | None,
    root_sha256: str | None,
    refresh_interval: float,
    client: httpx.Client,
    bounds: ClientBounds | None = None,
) -> VerifiedIndex:
    """Trust for the index at ``address``: a root file, a pinned root fingerprint, or the
    cached root. ``client`` carries ``address.auth``; ``address.url`` has no credentials.

    Raises:
        Refusal: no usable root, or the index fails verification at once.
    """
    root: bytes | None = None
    if root_file is not None:
        root = root_file.read_bytes()
    elif root_sha256 is not None:
        root = fetch_first_root(client, address.url, root_sha256)
    index = VerifiedIndex(
        Location.of_index(address.url, cache_dir_for(cache_root, address)),
        root,
        client,
        bounds,
        refresh_interval,
    )
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
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    cap = min(_MAX_CONNECTIONS, max(8, connection_budget(soft) // 2))
    return ServerLimits.from_settings(Settings(max_connections=cap), soft)


def _server(index: VerifiedIndex, host: str, port: int, allow_unpublished: bool) -> uvicorn.Server:
    config = uvicorn.Config(
        create_proxy_app(index, allow_unpublished),
        host=host,
        port=port,
        # A client trickling its request (or never reading the answer) is cut off, and the
        # connections are capped, as for `tufpi serve` (web/server.py).
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


def installer_command(installer: str, simple_url: str, args: Sequence[str]) -> list[str]:
    """pip or uv, told to use only the proxy and to ignore configured extra indexes."""
    if installer == "pip":
        pip = [sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check"]
        return [*pip, "install", "--index-url", simple_url, *args]
    if installer == "uv":
        uv = shutil.which("uv")
        program = [uv] if uv else [sys.executable, "-m", "uv"]
        return [*program, "pip", "install", "--no-config", "--index-url", simple_url, *args]
    raise ValueError(f"unknown installer {installer!r}")


def installer_env() -> dict[str, str]:
    """This environment without PIP_*/UV_* settings (extra indexes, find-links...), and
    without the index token: the installer talks only to the proxy, and the build backends
    it runs for sdists are code from the index."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_INDEX_ENV_PREFIXES) and k != TOKEN_ENV
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def install(
    index: VerifiedIndex,
    client: httpx.Client,
    installer: str,
    args: Sequence[str],
    allow_unpublished: bool = False,
) -> int:
    """Run the installer against a proxy on an ephemeral port; its exit code."""
    with background(index, allow_unpublished) as simple_url:
        command = installer_command(installer, simple_url, args)
        return subprocess.run(command, env=installer_env(), check=False).returncode
