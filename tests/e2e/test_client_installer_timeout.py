"""A slow file is reported by tufpi ("slow retrieval"), not by the installer's own timeout.

The proxy answers pip only once it has the file, verified, or has given up on it after
``--download-timeout`` seconds. While it waits pip sends nothing and receives nothing, so
pip's own read timeout (15 s by default) fired first whenever tufpi's deadline was longer
(60 s by default): the user read "Read timed out" (pip 26: "didn't respond within 15
seconds"), not why. ``tufpi install`` now gives pip
a timeout above tufpi's deadline (uv: ``UV_HTTP_TIMEOUT``).

The mirror trickles the file a byte every quarter second: never quiet long enough for a
read timeout of the proxy's own, endless enough for its deadline. The deadline here is 18 s,
just above pip's default, to keep the test short.
"""

from __future__ import annotations

import hashlib
import subprocess
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
from tufpi.client import installers

PROJECT = "slow-pkg"
DEADLINE = "18"  # seconds; pip's default --timeout is 15
_JSON = "application/vnd.pypi.simple.v1+json"
# How pip says its own timeout fired (older pips: "Read timed out"; pip 26: a
# "connection-timeout" error, "didn't respond within 15 seconds").
_PIP_TIMEOUT = ("Read timed out", "connection-timeout", "didn't respond within")


def _pip_timed_out(output: str) -> bool:
    return any(words in output for words in _PIP_TIMEOUT)


@pytest.fixture(scope="module")
def published(index_server: IndexServer, workdir: Path) -> tuple[Path, str]:
    """``slow-pkg 1.0`` published; the trusted root file and the wheel's filename."""
    token = index_server.new_user("slow")
    wheel = next(p for p in make_dists(workdir, PROJECT, "1.0") if p.suffix == ".whl")
    result = clients.twine_upload(index_server.url, token, [wheel])
    assert result.returncode == 0, result.stdout + result.stderr
    page = httpx.get(f"{index_server.simple}{PROJECT}/", headers={"accept": _JSON}).content
    sha256 = hashlib.sha256(page).hexdigest()
    wait_for_target(index_server, workdir, f"simple/{PROJECT}/index.json", sha256, timeout=60)
    root = workdir / "slow-1.root.json"
    root.write_bytes(first_root(index_server))
    return root, wheel.name


@pytest.fixture
def trickling(index_server: IndexServer, published: tuple[Path, str]) -> Iterator[Mirror]:
    with running(index_server.url) as mirror:
        mirror.trickle_file(published[1], interval=0.25)
        yield mirror


def _pip_args(target: Path) -> list[str]:
    return ["--retries", "0", "--target", str(target), PROJECT]


def test_pip_with_its_default_timeout_gives_up_first(
    published: tuple[Path, str], trickling: Mirror, tmp_path: Path
) -> None:
    """Before: pip run as ``tufpi install`` ran it (no ``--timeout``) against the proxy."""
    trust = ["--root", str(published[0]), "--download-timeout", DEADLINE]
    with proxy(trickling.url, tmp_path / "cache", *trust) as simple:
        old = installers.installer_command("pip", simple, _pip_args(tmp_path / "t"))
        assert "--timeout" not in old
        result = subprocess.run(
            old, env=clients.clean_env(), capture_output=True, text=True, check=False, timeout=120
        )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert _pip_timed_out(output), output
    assert "slow retrieval" not in output


def test_tufpi_names_the_slow_retrieval_before_pip_times_out(
    published: tuple[Path, str], trickling: Mirror, tmp_path: Path
) -> None:
    trust = ["--root", str(published[0]), "--download-timeout", DEADLINE]
    result = tufpi_install(trickling.url, tmp_path / "cache", trust, *_pip_args(tmp_path / "t"))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "slow retrieval" in output, output
    assert not _pip_timed_out(output), output
    assert not (tmp_path / "t").exists() or not any((tmp_path / "t").iterdir())
