"""Terminal escapes from the network never reach the client's terminal or log raw.

A tampering mirror adds a file whose name carries escape sequences to the unsigned JSON
page of a project: ``ESC [2K`` (erase the line), ``CR`` and ``ESC [32m`` (green) would
replace the warning tufpi prints about that file by a green "verified". The file is not
signed, so the client (with --allow-unpublished, which reads that page) leaves it out and
names it in a warning: escaped, visibly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import clients
from tests.support.dists import make_dists
from tests.support.mirror import Mirror, running
from tests.support.proxy import proxy, tufpi_install
from tests.support.server import IndexServer
from tests.support.tuf_client import first_root, wait_for_target
from tests.support.waiting import wait_until

PROJECT = "term-pkg"
EVIL = "term_pkg-1.0-py3-none-any.whl\x1b[2K\r\x1b[32mverified"
SHOWN = "term_pkg-1.0-py3-none-any.whl\\x1b[2K"  # how it is shown, escaped
_JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture(scope="module")
def published(index_server: IndexServer, workdir: Path) -> Path:
    """``term-pkg 1.0`` published; returns the trusted root file."""
    token = index_server.new_user("terminal")
    wheels = [p for p in make_dists(workdir, PROJECT, "1.0") if p.suffix == ".whl"]
    result = clients.twine_upload(index_server.url, token, wheels)
    assert result.returncode == 0, result.stdout + result.stderr
    page = httpx.get(f"{index_server.simple}{PROJECT}/", headers={"accept": _JSON}).content
    sha256 = hashlib.sha256(page).hexdigest()
    wait_for_target(index_server, workdir, f"simple/{PROJECT}/index.json", sha256, timeout=60)
    root = workdir / "terminal-1.root.json"
    root.write_bytes(first_root(index_server))
    return root


def _add_evil_file(body: bytes) -> bytes:
    """The unsigned JSON page with one more file, named to rewrite the terminal."""
    try:
        page = json.loads(body)
    except ValueError:  # the HTML page: left alone
        return body
    entry = dict(page["files"][0], filename=EVIL, url=f"../../packages/{EVIL}")
    page["files"].append(entry)
    return json.dumps(page).encode()


@pytest.fixture
def tampering(index_server: IndexServer, published: Path) -> Iterator[Mirror]:
    with running(index_server.url) as mirror:
        mirror.edit_page(PROJECT, _add_evil_file, signed=False)
        yield mirror


def _assert_escaped(output: str) -> None:
    assert "\x1b" not in output, output
    assert "\r" not in output, output
    assert SHOWN in output, output  # the file was named, visibly


def test_proxy_log_shows_escapes_from_a_mirror(
    published: Path, tampering: Mirror, tmp_path: Path
) -> None:
    """With --allow-unpublished the proxy reads the unsigned page, and names the file it
    leaves out (without it, the proxy does not read that page for a listed project)."""
    unsigned = httpx.get(f"{tampering.url}simple/{PROJECT}/", headers={"accept": _JSON})
    assert EVIL in {f["filename"] for f in unsigned.json()["files"]}  # the attack is served
    log = tmp_path / "proxy.log"
    trust = ["--root", str(published), "--allow-unpublished"]
    with proxy(tampering.url, tmp_path / "cache", *trust, log=log) as simple:
        response = httpx.get(f"{simple}{PROJECT}/", headers={"accept": _JSON})
        assert response.status_code == 200
        # The signal: the proxy names the file (any wording), escaped; raw, it never would.
        wait_until(
            lambda: SHOWN in log.read_text(errors="replace"),
            "the proxy named the unsigned file, escaped",
        )
    _assert_escaped(log.read_text(errors="replace"))


def test_install_output_shows_escapes_from_a_mirror(
    published: Path, tampering: Mirror, tmp_path: Path
) -> None:
    trust = ["--root", str(published), "--allow-unpublished"]
    args = ["--retries", "0", "--target", str(tmp_path / "t"), PROJECT]
    result = tufpi_install(tampering.url, tmp_path / "cache", trust, *args)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    _assert_escaped(output)
