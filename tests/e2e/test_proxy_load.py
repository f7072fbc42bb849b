"""A running ``tufpi proxy`` in front of a hostile mirror: no download holds a lock, slow
downloads fill only a pool of their own, and the proxy's server cuts off clients that
trickle their requests, so pip installs other projects in normal time while it is attacked.

Before, a stalled file download held the verified index's lock (every other request waited
for its deadline), and 45 of them exhausted the thread pool every request shared.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import clients
from tests.support.proxy import proxy
from tests.support.proxy_attacks import (
    JSON_ACCEPT,
    HostileMirror,
    Repeat,
    Tricklers,
    file_path,
    hostile_mirror,
    peak_memory_of,
    published_root,
    timed,
)
from tests.support.server import IndexServer
from tests.support.waiting import wait_until

# The proxy's --download-timeout: how long a trickled download holds its thread.
DOWNLOAD_TIMEOUT = "30"
# What a request that no attack concerns may take while the attacks run.
PROMPT = 5.0
PROJECTS = ["ld-a", "ld-b", "ld-c", "ld-d", "ld-slow", "ld-slow2", "ld-page", "ld-same"]


def _wheel(name: str) -> str:
    return f"{name.replace('-', '_')}-1.0-py3-none-any.whl"


def _sdist(name: str) -> str:
    return f"{name.replace('-', '_')}-1.0.tar.gz"


@pytest.fixture(scope="module")
def root(index_server: IndexServer, workdir: Path) -> Path:
    releases = [(name, "1.0", []) for name in PROJECTS]
    releases[1] = ("ld-b", "1.0", ["ld-a"])
    releases[3] = ("ld-d", "1.0", ["ld-c"])
    return published_root(index_server, workdir, "load-user", releases)


@pytest.fixture
def mirror(index_server: IndexServer) -> Iterator[HostileMirror]:
    with hostile_mirror(index_server.url) as mirror:
        yield mirror


def _fetches_of(mirror: HostileMirror, filename: str) -> int:
    """How many times the proxy has asked the mirror for ``filename`` (a consistent name)."""
    return sum(1 for p in list(mirror.requests) if p.endswith("." + filename))


def _reached(mirror: HostileMirror, path: str) -> bool:
    """Whether the proxy has asked the mirror for ``path`` (or a file's consistent name)."""
    return path in mirror.requests or _fetches_of(mirror, path.rpartition("/")[2]) > 0


def _in_background(url: str, count: int) -> list[threading.Thread]:
    """``count`` requests for ``url`` in flight, each in a thread of its own."""

    def get() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=120)

    threads = [threading.Thread(target=get, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def _prompt_page_and_file(index_server: IndexServer, simple: str, project: str) -> None:
    """A page and a file of ``project`` (not yet cached) answer within PROMPT seconds."""
    page, seconds = timed(
        httpx.get, simple + project + "/", headers={"accept": JSON_ACCEPT}, timeout=60
    )
    assert page.status_code == 200, page.text
    assert seconds < PROMPT, f"the page took {seconds:.1f} s"
    path = file_path(index_server, project, _wheel(project))
    wheel, seconds = timed(httpx.get, simple.removesuffix("simple/") + path, timeout=60)
    assert wheel.status_code == 200
    assert wheel.content == (index_server.data_dir / "files" / path).read_bytes()
    assert seconds < PROMPT, f"the file took {seconds:.1f} s"


@pytest.mark.parametrize("stalled", [1, 45])
def test_stalled_downloads_hold_up_no_other_request(
    index_server: IndexServer, root: Path, mirror: HostileMirror, tmp_path: Path, stalled: int
) -> None:
    """One trickled download (before: it held the lock, so every other request waited for
    its deadline), or 45 (before: they took the 40 threads every request shared)."""
    wheel = _wheel("ld-slow")
    mirror.trickle_file(wheel, interval=0.5)
    trust = ["--root", str(root), "--download-timeout", DOWNLOAD_TIMEOUT]
    with proxy(mirror.url, tmp_path / "cache", *trust) as simple:
        path = file_path(index_server, "ld-slow", wheel)
        _in_background(simple.removesuffix("simple/") + path, stalled)
        wait_until(
            lambda: _fetches_of(mirror, wheel) >= stalled,
            f"{stalled} downloads of {wheel} in flight at once",
            timeout=20,
        )
        _prompt_page_and_file(index_server, simple, "ld-page")


def test_concurrent_downloads_of_one_file_are_whole(
    index_server: IndexServer, root: Path, tmp_path: Path
) -> None:
    """Ten downloads of one file at once, each into a file of its own: each answer is the
    whole verified file, and no temporary file is left behind."""
    path = file_path(index_server, "ld-same", _wheel("ld-same"))
    expected = (index_server.data_dir / "files" / path).read_bytes()
    bodies: list[bytes] = []
    with proxy(index_server.url, tmp_path / "cache", "--root", str(root)) as simple:

        def get() -> None:
            bodies.append(httpx.get(simple.removesuffix("simple/") + path, timeout=60).content)

        threads = [threading.Thread(target=get) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert bodies == [expected] * 10
    assert not list((tmp_path / "cache").rglob(".download-*"))


def _bombs(index_server: IndexServer, mirror: HostileMirror, base: str) -> list[tuple[str, Repeat]]:
    """Five requests, repeated, whose upstream answers are bombs: a gzip bomb as a PEP 658
    file and as an unsigned page, two trickled files, an unsigned page that never ends."""
    slow = "/" + file_path(index_server, "ld-slow", _wheel("ld-slow"))
    mirror.bomb(slow + ".metadata")
    mirror.bomb("/simple/ld-slow/")
    mirror.trickle_file(_wheel("ld-slow2"), interval=0.5)
    mirror.trickle_file(_sdist("ld-slow2"), interval=0.5)
    mirror.endless_gzip("/simple/ld-slow2/")
    paths = [
        slow + ".metadata",
        "/simple/ld-slow/",
        "/" + file_path(index_server, "ld-slow2", _wheel("ld-slow2")),
        "/" + file_path(index_server, "ld-slow2", _sdist("ld-slow2")),
        "/simple/ld-slow2/",
    ]

    def request(path: str) -> Repeat:
        headers = {"accept": JSON_ACCEPT}
        return Repeat(lambda: httpx.get(base + path, headers=headers, timeout=120).status_code)

    return [(path, request(path).start()) for path in paths]


def _pip(simple: str, target: Path, *projects: str) -> float:
    result, seconds = timed(clients.pip_install, simple, target, *projects)
    assert result.returncode == 0, result.stdout + result.stderr
    return seconds


def test_pip_installs_in_normal_time_while_the_proxy_is_attacked(
    index_server: IndexServer, root: Path, mirror: HostileMirror, tmp_path: Path
) -> None:
    """50 connections trickling requests at the proxy and 5 bomb answers in flight, while
    pip installs two other projects (and their dependencies) through it."""
    cache = tmp_path / "cache"
    trust = ["--root", str(root), "--download-timeout", DOWNLOAD_TIMEOUT, "--allow-unpublished"]
    with proxy(mirror.url, cache, *trust) as simple:
        baseline = _pip(simple, tmp_path / "baseline", "ld-b")
        base = simple.removesuffix("/simple/")
        port = int(base.rpartition(":")[2])
        with Tricklers(port, 50) as tricklers:
            bombs = _bombs(index_server, mirror, base)
            wait_until(
                lambda: (
                    all(_reached(mirror, path) for path, _ in bombs) and tricklers.connects >= 50
                ),
                "every attack under way",
            )
            attacked = _pip(simple, tmp_path / "attacked", "ld-d")
            for i, (_, repeat) in enumerate(bombs):
                # The two bombs answer at once: wait for their last answer.
                repeat.stop(timeout=30 if i < 2 else 0)
        assert attacked < baseline * 3 + 5, f"{attacked:.1f} s attacked, {baseline:.1f} s before"
        installed = {p.name for p in (tmp_path / "attacked").glob("*.dist-info")}
        assert installed == {"ld_c-1.0.dist-info", "ld_d-1.0.dist-info"}
        # The bombs were refused (or answered with the signed page), never an error.
        for path, repeat in bombs[:2]:
            assert repeat.statuses, f"no answer for {path}"
        assert set(bombs[0][1].statuses) <= {403}
        assert set(bombs[1][1].statuses) <= {200}
        assert peak_memory_of(str(cache)) < 300 * 1024 * 1024


def _trickle_until_closed(port: int, seconds: float) -> tuple[bytes, float]:
    """Send a request head a byte a second until the server closes the connection (or
    ``seconds`` pass); what it answered, and when."""
    head = b"GET /simple/ld-a/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    answer = b""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
        sent = 0
        while time.monotonic() - start < seconds:
            with contextlib.suppress(OSError):
                sock.sendall(head[sent % len(head) : sent % len(head) + 1])
                sent += 1
            try:
                data = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            answer += data
    return answer, time.monotonic() - start


def test_a_client_trickling_its_request_is_cut_off(
    index_server: IndexServer, root: Path, tmp_path: Path
) -> None:
    """The proxy's server has `tufpi serve`'s request-head deadline (15 s): a client sending
    its request a byte a second is answered 408 and closed (before: held open forever)."""
    with proxy(index_server.url, tmp_path / "cache", "--root", str(root)) as simple:
        port = int(simple.removesuffix("/simple/").rpartition(":")[2])
        answer, seconds = _trickle_until_closed(port, 40)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert seconds < 25
