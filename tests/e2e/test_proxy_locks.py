"""Lock files made through ``tufpi proxy`` (``uv lock``, ``pip-compile``, ``poetry lock``)
come out byte-identical from one proxy start to the next, name the index they came from, and
hold the hashes the index signed: the proxy keeps its address and serves the index under a
path that names it (``/<index host:port>/simple/``)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from packaging.utils import parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

from tests.support.clients import clean_env
from tests.support.proxy import proxy, publish
from tests.support.server import IndexServer, free_port
from tests.support.tuf_client import updater
from tufpi.client.proxy import index_prefix

# What every lock must pick: lk-app 0.1 and the newest lk-lib, each as sdist and wheel.
PICKED = {"lk-app": Version("0.1"), "lk-lib": Version("1.1")}


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


def _run(command: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> None:
    result = subprocess.run(
        command,
        check=False,
        cwd=cwd,
        env=clean_env() if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=300,
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


def _poetry_env(cache: Path) -> dict[str, str]:
    """Poetry apart from this machine: no POETRY_* setting of its, configuration, cache and
    data under ``cache``, the environment it runs in rather than a virtualenv it would make,
    no keyring (no credential is asked for, and none may be looked up)."""
    env = {k: v for k, v in clean_env().items() if not k.startswith("POETRY_")}
    return {
        **env,
        "POETRY_CONFIG_DIR": str(cache / "config"),
        "POETRY_CACHE_DIR": str(cache / "cache"),
        "POETRY_DATA_DIR": str(cache / "data"),
        "POETRY_VIRTUALENVS_CREATE": "false",
        "POETRY_NO_INTERACTION": "1",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }


def _poetry_lock(work: Path, simple: str) -> Path:
    # A primary source: poetry then asks no other index, PyPI included.
    (work / "pyproject.toml").write_text(
        '[project]\nname = "lock-consumer"\nversion = "0.1"\nrequires-python = ">=3.11"\n'
        'dependencies = ["lk-app"]\n\n[tool.poetry]\npackage-mode = false\n\n'
        f'[[tool.poetry.source]]\nname = "tufpi"\nurl = "{simple}"\npriority = "primary"\n'
    )
    _run([sys.executable, "-m", "poetry", "lock"], work, _poetry_env(work / "cache"))
    return work / "poetry.lock"


def _lock_twice(
    index: IndexServer, root: Path, tmp_path: Path, lock: Callable[[Path, str], Path]
) -> tuple[str, str]:
    """``lock`` run through two starts of a proxy on one port, from scratch each time (no
    lock file, no installer cache); the proxy's named simple URL and the lock file, once
    both runs are shown to have written the same bytes."""
    port = free_port()
    named = f"http://127.0.0.1:{port}{index_prefix(index.url)}/simple/"
    assert named == f"http://127.0.0.1:{port}/{index.url.split('//')[1]}simple/"
    work = tmp_path / "work"
    work.mkdir()
    locks = []
    for start in ("first", "second"):
        log = tmp_path / f"proxy-{start}.log"
        cache = tmp_path / f"tufpi-cache-{start}"
        with proxy(index.url, cache, "--root", str(root), port=port, log=log):
            assert f"serving {named}" in log.read_text()
            made = lock(work, named)
        locks.append(made.read_bytes())
        # From scratch each time: no lock file, no installer cache.
        made.unlink()
        shutil.rmtree(work / "cache")
    assert locks[0] == locks[1]
    return named, locks[0].decode()


def _signed_sha256(index: IndexServer, tmp_path: Path) -> set[str]:
    """The sha256 the index's signed metadata gives each file of the releases in ``PICKED``
    (read with ngclient from the index itself, not through a proxy)."""
    client = updater(index, tmp_path, "signed")
    client.refresh()
    signed = set()
    for project, version in PICKED.items():
        page_url = f"{index.simple}{project}/"
        page = httpx.get(page_url, headers={"accept": "application/vnd.pypi.simple.v1+json"})
        for file in page.json()["files"]:
            name = file["filename"]
            parsed = parse_wheel_filename(name) if name.endswith(".whl") else None
            if (parsed or parse_sdist_filename(name))[1] != version:
                continue
            key = urljoin(page_url, file["url"]).partition("#")[0].removeprefix(index.url)
            info = client.get_targetinfo(key)
            assert info is not None, f"{key} is not a signed target"
            signed.add(info.hashes["sha256"])
    assert len(signed) == 2 * len(PICKED)  # an sdist and a wheel each
    return signed


def _hashes(text: str) -> set[str]:
    return set(re.findall(r"sha256:([0-9a-f]{64})", text))


@pytest.mark.parametrize("lock", [_uv_lock, _pip_compile], ids=["uv-lock", "pip-compile"])
def test_two_locks_on_two_proxy_starts_are_identical_and_name_the_index(
    index_server: IndexServer,
    root: Path,
    tmp_path: Path,
    lock: Callable[[Path, str], Path],
) -> None:
    named, text = _lock_twice(index_server, root, tmp_path, lock)
    assert named in text
    assert f"{named.removesuffix('simple/')}packages/" in text or "--index-url" in text
    assert "lk-lib" in text
    assert "1.1" in text
    assert _hashes(text) == _signed_sha256(index_server, tmp_path)


def test_two_poetry_locks_on_two_proxy_starts_are_identical_and_name_the_proxy_source(
    index_server: IndexServer, root: Path, tmp_path: Path
) -> None:
    named, text = _lock_twice(index_server, root, tmp_path, _poetry_lock)
    packages = tomllib.loads(text)["package"]
    assert {p["name"]: Version(p["version"]) for p in packages} == PICKED
    # Each package says where it came from: the proxy's named address (poetry drops the
    # trailing slash), under the source's name in pyproject.toml.
    source = {"type": "legacy", "url": named.removesuffix("/"), "reference": "tufpi"}
    assert [p["source"] for p in packages] == [source] * len(PICKED)
    locked = {f["hash"].removeprefix("sha256:") for p in packages for f in p["files"]}
    assert locked == _hashes(text) == _signed_sha256(index_server, tmp_path)
