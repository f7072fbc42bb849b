"""The index's unsigned ("live") page is read only where a feature needs it, and whatever
bytes it holds, the proxy answers with the verified page.

Before, the proxy read the unsigned page on every request for a project page, only to print
a warning, with no bound, and parsed it as JSON: a page that was not (a CDN ignoring
``Vary: Accept`` sends HTML) made it answer 500 with a traceback, though the signed page had
verified.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.proxy import proxy
from tests.support.proxy_attacks import (
    JSON_ACCEPT,
    HostileMirror,
    hostile_mirror,
    published_root,
    timed,
)
from tests.support.server import IndexServer

PROJECT = "up-lib"
PAGE = f"/simple/{PROJECT}/"
# The proxy's --download-timeout here: a slow unsigned page costs at most this.
TIMEOUT = 4.0


@pytest.fixture(scope="module")
def root(index_server: IndexServer, workdir: Path) -> Path:
    return published_root(index_server, workdir, "unsigned-page-user", [(PROJECT, "1.0", [])])


@pytest.fixture
def mirror(index_server: IndexServer) -> Iterator[HostileMirror]:
    with hostile_mirror(index_server.url) as mirror:
        yield mirror


def _signed(index_server: IndexServer, accept: str) -> bytes:
    """The project's page as the index signed it (served unchanged to every client)."""
    return httpx.get(index_server.simple + PROJECT + "/", headers={"accept": accept}).content


def _replace(body: bytes) -> Callable[[HostileMirror], None]:
    return lambda m: m.edit_page(PROJECT, lambda _b: body, signed=False)


def _html_for_json(index_server: IndexServer) -> Callable[[HostileMirror], None]:
    """A CDN that ignores ``Vary: Accept``: the HTML page where JSON was asked for."""
    html = _signed(index_server, "text/html")
    return lambda m: m.edit_page(PROJECT, lambda _b: html, signed=False)


HOSTILE_PAGES: dict[str, Callable[[IndexServer], Callable[[HostileMirror], None]]] = {
    "not JSON": lambda _s: _replace(b"\xff\xfe<<not json at all"),
    "HTML where JSON was asked": _html_for_json,
    "a JSON list": lambda _s: _replace(b"[1, 2, 3]"),
    "files of a wrong type": lambda _s: _replace(b'{"files": 5}'),
    "entries of wrong types": lambda _s: _replace(
        b'{"files": [5, {"filename": 5, "url": []}, {"filename": "up_lib-9.0.tar.gz", '
        b'"url": {"a": 1}, "hashes": "sha256"}]}'
    ),
    "missing keys": lambda _s: _replace(b'{"files": [{}, {"filename": "up_lib-9.0.tar.gz"}]}'),
    "deep nesting": lambda _s: _replace(b"[" * 100_000 + b"]" * 100_000),
    "huge": lambda _s: _replace(b'{"files": [], "pad": "' + b"x" * (25 * 1024 * 1024) + b'"}'),
    "a gzip bomb": lambda _s: lambda m: m.bomb(PAGE),
    "endless, decoding to nothing": lambda _s: lambda m: m.endless_gzip(PAGE),
    "HTTP 500": lambda _s: lambda m: m.fail(PAGE, 500),
}


def test_a_listed_project_never_reads_the_unsigned_page(
    index_server: IndexServer, root: Path, mirror: HostileMirror, tmp_path: Path
) -> None:
    """Without --allow-unpublished the unsigned page is not read for a listed project: HTML
    where JSON was asked (what made the proxy answer 500) changes nothing."""
    _html_for_json(index_server)(mirror)
    with proxy(mirror.url, tmp_path / "cache", "--root", str(root)) as simple:
        for accept in (JSON_ACCEPT, "text/html"):
            response = httpx.get(simple + PROJECT + "/", headers={"accept": accept}, timeout=30)
            assert response.status_code == 200, response.text
            assert response.content == _signed(index_server, accept)
    assert PAGE not in mirror.requests
    assert any(p.startswith(PAGE) for p in mirror.requests)  # the signed page was read


def test_an_unlisted_project_gets_a_bounded_404(
    index_server: IndexServer, root: Path, mirror: HostileMirror, tmp_path: Path
) -> None:
    """The unsigned page read for a 404's hint is bounded and best-effort: a bomb there
    gives a plain 404, in time."""
    mirror.bomb("/simple/never-was/")
    with proxy(mirror.url, tmp_path / "cache", "--root", str(root)) as simple:
        response, seconds = timed(httpx.get, simple + "never-was/")
    assert response.status_code == 404
    assert "not listed in the signed metadata" in response.text
    assert "publication is pending" not in response.text
    assert seconds < TIMEOUT + 10
    assert "/simple/never-was/" in mirror.requests


@pytest.mark.parametrize("attack", HOSTILE_PAGES)
def test_any_unsigned_page_answers_the_verified_page(
    index_server: IndexServer, root: Path, mirror: HostileMirror, tmp_path: Path, attack: str
) -> None:
    """With --allow-unpublished the unsigned page is read, and any bytes there (or none, or
    too many, or too slowly) give the signed page, never an error."""
    HOSTILE_PAGES[attack](index_server)(mirror)
    trust = ["--root", str(root), "--allow-unpublished", "--download-timeout", str(TIMEOUT)]
    with proxy(mirror.url, tmp_path / "cache", *trust) as simple:
        for accept in (JSON_ACCEPT, "text/html"):
            response, seconds = timed(
                httpx.get, simple + PROJECT + "/", headers={"accept": accept}, timeout=60
            )
            assert response.status_code == 200, response.text
            assert response.content == _signed(index_server, accept)
            assert seconds < TIMEOUT + 10
    assert PAGE in mirror.requests  # it was read, and its answer was hostile


def test_the_mirror_serves_what_the_test_says(
    index_server: IndexServer, mirror: HostileMirror
) -> None:
    """The attacks reach a client: plain httpx through the mirror sees the hostile page."""
    _html_for_json(index_server)(mirror)
    response = httpx.get(mirror.url + PAGE.lstrip("/"), headers={"accept": JSON_ACCEPT})
    assert response.status_code == 200
    assert response.content == _signed(index_server, "text/html")
