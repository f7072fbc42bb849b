"""The cache is bound to the pinned root: a planted cache cannot override ``--root-sha256``.

The attacker can write the victim's cache (a shared or restored CI cache) and answer for
the index's URL (the network, a mirror). They run an index of their own, with their own
root keys and an ``anchor-pkg 6.6.6``; they plant its root and metadata in the victim's
cache, and their URL serves the *real* first root at ``/tuf/1.root.json``, so a pin check
of that file alone passes. The victim runs ``tufpi install --root-sha256 <real pin>``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import clients
from tests.support import server as server_support
from tests.support.dists import make_dists
from tests.support.mirror import Mirror, running
from tests.support.server import IndexServer
from tests.support.tuf_client import first_root, wait_for_target
from tufpi.client.anchor import ANCHOR_FILE
from tufpi.client.credentials import parse_index_url
from tufpi.client.verified_index import (
    ClientBounds,
    Location,
    VerifiedIndex,
    cache_dir_for,
    fetch_first_root,
)

PROJECT = "anchor-pkg"
_JSON = "application/vnd.pypi.simple.v1+json"


def _publish(index: IndexServer, work: Path, version: str) -> None:
    token = index.new_user(f"anchor-{version.replace('.', '-')}")
    wheels = [p for p in make_dists(work, PROJECT, version) if p.suffix == ".whl"]
    result = clients.twine_upload(index.url, token, wheels)
    assert result.returncode == 0, result.stdout + result.stderr
    page = httpx.get(f"{index.simple}{PROJECT}/", headers={"accept": _JSON}).content
    sha256 = hashlib.sha256(page).hexdigest()
    wait_for_target(index, work, f"simple/{PROJECT}/index.json", sha256, timeout=60)


@pytest.fixture(scope="module")
def real(index_server: IndexServer, workdir: Path) -> IndexServer:
    """The real index, with ``anchor-pkg 1.0`` published."""
    _publish(index_server, workdir / "real", "1.0")
    return index_server


@pytest.fixture(scope="module")
def attacker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    """The attacker's index: its own root keys, an ``anchor-pkg 6.6.6``."""
    data = tmp_path_factory.mktemp("attacker-index")
    srv = server_support.start(data, None)
    try:
        _publish(srv, data / "work", "6.6.6")
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def attacker_url(attacker: IndexServer, real: IndexServer) -> Iterator[Mirror]:
    """The attacker's index at a URL of theirs, serving the real first root."""
    with running(attacker.url) as mirror:
        mirror.replace_metadata("1.root.json", first_root(real))
        yield mirror


@pytest.fixture
def honest_url(real: IndexServer) -> Iterator[Mirror]:
    """The real index through an honest mirror (to count what the client fetches)."""
    with running(real.url) as mirror:
        yield mirror


def _pin(index: IndexServer) -> str:
    return hashlib.sha256(first_root(index)).hexdigest()


