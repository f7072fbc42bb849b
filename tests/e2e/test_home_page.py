"""The home page and ``tufpi serve``'s start-up lines: the root fingerprint (the sha256 of
``tuf/1.root.json``) and the ``tufpi install`` / ``tufpi proxy`` lines that pin it, which a
user copies and which then work; a hostile Host header stays inert."""

from __future__ import annotations

import hashlib
import html
import re
import shlex
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import clients
from tests.support import server as server_support
from tests.support.dists import make_dists
from tests.support.server import IndexServer
from tests.support.tuf_client import first_root, wait_for_target

HOSTILE_HOST = 'evil.example"><script>alert(1)</script>'


@pytest.fixture(scope="module")
def published(index_server: IndexServer, workdir: Path) -> None:
    """A library, uploaded and published."""
    token = index_server.new_user("home-user")
    result = clients.twine_upload(index_server.url, token, make_dists(workdir, "home-lib", "1.0"))
    assert result.returncode == 0, result.stdout + result.stderr
    page = httpx.get(f"{index_server.simple}home-lib/").content
    wait_for_target(
        index_server, workdir, "simple/home-lib/index.html", hashlib.sha256(page).hexdigest()
    )


def _page_fingerprint(page: str) -> str:
    found = re.search(r'<pre id="root-sha256">([0-9a-f]{64})</pre>', page)
    assert found is not None, page
    return found.group(1)


def _command(page: str, key: str) -> list[str]:
    found = re.search(f'<pre id="cmd-{key}">(.*?)</pre>', page, re.S)
    assert found is not None, page
    return shlex.split(html.unescape(found.group(1)))


def _tufpi_install(args: list[str], cache: Path, target: Path) -> list[str]:
    """The page's ``tufpi install ... -- NAME`` as this test runs it: for this Python, with
    a cache of its own, pip, and ``--target`` with home-lib for NAME."""
    separator = args.index("--")
    assert args[:2] == ["tufpi", "install"]
    assert args[separator + 1 :] == ["NAME"]
    options = [*args[2:separator], "--cache-dir", str(cache), "--installer", "pip"]
    options += ["--python", sys.executable]  # no virtual environment is active here
    return [sys.executable, "-m", "tufpi.cli", "install", *options, "--", "--target", str(target),
            "home-lib"]  # fmt: skip


def test_the_fingerprint_on_the_page_pins_an_install(
    index_server: IndexServer, published: None, tmp_path: Path
) -> None:
    response = httpx.get(index_server.url)
    assert response.status_code == 200
    page = response.text
    fingerprint = _page_fingerprint(page)
    root = httpx.get(index_server.url + "tuf/1.root.json").content
    assert fingerprint == hashlib.sha256(root).hexdigest()
    assert fingerprint == hashlib.sha256(first_root(index_server)).hexdigest()
    assert _command(page, "pip") == [
        "pip", "install", "--index-url", index_server.simple, "NAME",
    ]  # fmt: skip
    proxy = _command(page, "tufpi-proxy")
    assert proxy == ["tufpi", "proxy", "--index", index_server.url, "--root-sha256", fingerprint]
    install = _command(page, "tufpi-install")
    assert install[2:6] == ["--index", index_server.url, "--root-sha256", fingerprint]

    result = clients.run(_tufpi_install(install, tmp_path / "cache", tmp_path / "t"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert {p.name for p in (tmp_path / "t").glob("*.dist-info")} == {"home_lib-1.0.dist-info"}


def test_another_fingerprint_is_refused(
    index_server: IndexServer, published: None, tmp_path: Path
) -> None:
    """The pin is what protects: the same line with another fingerprint installs nothing."""
    install = _command(httpx.get(index_server.url).text, "tufpi-install")
    install[5] = "0" * 64
    result = clients.run(_tufpi_install(install, tmp_path / "cache", tmp_path / "t"))
    assert result.returncode != 0
    assert "refused" in result.stderr
    assert not (tmp_path / "t").exists()


def test_a_hostile_host_header_stays_inert(index_server: IndexServer) -> None:
    response = httpx.get(index_server.url, headers={"host": HOSTILE_HOST})
    assert response.status_code == 200
    assert "<script>" not in response.text
    assert "evil.example" not in response.text
    # The address the server listens on instead.
    assert _page_fingerprint(response.text)
    assert _command(response.text, "pip")[3] == index_server.simple
    assert response.headers["vary"] == "Host"


def test_a_plain_host_header_names_the_index_as_the_client_reached_it(
    index_server: IndexServer,
) -> None:
    page = httpx.get(index_server.url, headers={"host": "pypi.internal.example:8443"}).text
    assert _command(page, "pip")[3] == "http://pypi.internal.example:8443/simple/"


def test_serve_prints_the_fingerprint_at_every_start(tmp_path: Path) -> None:
    """Not only at the first start, when it initialises: at each, with the two lines."""
    seen = []
    for start in range(2):
        srv = server_support.start(tmp_path / "index", log_name=f"serve-{start}.log")
        try:
            root = httpx.get(srv.url + "tuf/1.root.json").content
        finally:
            srv.stop()
        fingerprint = hashlib.sha256(root).hexdigest()
        log = (tmp_path / "index" / f"serve-{start}.log").read_text()
        assert f"root fingerprint (sha256 of {srv.url}tuf/1.root.json): {fingerprint}" in log
        assert f"tufpi install --index {srv.url} --root-sha256 {fingerprint} -- NAME" in log
        assert f"tufpi proxy --index {srv.url} --root-sha256 {fingerprint}" in log
        seen.append(fingerprint)
    assert seen[0] == seen[1]
