"""Run the proxy: in the foreground (``tufpi proxy``) or on an ephemeral loopback port around
an installer (``tufpi install``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import uvicorn

from tufpi.client.proxy import create_proxy_app
from tufpi.client.refusals import Refusal
from tufpi.client.verified_index import VerifiedIndex, cache_dir_for, fetch_first_root
from tufpi.web.server import ReasonH11Protocol

# Settings that could make an installer read from another index, unverified.
_INDEX_ENV_PREFIXES = ("PIP_", "UV_")


def open_index(
    index_url: str,
    cache_root: Path,
    root_file: Path | None,
    root_sha256: str | None,
    refresh_interval: float,
    client: httpx.Client,
    download_timeout: float = 60.0,
) -> VerifiedIndex:
    """Trust for ``index_url``: a root file, a pinned root fingerprint, or the cached root.

    Raises:
        Refusal: no usable root, or the index fails verification at once.
    """
    index_url = index_url.rstrip("/") + "/"
    root: bytes | None = None
    if root_file is not None:
        root = root_file.read_bytes()
    elif root_sha256 is not None:
        root = fetch_first_root(client, index_url, root_sha256)
    index = VerifiedIndex(
        index_url,
        cache_dir_for(cache_root, index_url),
        root,
        client,
        refresh_interval,
        download_timeout=download_timeout,
    )
    index.refresh()
    return index


def _server(
    index: VerifiedIndex, client: httpx.Client, host: str, port: int, allow_unpublished: bool
) -> uvicorn.Server:
    config = uvicorn.Config(
        create_proxy_app(index, client, allow_unpublished),
        host=host,
        port=port,
        http=ReasonH11Protocol,
        log_level="warning",
        lifespan="off",
    )
    return uvicorn.Server(config)


def serve(
    index: VerifiedIndex,
    client: httpx.Client,
    host: str,
    port: int,
    allow_unpublished: bool = False,
) -> None:
    """Serve until interrupted."""
    _server(index, client, host, port, allow_unpublished).run()


@contextlib.contextmanager
def background(
    index: VerifiedIndex, client: httpx.Client, allow_unpublished: bool = False
) -> Iterator[str]:
    """The proxy on an ephemeral 127.0.0.1 port for the duration; yields its simple URL."""
    server = _server(index, client, "127.0.0.1", 0, allow_unpublished)
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
    """This environment without PIP_*/UV_* settings (extra indexes, find-links...)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INDEX_ENV_PREFIXES)}
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
    with background(index, client, allow_unpublished) as simple_url:
        command = installer_command(installer, simple_url, args)
        return subprocess.run(command, env=installer_env(), check=False).returncode