def _install(
    url: str, cache: Path, target: Path, *trust: str, options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return clients.run(
        [
            sys.executable,
            "-m",
            "tufpi.cli",
            "install",
            "--python",
            sys.executable,
            "--index",
            url,
            *trust,
            "--cache-dir",
            str(cache),
            *options,
            "--",
            "--retries",
            "0",
            "--target",
            str(target),
            PROJECT,
        ]
    )


def _installed(target: Path) -> set[str]:
    return {p.name for p in target.glob("*.dist-info")}


def _metadata_dir(cache: Path, url: str) -> Path:
    return cache_dir_for(cache, parse_index_url(url)) / "metadata"


def _poison(attacker: IndexServer, url: str, cache: Path, tmp_path: Path, anchor: str) -> None:
    """What the attacker leaves in the victim's cache: their index's root and metadata for
    ``url``, with their own anchor, none (a cache of an older tufpi), or a forged one (the
    real root's bytes, so that the anchor matches the pin)."""
    root = tmp_path / "attacker-1.root.json"
    root.write_bytes(first_root(attacker))
    made = _install(url, cache, tmp_path / "attacker-run", "--root", str(root))
    assert made.returncode == 0, made.stdout + made.stderr
    assert _installed(tmp_path / "attacker-run") == {"anchor_pkg-6.6.6.dist-info"}
    metadata = _metadata_dir(cache, url)
    assert (metadata / "timestamp.json").exists()
    if anchor == "none":
        (metadata / ANCHOR_FILE).unlink()
    elif anchor == "forged":
        (metadata / ANCHOR_FILE).write_bytes(httpx.get(url + "tuf/1.root.json").content)


def _old_client_trusts_the_cache(url: str, cache: Path, pin: str, tmp_path: Path) -> set[str]:
    """What ``open_index`` did before the cache was bound to the pin, on a copy of the
    poisoned cache: check the fetched first root against the pin (it passes: the URL serves
    the real one), hand it to VerifiedIndex, which keeps the cached root.json instead.
    Returns the versions the signed page it verified lists."""
    copy = tmp_path / "old-client-cache"
    shutil.copytree(cache, copy, symlinks=True)
    address = parse_index_url(url)
    with httpx.Client() as client:
        root = fetch_first_root(ClientBounds().fetcher(client), url, pin)
        location = Location.of_index(url, cache_dir_for(copy, address))
        index = VerifiedIndex(location, root, client)
        index.refresh()
        page = json.loads(index.page(PROJECT, "index.json"))
    return {f["filename"].split("-")[1] for f in page["files"]}


@pytest.mark.parametrize("anchor", ["own", "none", "forged"])
def test_a_planted_cache_cannot_override_the_pinned_root(
    real: IndexServer,
    attacker: IndexServer,
    attacker_url: Mirror,
    tmp_path: Path,
    anchor: str,
) -> None:
    url, cache, pin = attacker_url.url, tmp_path / "victim-cache", _pin(real)
    _poison(attacker, url, cache, tmp_path, anchor)
    # Before: the pin was checked against the first root the URL served, and then the
    # cached root was trusted: the attacker's page verifies, 6.6.6 and all.
    assert _old_client_trusts_the_cache(url, cache, pin, tmp_path) == {"6.6.6"}

    result = _install(url, cache, tmp_path / "victim", "--root-sha256", pin)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert not (tmp_path / "victim").exists() or _installed(tmp_path / "victim") == set()
    assert "anchor_pkg-6.6.6" not in output
    metadata = _metadata_dir(cache, url)
    if anchor == "own":
        assert f"bootstrapped from the root with sha256 {_pin(attacker)}" in output, output
        assert f"not from the pinned root with sha256 {pin}" in output
    elif anchor == "none":
        assert "records no first root" in output, output
        assert f"not from the pinned root with sha256 {pin}" in output
    else:  # the forged anchor matches the pin: trust starts from the real root, and stops
        assert "discarding" not in output
    assert "refused: bad signature on the metadata" in output, output
    # Whatever the cache held, it is now anchored at the pinned root.
    assert hashlib.sha256((metadata / ANCHOR_FILE).read_bytes()).hexdigest() == pin


def test_a_cache_anchored_at_the_pin_does_not_fetch_the_first_root_again(
    real: IndexServer, honest_url: Mirror, tmp_path: Path
) -> None:
    cache, pin = tmp_path / "cache", _pin(real)
    first = _install(honest_url.url, cache, tmp_path / "a", "--root-sha256", pin)
    assert first.returncode == 0, first.stdout + first.stderr
    assert honest_url.requests.count("/tuf/1.root.json") == 1
    again = _install(honest_url.url, cache, tmp_path / "b", "--root-sha256", pin)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _installed(tmp_path / "b") == {"anchor_pkg-1.0.dist-info"}
    assert honest_url.requests.count("/tuf/1.root.json") == 1
    assert "discarding" not in again.stderr
    # Without a pin the cache is trusted, and the client says which root that is.
    unpinned = _install(honest_url.url, cache, tmp_path / "c")
    assert unpinned.returncode == 0, unpinned.stdout + unpinned.stderr
    assert f"no pinned root for {honest_url.url}: trusting the cached root" in unpinned.stderr
    assert f"pin it with --root-sha256 {pin}" in unpinned.stderr
    # A pin that matches nothing is refused and leaves the good cache as it was.
    wrong = _install(honest_url.url, cache, tmp_path / "d", "--root-sha256", "1" * 64)
    assert wrong.returncode != 0
    assert "not the pinned" in wrong.stderr
    anchor_file = _metadata_dir(cache, honest_url.url) / ANCHOR_FILE
    assert hashlib.sha256(anchor_file.read_bytes()).hexdigest() == pin


@pytest.mark.parametrize("gzip", [False, True])
def test_an_endless_first_root_is_cut(
    real: IndexServer, honest_url: Mirror, tmp_path: Path, gzip: bool
) -> None:
    """An endless ``1.root.json``: zeros (cut at ngclient's cap for a root, 512 KB), or a
    gzip header that decodes to nothing (cut at the same cap, which the fetcher also
    counts on encoded bytes: the most a root's bytes can take gzipped)."""
    honest_url.endless_metadata("1.root.json", gzip=gzip)
    result = _install(
        honest_url.url,
        tmp_path / "cache",
        tmp_path / "t",
        "--root-sha256",
        _pin(real),
        options=("--download-timeout", "3"),
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "larger than the 512000 bytes a root may have (endless data)" in output, output
    assert not (tmp_path / "t").exists()
