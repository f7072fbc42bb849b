"""Lock files made through ``tufpi proxy`` come out byte-identical from one proxy start to
the next, and name the index they came from: the proxy keeps its address and serves the
index under a path that names it (``/<index host:port>/simple/``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.clients import clean_env
from tests.support.proxy import proxy, publish
from tests.support.server import IndexServer, free_port
from tufpi.client.proxy import index_prefix


@pytest.fixture(scope="module")
def database_url() -> None:
    """Locking through the proxy does not depend on the index's database: SQLite only."""
    return


@pytest.fixture(scope="module")
def root(index_server: IndexServer, workdir: Path) -> Path:
    releases = (
        ("lk-lib", "1.0", {}),
        ("lk-lib", "1.1", {}),
        ("lk-app", "0.1", {"dependencies": ["lk-lib>=1.0"]}),
    )
    return publish(index_server, workdir, "lock-user", releases)


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(
        command, check=False, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _uv_lock(work: Path, simple: str) -> Path:
    (work / "pyproject.toml").write_text(
        '[project]\nname = "lock-consumer"\nversion = "0.1"\nrequires-python = ">=3.11"\n'
        'dependencies = ["lk-app"]\n'
    )
    uv = [sys.executable, "-m", "uv", "lock", "--default-index", simple]
    _run([*uv, "--cache-dir", "cache", "--python", sys.executable], work)
    return work / "uv.lock"


def _pip_compile(work: Path, simple: str) -> Path:
    pytest.importorskip("piptools", reason="pip-tools is in the test extras")
    (work / "requirements.in").write_text("lk-app\n")
    compile_ = [sys.executable, "-m", "piptools", "compile", "--index-url", simple]
    _run([*compile_, "--cache-dir", "cache", "--generate-hashes", "requirements.in"], work)
    return work / "requirements.txt"


@pytest.mark.parametrize("lock", [_uv_lock, _pip_compile], ids=["uv-lock", "pip-compile"])
def test_two_locks_on_two_proxy_starts_are_identical_and_name_the_index(
    index_server: IndexServer,
    root: Path,
    tmp_path: Path,
    lock: Callable[[Path, str], Path],
) -> None:
    port = free_port()
    named = f"http://127.0.0.1:{port}{index_prefix(index_server.url)}/simple/"
    assert named == f"http://127.0.0.1:{port}/{index_server.url.split('//')[1]}simple/"
    work = tmp_path / "work"
    work.mkdir()
    locks = []
    for start in ("first", "second"):
        log = tmp_path / f"proxy-{start}.log"
        cache = tmp_path / f"tufpi-cache-{start}"
        with proxy(index_server.url, cache, "--root", str(root), port=port, log=log):
            assert f"serving {named}" in log.read_text()
            made = lock(work, named)
        locks.append(made.read_bytes())
        # From scratch each time: no lock file, no installer cache.
        made.unlink()
        shutil.rmtree(work / "cache")
    assert locks[0] == locks[1]
    text = locks[0].decode()
    assert named in text
    assert f"{named.removesuffix('simple/')}packages/" in text or "--index-url" in text
    assert "lk-lib" in text
    assert "1.1" in text
