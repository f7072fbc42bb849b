"""The fetcher's pure parts and its construction: which limit is a signed length, the one
HTTP client with the deadline under every pool (proxies included), origin-bound credentials."""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import time

import httpx
import pytest
from tuf.ngclient import UpdaterConfig

from tests.support.waiting import wait_until
from tufpi.client.fetcher import (
    BoundedFetcher,
    OriginAuth,
    SlowDownload,
    http_client,
    metadata_limit_kind,
)
from tufpi.http import deadline

TUF = "http://i.example/tuf/"


def test_which_metadata_limits_are_signed_lengths() -> None:
    config = UpdaterConfig()
    kind = metadata_limit_kind
    assert kind(TUF + "2.root.json", config.root_max_length, config) == "cap"
    assert kind(TUF + "timestamp.json", 1234, config) == "cap"
    assert kind(TUF + "3.snapshot.json", config.snapshot_max_length, config) == "cap"
    assert kind(TUF + "3.snapshot.json", 4567, config) == "signed"
    assert kind(TUF + "7.bins-1f.json", config.targets_max_length, config) == "cap"
    assert kind(TUF + "7.bin-1f.json", 999, config) == "signed"
    assert kind(TUF + "targets.json", config.targets_max_length, config) == "cap"
    small = UpdaterConfig(targets_max_length=999)
    assert kind(TUF + "7.bin-1f.json", 999, small) == "cap"


def _backends(client: httpx.Client) -> list[object]:
    transports = [client._transport, *client._mounts.values()]
    return [t._pool._network_backend for t in transports if t is not None]  # type: ignore[attr-defined]


def test_every_pool_of_the_client_is_under_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plain transport and those httpx mounts for proxies from the environment."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    with http_client(None) as client:
        backends = _backends(client)
        assert len(backends) >= 2
        assert all(isinstance(b, deadline._DeadlineBackend) for b in backends)
        assert client.follow_redirects is False
    with httpx.Client() as plain:  # what httpx alone builds: no deadline below it
        assert not any(isinstance(b, deadline._DeadlineBackend) for b in _backends(plain))


def _authorization(auth: httpx.Auth, url: str) -> str | None:
    return next(auth.auth_flow(httpx.Request("GET", url))).headers.get("authorization")


def test_credentials_go_to_their_own_origin_only() -> None:
    index = OriginAuth.basic("https://i.example:8443/root/", "__token__", "s3cret")
    other = OriginAuth.basic("https://t.example/", "u", "p")
    both = OriginAuth.merge([index, other])
    header = _authorization(both, "https://i.example:8443/tuf/timestamp.json")
    assert header is not None
    assert base64.b64decode(header.removeprefix("Basic ")) == b"__token__:s3cret"
    assert _authorization(both, "https://t.example/x") is not None
    for elsewhere in ("http://i.example:8443/", "https://i.example/", "https://evil.example/"):
        assert _authorization(both, elsewhere) is None


def test_name_resolution_ends_by_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resolver that hangs (``getaddrinfo`` takes no timeout): plain httpx with a 1 s
    timeout still waits after 2 s; the fetcher gives up at its 1 s deadline."""
    release = threading.Event()
    calls: list[float] = []

    def hanging(*_args: object, **_kwargs: object) -> list[object]:
        calls.append(time.monotonic())
        release.wait(30)
        raise socket.gaierror("the resolver gave up")

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    try:

        def plain_httpx() -> None:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get("http://hangs.invalid/", timeout=1.0)

        naive = threading.Thread(target=plain_httpx, daemon=True)
        naive.start()
        wait_until(lambda: calls and time.monotonic() - calls[0] >= 2, "the naive lookup", 10)
        assert naive.is_alive()

        with http_client(None) as client:
            fetcher = BoundedFetcher(client, read_timeout=5, total_timeout=1)
            started = time.monotonic()
            with pytest.raises(SlowDownload) as caught:
                fetcher.get("http://hangs.invalid/x", 100)
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert caught.value.phase == "connect"
    assert caught.value.summary.startswith("no connection in 1.")
    assert 1 <= elapsed < 1.5
